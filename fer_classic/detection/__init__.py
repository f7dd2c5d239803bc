"""Finding, cropping, aligning and tracking faces in photos and video frames.

:class:`FaceCropper` turns any image into face crops of a model's geometry
(OpenCV's Haar cascade by default, YuNet when given its model file), and is
meant to be used alike on training images and at prediction time.
:class:`FaceTracker` follows faces across video frames.
"""

from ._align import MAX_TILT, eye_angle, find_eyes
from ._boxes import Face, iou
from ._cropper import CROP_FACTOR, FaceCropper
from ._haar import EYE_CASCADE, FRONTAL_FACE_CASCADE, HaarFaceDetector, load_cascade
from ._tracking import FaceTracker, Track
from ._yunet import YuNetFaceDetector

__all__ = [
    "CROP_FACTOR",
    "EYE_CASCADE",
    "FRONTAL_FACE_CASCADE",
    "MAX_TILT",
    "Face",
    "FaceCropper",
    "FaceTracker",
    "HaarFaceDetector",
    "Track",
    "YuNetFaceDetector",
    "eye_angle",
    "find_eyes",
    "iou",
    "load_cascade",
]
