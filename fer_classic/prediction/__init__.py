"""Predicting expressions on real photos, folders, videos and a webcam.

Every function crops faces with the model's :class:`~fer_classic.detection.FaceCropper`
(:func:`face_cropper_for`), so photos are framed like the training images,
and returns plain data: lists of dicts, one per face.
"""

from ._draw import draw_faces
from ._image import NO_FACE, predict_image
from ._model import (
    FACE_CROPPER_KEY,
    FACE_DETECTOR_DIGEST_KEY,
    classify_crops,
    face_cropper_for,
    loading_cropper,
    with_face_cropper,
)
from ._output import csv_columns, format_rows_table, rows_csv, write_rows_csv
from ._run import (
    PredictionRun,
    annotates_one_file,
    annotation_outputs,
    annotation_targets,
    expand_inputs,
    predict_paths,
)
from ._video import VIDEO_EXTENSIONS, FrameSearch, VideoPrediction, open_video_writer, predict_video
from ._webcam import display_problem, run_webcam

__all__ = [
    "FACE_CROPPER_KEY",
    "FACE_DETECTOR_DIGEST_KEY",
    "NO_FACE",
    "VIDEO_EXTENSIONS",
    "FrameSearch",
    "PredictionRun",
    "VideoPrediction",
    "annotates_one_file",
    "annotation_outputs",
    "annotation_targets",
    "classify_crops",
    "csv_columns",
    "display_problem",
    "draw_faces",
    "expand_inputs",
    "face_cropper_for",
    "loading_cropper",
    "format_rows_table",
    "open_video_writer",
    "predict_image",
    "predict_paths",
    "predict_video",
    "rows_csv",
    "run_webcam",
    "with_face_cropper",
    "write_rows_csv",
]
