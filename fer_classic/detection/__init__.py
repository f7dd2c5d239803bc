"""Finding, cropping, aligning and tracking faces in photos and video frames.

:class:`FaceCropper` turns any image into face crops of a model's geometry
(OpenCV's Haar cascade by default, YuNet when given its model file), and is
meant to be used alike on training images and at prediction time; each face
tells how it was taken (:attr:`Face.how`: ``found``, ``crop`` or ``whole image``).
:class:`FaceTracker` follows faces across video frames.
"""

from ._align import MAX_TILT, eye_angle, find_eyes
from ._boxes import CROP, FOUND, WHOLE_IMAGE, Face, clip_box, iou, suppress_overlaps
from ._cropper import CROP_FACTOR, PAD_FRACTION, PORTRAIT_ASPECT, WHOLE_ASPECT, WHOLE_FACTOR, FaceCropper
from ._haar import EYE_CASCADE, FRONTAL_FACE_CASCADE, HaarFaceDetector, load_cascade
from ._tracking import FaceTracker, Track
from ._yunet import YuNetFaceDetector

__all__ = [
    "CROP",
    "CROP_FACTOR",
    "EYE_CASCADE",
    "FOUND",
    "FRONTAL_FACE_CASCADE",
    "MAX_TILT",
    "PAD_FRACTION",
    "PORTRAIT_ASPECT",
    "WHOLE_ASPECT",
    "WHOLE_FACTOR",
    "WHOLE_IMAGE",
    "Face",
    "FaceCropper",
    "FaceTracker",
    "HaarFaceDetector",
    "Track",
    "YuNetFaceDetector",
    "clip_box",
    "eye_angle",
    "find_eyes",
    "iou",
    "load_cascade",
    "suppress_overlaps",
]
