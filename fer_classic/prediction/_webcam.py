"""A live webcam window with the expression of every face (needs OpenCV with GUI support and a display)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

import cv2

from ..detection import FaceCropper, FaceTracker
from ..exceptions import DisplayUnavailableError, VideoDecodeError
from ..persistence import FERModel
from ._draw import draw_faces
from ._image import face_rows
from ._model import check_cropper, face_cropper_for
from ._video import FrameSearch, check_every, track_rows

__all__ = ["display_problem", "run_webcam"]

_WINDOW = "fer-classic (q or Esc quits)"


def display_problem() -> str | None:
    """Why OpenCV cannot open a window here, or None when it can.

    Returns
    -------
    str or None
        The reason; None when a window can open.
    """
    if re.search(r"^\s*GUI:\s*NONE\s*$", cv2.getBuildInformation(), re.MULTILINE):
        return f"the installed OpenCV ({cv2.__version__}) is built without GUI support (opencv-python-headless)"
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
    return None


def run_webcam(
    model: FERModel,
    index: int = 0,
    *,
    every: int = 1,
    cropper: FaceCropper | None = None,
    cropper_params: Mapping | None = None,
    redetect_every: int = 10,
) -> int:
    """Show camera ``index`` live with boxes and smoothed labels, until q or Esc is pressed.

    It cannot run headless: fer-classic depends on ``opencv-python-headless``,
    which has no windows. On a machine with a display and a camera, replace
    it with ``pip uninstall opencv-python-headless && pip install
    'opencv-python>=4.8,<5'``. Elsewhere predict on a recorded video
    (:func:`predict_video`, with ``annotate=``).

    Parameters
    ----------
    model : FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model``.
    index : int, default=0
        OpenCV camera index.
    every : int, default=1
        Analyse every Nth frame (the others show the last result).
    cropper : FaceCropper, optional
        Default: the one the model records.
    cropper_params : mapping, optional
        Without ``cropper``: parameters changed on the model's cropper
        (``detect``, ``faces``, ``detector``, ``detector_model``).
    redetect_every : int, default=10
        Search the whole frame every Nth analysed frame, in between only
        around the faces found (see :func:`predict_video`).

    Returns
    -------
    int
        Frames shown.

    Raises
    ------
    DisplayUnavailableError
        If OpenCV cannot open a window here (headless build, no display).
    VideoDecodeError
        If camera ``index`` cannot be opened.
    """
    every = check_every(every)
    problem = display_problem()
    if problem:
        raise DisplayUnavailableError(
            f"--webcam needs a window, but {problem}. On a machine with a display: "
            "pip uninstall opencv-python-headless && pip install 'opencv-python>=4.8,<5'. "
            "Headless, predict on a recorded video instead (fer-classic predict MODEL clip.mp4 --annotate out.avi)."
        )
    # Camera frames are never taken whole when no face is found (fallback="none").
    search = FrameSearch(check_cropper(model, cropper) if cropper is not None
                         else face_cropper_for(model, **{**dict(cropper_params or {}), "fallback": "none"}),
                         redetect_every)
    capture = cv2.VideoCapture(int(index))
    if not capture.isOpened():
        raise VideoDecodeError(f"Camera {index} cannot be opened; check it is connected, or try another index.")
    tracker, last, shown = FaceTracker(), [], 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if shown % every == 0:
                base = {"source": f"camera {index}", "frame": shown}
                last = face_rows(model, [(base, search.crop_faces(frame), frame.shape)])
                track_rows(tracker, shown, last, model.classes)
            cv2.imshow(_WINDOW, draw_faces(frame, last))
            shown += 1
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27) or cv2.getWindowProperty(_WINDOW, cv2.WND_PROP_VISIBLE) < 1:
                break
    finally:
        capture.release()
        cv2.destroyAllWindows()
    return shown
