"""Prediction on photos, folders and videos (fer_classic.prediction) and the `predict` command."""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from skimage.data import astronaut

from conftest import random_gray
from fer_classic import save_model
from fer_classic.cli import main
from fer_classic.detection import Face, FaceCropper, iou
from fer_classic.exceptions import (
    DegenerateImageWarning,
    DisplayUnavailableError,
    FaceDetectorError,
    ImageDecodeError,
    InputPathError,
    OutputPathError,
    ReportError,
    VideoDecodeError,
)
from fer_classic.prediction import (
    FrameSearch,
    classify_crops,
    csv_columns,
    display_problem,
    draw_faces,
    face_cropper_for,
    format_rows_table,
    open_video_writer,
    predict_image,
    predict_paths,
    predict_video,
    run_webcam,
    with_face_cropper,
)

ASTRONAUT_FACE = (177, 66, 95, 95)  # the Haar box at full resolution (see test_detection for the hand-marked one)
N_FRAMES = 12


def frame_offset(k: int) -> tuple[float, int]:
    """Scale and x offset of the astronaut in video frame ``k`` (face 76 to 86 px wide)."""
    return 0.8 + 0.01 * k, 8 - 4 * k


@pytest.fixture(scope="module")
def photo():
    return np.ascontiguousarray(astronaut()[..., ::-1])


@pytest.fixture(scope="module")
def files(tmp_path_factory, photo):
    """A photo, an image without a face, a corrupt image, a FER2013-sized crop and a video."""
    root = tmp_path_factory.mktemp("inputs")
    cv2.imwrite(str(root / "astronaut.jpg"), photo)
    cv2.imwrite(str(root / "wall.png"), np.full((240, 320, 3), 127, np.uint8))
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    cv2.imwrite(str(root / "crop.png"), random_gray((48, 48), seed=2))
    write_video(root / "clip.avi", photo)
    return root


def write_video(path, photo, size=(320, 240)):
    """The astronaut moving left and growing across N_FRAMES frames, Motion-JPEG in AVI."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    assert writer.isOpened(), "OpenCV cannot write MJPG/AVI here"
    for k in range(N_FRAMES):
        scale, x = frame_offset(k)
        small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        frame = np.full((size[1], size[0], 3), 127, np.uint8)
        part = small[: size[1], -x if x < 0 else 0 :][:, : size[0] - max(x, 0)]
        frame[: part.shape[0], max(x, 0) : max(x, 0) + part.shape[1]] = part
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, fitted_model):
    return save_model(fitted_model, tmp_path_factory.mktemp("model") / "m.joblib")


# -- predict_image -------------------------------------------------------------------------------

def test_photo_gives_the_face_box_label_and_scores(fitted_model, photo):
    row, = predict_image(fitted_model, photo)
    assert row["status"] == "ok" and row["detected"]
    assert iou(row["box"], ASTRONAUT_FACE) > 0.6
    assert row["label"] in fitted_model.classes and list(row["scores"]) == fitted_model.classes


def _cropper_finding(box):
    """A fitted cropper whose detector (a stub of YuNet) reports one face at ``box`` in any image."""
    import threading

    from fer_classic.detection._yunet import YuNetFaceDetector

    class Net:
        def setInputSize(self, size):
            pass

        def detect(self, image):
            return 1, np.array([[*box, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.95]], np.float32)

    detector = YuNetFaceDetector.__new__(YuNetFaceDetector)
    detector.model_file, detector._lock, detector._net = "stub.onnx", threading.Lock(), Net()
    cropper = FaceCropper(detect=True, min_face_size=10).fit()  # searched at full size: the stub's box as it is
    cropper._detector = detector
    return cropper


def test_a_face_past_the_images_edge_is_reported_clipped_to_the_image(fitted_model):
    # YuNet's box of a face whose left 40 and top 10 px lie outside the 300x300 image
    row, = predict_image(fitted_model, np.zeros((300, 300), np.uint8), cropper=_cropper_finding((-40, -10, 100, 100)))
    assert row["box"] == [0, 0, 60, 90]


def test_predict_paths_reports_a_face_past_the_edge_clipped_to_the_image(fitted_model, tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((300, 300), np.uint8))
    run = predict_paths(fitted_model, tmp_path / "a.png", cropper=_cropper_finding((250, 260, 100, 100)))
    assert run.rows[0]["box"] == [250, 260, 50, 40]


def test_image_file_is_named_by_its_path(fitted_model, files):
    row, = predict_image(fitted_model, files / "astronaut.jpg")
    assert row["source"] == str(files / "astronaut.jpg")


def test_no_face_is_a_result_not_an_exception(fitted_model, files):
    assert predict_image(fitted_model, files / "wall.png") == [{"source": str(files / "wall.png"),
                                                                "status": "no face"}]


def test_corrupt_file_raises_a_decode_error(fitted_model, files):
    with pytest.raises(ImageDecodeError, match="corrupt.jpg"):
        predict_image(fitted_model, files / "corrupt.jpg")


def test_face_crops_are_predicted_as_the_training_images_were(fitted_model, tiny_faces):
    image = tiny_faces.images[0]
    row, = predict_image(fitted_model, image)
    assert not row["detected"] and row["box"] == [0, 0, 48, 48]
    assert row["label"] == fitted_model.predict(image[None])[0]


def _without_source(rows):
    return [{k: v for k, v in row.items() if k != "source"} for row in rows]


@pytest.mark.parametrize("mode, as_array", [
    ("RGB", lambda pil: np.asarray(pil)[..., ::-1]),
    ("RGBA", lambda pil: np.asarray(pil)[..., [2, 1, 0, 3]]),
    ("L", np.asarray),
])
def test_a_pil_image_is_predicted_as_its_pixels_array(fitted_model, photo, mode, as_array):
    from PIL import Image

    pil = Image.fromarray(np.ascontiguousarray(photo[..., ::-1])).convert(mode)
    rows = predict_image(fitted_model, pil)
    assert {row["source"] for row in rows} == {"<PIL image>"} and rows[0]["status"] == "ok"
    assert _without_source(rows) == _without_source(predict_image(fitted_model, np.ascontiguousarray(as_array(pil))))


def test_a_pil_image_opened_from_a_file_is_predicted_as_the_file(fitted_model, photo, tmp_path):
    from PIL import Image

    cv2.imwrite(str(tmp_path / "face.png"), photo)
    with Image.open(tmp_path / "face.png") as pil:
        rows = predict_image(fitted_model, pil)
    assert _without_source(rows) == _without_source(predict_image(fitted_model, tmp_path / "face.png"))


@pytest.mark.parametrize("image, given", [
    (random_gray((48, 48)).tolist(), "list"),
    ((b"\xff\xd8",), "tuple"),
    (b"photo.jpg", "bytes"),
    (None, "NoneType"),
])
def test_what_is_no_image_is_a_type_error_naming_what_is_accepted(fitted_model, image, given):
    with pytest.raises(TypeError, match=rf"^image must be a path \(str or os\.PathLike\), a NumPy array \(gray, BGR "
                                        rf"or BGRA, as cv2\.imread returns\) or a PIL image; got {given}\."):
        predict_image(fitted_model, image)


def test_classify_crops_matches_predict_and_scores(fitted_model, tiny_faces):
    labels, kind, scores = classify_crops(fitted_model, tiny_faces.images[:5])
    np.testing.assert_array_equal(labels, fitted_model.predict(tiny_faces.images[:5]))
    expected_kind, expected = fitted_model.scores(tiny_faces.images[:5])
    assert kind == expected_kind
    np.testing.assert_allclose(scores, expected)


# -- the model's cropper -----------------------------------------------------------------------------

def test_models_without_a_cropper_get_the_default_one(fitted_model):
    assert face_cropper_for(fitted_model).get_params() == FaceCropper().get_params()


def test_a_stored_cropper_survives_saving(tmp_path, fitted_model):
    from fer_classic import load_model

    stored = with_face_cropper(fitted_model, FaceCropper(margin=0.2, align=True))
    loaded = load_model(save_model(stored, tmp_path / "m.joblib"))
    cropper = face_cropper_for(loaded)
    assert (cropper.margin, cropper.align) == (0.2, True)


def test_a_cropper_of_another_geometry_is_refused(fitted_model):
    with pytest.raises(FaceDetectorError, match="64x64 crops but the model takes 48x48"):
        with_face_cropper(fitted_model, FaceCropper(output_shape=64))


@pytest.mark.parametrize("predict", [
    lambda model, files, cropper: predict_image(model, files / "astronaut.jpg", cropper=cropper),
    lambda model, files, cropper: predict_paths(model, [files / "astronaut.jpg"], cropper=cropper),
    lambda model, files, cropper: predict_video(model, files / "clip.avi", cropper=cropper),
    lambda model, files, cropper: predict_paths(model, [files / "crop.png"], cropper_params={"output_shape": 64}),
], ids=["predict_image", "predict_paths", "predict_video", "cropper_params"])
def test_a_cropper_of_another_geometry_is_refused_before_any_crop(fitted_model, files, monkeypatch, predict):
    # It failed only at the first batch (after up to 256 crops, or a video), with advice about load_dataset.
    cropper = FaceCropper(output_shape=64).fit()
    monkeypatch.setattr(FaceCropper, "crop_faces", lambda *args, **kwargs: pytest.fail("cropped"))
    with pytest.raises(FaceDetectorError, match=r"64x64 crops but the model takes 48x48 images; pass output_shape="):
        predict(fitted_model, files, cropper)


# -- predict_video -------------------------------------------------------------------------------------

def test_video_gives_one_track_and_a_label_for_every_sampled_frame(fitted_model, files):
    video = predict_video(fitted_model, files / "clip.avi")
    assert video.n_frames == N_FRAMES and len(video.rows) == N_FRAMES
    assert [r["frame"] for r in video.rows] == list(range(N_FRAMES))
    assert all(r["status"] == "ok" and r["label"] in fitted_model.classes for r in video.rows)
    assert {r["track"] for r in video.rows} == {1} and len(video.tracks) == 1
    assert video.tracks[0]["n_frames"] == N_FRAMES and video.tracks[0]["label"] in fitted_model.classes


def test_video_boxes_follow_the_moving_face(fitted_model, files):
    for row in predict_video(fitted_model, files / "clip.avi").rows:
        scale, x = frame_offset(row["frame"])
        expected = (x + ASTRONAUT_FACE[0] * scale, ASTRONAUT_FACE[1] * scale, *(v * scale for v in ASTRONAUT_FACE[2:]))
        assert iou(row["box"], expected) > 0.5, row["frame"]


@pytest.mark.parametrize("every, frames", [(3, [0, 3, 6, 9]), (5, [0, 5, 10])])
def test_every_nth_frame_is_analysed(fitted_model, files, every, frames):
    video = predict_video(fitted_model, files / "clip.avi", every=every)
    assert [r["frame"] for r in video.rows] == frames and video.n_frames == N_FRAMES
    assert [r["time_s"] for r in video.rows] == [f / 10 for f in frames]


def test_annotated_video_keeps_every_frame(tmp_path, fitted_model, files):
    out = predict_video(fitted_model, files / "clip.avi", every=4, annotate=tmp_path / "out.avi").annotated
    capture = cv2.VideoCapture(str(out))
    n = 0
    while capture.read()[0]:
        n += 1
    assert n == N_FRAMES


def _frames_of(path) -> int:
    capture = cv2.VideoCapture(str(path))
    n = 0
    while capture.read()[0]:
        n += 1
    capture.release()
    return n


@pytest.mark.parametrize("suffix", [".avi", ".mp4", ".mpg", ".mpeg", ".webm"])
def test_an_annotated_copy_of_each_video_suffix_reads_back_every_frame(tmp_path, fitted_model, files, suffix):
    if suffix == ".webm":
        probe = cv2.VideoWriter(str(tmp_path / "probe.webm"), cv2.VideoWriter_fourcc(*"VP80"), 10.0, (16, 16))
        if not probe.isOpened():
            pytest.skip("this OpenCV build writes no VP8")
        probe.release()
    out = predict_video(fitted_model, files / "clip.avi", every=6, annotate=tmp_path / f"out{suffix}").annotated
    assert _frames_of(out) == N_FRAMES


def _copies_read_back_no_frame(monkeypatch):
    """Make every annotated video copy read back as no frame, as some builds read Motion-JPEG in .mpg."""
    real = cv2.VideoCapture

    class Unreadable:
        def isOpened(self):  # noqa: N802 (OpenCV's name)
            return True

        def read(self):
            return False, None

        def release(self):
            pass

    # Only the copy (written under a temporary name starting with ".") reads as no frame; the input plays.
    monkeypatch.setattr(cv2, "VideoCapture", lambda path, *a: Unreadable() if Path(str(path)).name.startswith(".")
                        else real(path, *a))


def test_an_annotated_copy_opencv_cannot_read_back_is_an_error_and_no_file(tmp_path, fitted_model, files,
                                                                           monkeypatch):
    _copies_read_back_no_frame(monkeypatch)
    out = tmp_path / "a.mpg"
    out.write_bytes(b"last run's copy")
    with pytest.raises(OutputPathError, match=r"--annotate .*a\.mpg: OpenCV wrote a \.mpg video it cannot read "
                                              r"back .*give a name ending in \.avi"):
        predict_video(fitted_model, files / "clip.avi", every=6, annotate=out)
    assert out.read_bytes() == b"last run's copy" and [p.name for p in tmp_path.iterdir()] == ["a.mpg"]


def test_an_avi_copy_opencv_cannot_read_back_suggests_mp4_not_avi_again(tmp_path, fitted_model, files, monkeypatch):
    _copies_read_back_no_frame(monkeypatch)
    with pytest.raises(OutputPathError, match=r"a\.avi: OpenCV wrote a \.avi video it cannot read back .*; give a "
                                              r"name ending in \.mp4 instead\.$"):
        predict_video(fitted_model, files / "clip.avi", every=6, annotate=tmp_path / "a.avi")


def _declaring_fps(monkeypatch, fps):
    """Make every video declare ``fps`` in its header, as a broken one may."""
    real = cv2.VideoCapture

    class Declaring:
        def __init__(self, *args):
            self._capture = real(*args)

        def get(self, prop):
            return fps if prop == cv2.CAP_PROP_FPS else self._capture.get(prop)

        def __getattr__(self, name):
            return getattr(self._capture, name)

    monkeypatch.setattr(cv2, "VideoCapture", Declaring)


@pytest.mark.parametrize("declared, fps", [(4.66e-10, None), (2.1e9, None), (-5.0, None), (float("nan"), None),
                                           (0.1, 0.1), (1000.0, 1000.0)])
def test_an_implausible_declared_frame_rate_is_taken_as_unknown_and_warned(fitted_model, files, monkeypatch,
                                                                           declared, fps):
    _declaring_fps(monkeypatch, declared)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        video = predict_video(fitted_model, files / "clip.avi", every=6)
    said = [str(w.message) for w in caught if "frames per second" in str(w.message)]
    assert video.fps == fps
    assert [r["time_s"] for r in video.rows] == [None if fps is None else round(f / fps, 3) for f in (0, 6)]
    assert len(said) == (fps is None) and all(str(files / "clip.avi") in m for m in said)


@pytest.mark.parametrize("declared", [4.66e-10, 2.1e9])
def test_the_annotated_copy_of_a_video_of_implausible_frame_rate_is_written_at_25_fps(tmp_path, fitted_model, files,
                                                                                      monkeypatch, declared):
    real = cv2.VideoCapture
    _declaring_fps(monkeypatch, declared)
    with pytest.warns(UserWarning, match="annotated copy is written at 25 fps"):
        out = predict_video(fitted_model, files / "clip.avi", every=6, annotate=tmp_path / "out.avi").annotated
    copy = real(str(out))
    assert copy.get(cv2.CAP_PROP_FPS) == 25.0
    copy.release()


@pytest.fixture
def own_clip(tmp_path, files):
    """A copy of the video in a folder of its own, beside a photo: what an annotated copy must never replace."""
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(files / "clip.avi", folder / "clip.avi")
    shutil.copy(files / "astronaut.jpg", folder / "photo.bmp")
    return folder / "clip.avi"


def _no_frame_read(monkeypatch):
    def never(*args):
        raise AssertionError("the video was opened before the annotated copy was checked")

    monkeypatch.setattr(cv2, "VideoCapture", never)


@pytest.mark.parametrize("annotate", [
    lambda clip: clip,
    lambda clip: str(clip),
    lambda clip: clip.parent / ".." / clip.parent.name / clip.name,
])
def test_predict_video_never_annotates_over_its_own_video(fitted_model, own_clip, monkeypatch, annotate):
    before = own_clip.read_bytes()
    _no_frame_read(monkeypatch)
    with pytest.raises(OutputPathError, match=r"--annotate .*clip\.avi is an input of this command"):
        predict_video(fitted_model, own_clip, annotate=annotate(own_clip))
    assert own_clip.read_bytes() == before


@pytest.mark.parametrize("name, kind", [("photo.bmp", "an image suffix"), ("new.png", "an image suffix"),
                                        ("out", "no suffix"), ("out.txt", "the suffix '.txt'")])
def test_predict_video_refuses_an_annotate_name_without_a_video_suffix(fitted_model, own_clip, monkeypatch, name,
                                                                       kind):
    before = {p: p.read_bytes() for p in own_clip.parent.iterdir()}
    _no_frame_read(monkeypatch)
    with pytest.raises(OutputPathError, match=rf"--annotate .*{re.escape(name)}: the input .*clip\.avi is a video, "
                                              rf"so its annotated copy needs a video file name \(.*\), not {kind}; "
                                              r"give a name ending in \.avi"):
        predict_video(fitted_model, own_clip, annotate=own_clip.parent / name)
    assert {p: p.read_bytes() for p in own_clip.parent.iterdir()} == before


def test_cli_and_predict_video_refuse_an_image_annotate_with_one_message(runner, model_file, fitted_model,
                                                                         own_clip):
    target = own_clip.parent / "photo.bmp"
    with pytest.raises(OutputPathError) as raised:
        predict_video(fitted_model, own_clip, annotate=target)
    result = runner.invoke(main, ["predict", str(model_file), str(own_clip), "--annotate", str(target)])
    assert result.exit_code != 0 and str(raised.value) in " ".join(result.output.split()), result.output


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_an_interrupted_annotated_video_leaves_the_file_there_untouched(fitted_model, own_clip, monkeypatch,
                                                                        error):
    out = own_clip.parent / "out.avi"
    out.write_bytes(b"last run's copy")
    drawn = []

    def draw_then_stop(frame, rows):
        drawn.append(frame)
        if len(drawn) == 3:
            raise error
        return frame

    monkeypatch.setattr("fer_classic.prediction._video.draw_faces", draw_then_stop)
    with pytest.raises(error):
        predict_video(fitted_model, own_clip, annotate=out)
    assert out.read_bytes() == b"last run's copy"
    assert sorted(p.name for p in own_clip.parent.iterdir()) == ["clip.avi", "out.avi", "photo.bmp"]


def test_a_timeline_that_cannot_be_written_after_the_work_keeps_the_results(tmp_path, fitted_model, files,
                                                                            monkeypatch):
    def full_disk(path, text):
        raise OSError(28, "No space left on device", str(tmp_path / ".t.csv.1234.tmp"))

    monkeypatch.setattr("fer_classic.prediction._run.atomic_write_text", full_disk)
    with pytest.warns(UserWarning, match=r"--timeline .*t.csv could not be written \(No space left on device\)"):
        run = predict_paths(fitted_model, [files / "clip.avi"], every=4, timeline=tmp_path / "t.csv")
    assert run.timeline is None and [row["frame"] for row in run.rows] == [0, 4, 8]


def test_cli_prints_the_results_and_exits_1_when_the_timeline_was_not_written(tmp_path, model_file, files,
                                                                              monkeypatch):
    monkeypatch.setattr("fer_classic.prediction._run.atomic_write_text",
                        lambda *a: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    result = CliRunner().invoke(main, ["predict", str(model_file), str(files / "clip.avi"), "--every", "4",
                                       "--timeline", str(tmp_path / "t.csv")])
    assert result.exit_code == 1 and "track 1 of" in result.stdout
    assert "could not be written (No space left on device)" in result.stderr


def test_timeline_csv_has_a_line_per_sampled_face(tmp_path, fitted_model, files):
    path = predict_video(fitted_model, files / "clip.avi", every=2).to_csv(tmp_path / "t.csv")
    with open(path, newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert len(lines) == N_FRAMES // 2 and list(lines[0]) == csv_columns(fitted_model.classes)
    assert {line["track"] for line in lines} == {"1"} and all(line["smoothed_label"] for line in lines)


@pytest.mark.parametrize("name, content", [("empty.avi", b""), ("junk.mp4", b"not a video at all")])
def test_unreadable_video_raises_a_decode_error(tmp_path, fitted_model, name, content):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(VideoDecodeError, match=name):
        predict_video(fitted_model, tmp_path / name)


@pytest.mark.parametrize("kept, warned", [(1.0, False), (0.5, True)])
def test_a_video_cut_short_of_its_declared_frames_is_warned(tmp_path, fitted_model, files, kept, warned):
    whole = (files / "clip.avi").read_bytes()
    (tmp_path / "cut.avi").write_bytes(whole[: int(len(whole) * kept)])
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        video = predict_video(fitted_model, tmp_path / "cut.avi")
    messages = [str(w.message) for w in record if "decoding stopped" in str(w.message)]
    assert messages == ([f"{tmp_path / 'cut.avi'}: decoding stopped at frame {video.n_frames} of the {N_FRAMES} its "
                         "header declares (a truncated or corrupt file); the results cover those frames only."]
                        if warned else [])
    assert (video.n_frames < N_FRAMES) == warned


@pytest.mark.parametrize("every", [0, 1.5, "2"])
def test_invalid_frame_step_is_named(fitted_model, files, every):
    with pytest.raises(ValueError, match="every must be an int >= 1"):
        predict_video(fitted_model, files / "clip.avi", every=every)


class ScriptedCropper:
    """Stands in for FaceCropper: returns scripted face counts and records where it was asked to search."""

    def __init__(self, counts):
        self.counts, self.searches = list(counts), []

    def crop_faces(self, frame, near=None):
        self.searches.append("full" if near is None else "near")
        return [(Face((10 * i, 0, 10, 10)), None) for i in range(self.counts.pop(0))]


@pytest.mark.parametrize("counts, redetect_every, n_frames, searches", [
    ([1, 1, 1, 1, 1], 3, 5, ["full", "near", "near", "full", "near"]),      # full every 3rd frame
    ([1, 1, 0, 1, 1], 10, 4, ["full", "near", "near", "full", "near"]),     # lost near: full on that frame
    ([0, 0, 2, 1, 1, 2], 10, 5, ["full", "full", "full", "near", "full", "near"]),  # one of two lost
    ([1, 1, 1], 1, 3, ["full", "full", "full"]),
])
def test_frame_search_plan(counts, redetect_every, n_frames, searches):
    cropper = ScriptedCropper(counts)
    search = FrameSearch(cropper, redetect_every)
    for _ in range(n_frames):
        search.crop_faces(None)
    assert cropper.searches == searches


# -- predict_paths ------------------------------------------------------------------------------------

def test_mixed_inputs_report_each_item_in_order(fitted_model, files):
    names = ["astronaut.jpg", "wall.png", "corrupt.jpg", "crop.png"]
    run = predict_paths(fitted_model, [files / n for n in names])
    assert [(r["source"], r["status"]) for r in run.rows] == [
        (str(files / n), s) for n, s in zip(names, ["ok", "no face", "error", "ok"])
    ]
    assert (run.n_inputs, run.failed) == (4, 1)


def test_a_detection_failure_is_that_files_error_row(fitted_model, files):
    # An OpenCV failure on one image ended the whole run ("unexpected error"), the other results lost.
    from fer_classic.detection import HaarFaceDetector

    cropper = FaceCropper().fit()
    cropper._detector = HaarFaceDetector(scale_factor=1.0000001)  # fails in OpenCV on any searched image
    run = predict_paths(fitted_model, [files / "wall.png", files / "crop.png"], cropper=cropper)
    assert [r["status"] for r in run.rows] == ["error", "ok"] and run.failed == 1
    assert run.rows[0]["error"].startswith(f"{files / 'wall.png'}: face detection failed: The Haar cascade failed")


@pytest.mark.parametrize("shape, warned", [((1, 1), True), ((90, 2), True), ((48, 48), False)])
def test_an_image_too_tiny_or_thin_for_a_face_is_warned_as_the_loaders_do(tmp_path, fitted_model, shape, warned):
    path = tmp_path / "tiny.png"
    cv2.imwrite(str(path), np.full(shape, 90, np.uint8))
    for predict in (predict_paths, predict_image):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            predict(fitted_model, [path] if predict is predict_paths else path)
        messages = [str(w.message) for w in record if issubclass(w.category, DegenerateImageWarning)]
        expected = f"{path} ({shape[1]}x{shape[0]} stretched to 48x48)"
        assert [expected in m for m in messages] == ([True] if warned else []), messages


@pytest.mark.parametrize("rows, kind", [
    ([{"source": "a.png", "status": "no face"}], "score"),
    ([{"source": "a.png", "status": "ok", "box": [0, 0, 4, 4], "label": "happy", "score_kind": "decision",
       "scores": {"happy": 1.0, "sad": -1.0}}], "decision"),
])
def test_the_table_names_the_kind_of_scores_only_when_it_shows_some(rows, kind):
    assert format_rows_table(rows, ["happy", "sad"]).splitlines()[0].endswith(f"({kind} per class)")


@pytest.mark.parametrize("source", ["new\nline.png", "esc\x1b[2Jape.png", "bad\udcff.png"])
def test_the_table_shows_a_hostile_file_name_on_its_row(source):
    # A newline split the row in two; a terminal escape sequence reached the terminal.
    rows = [{"source": source, "status": "no face"}, {"source": "b.png", "status": "no face"}]
    lines = format_rows_table(rows, ["happy", "sad"]).splitlines()
    assert len(lines) == 3 and lines[1].isprintable() and lines[2].endswith("b.png")


def test_folders_are_searched_for_images_and_videos(fitted_model, files):
    run = predict_paths(fitted_model, [files], every=4)
    assert run.n_inputs == 5 and len(run.tracks) == 1


@pytest.mark.parametrize("make", ["dangling link", "fifo"])
def test_a_folders_media_names_that_are_no_files_get_their_error_rows(tmp_path, fitted_model, make):
    cv2.imwrite(str(tmp_path / "face.png"), random_gray((48, 48)))
    if make == "fifo":
        if not hasattr(os, "mkfifo"):
            pytest.skip("POSIX FIFOs")
        os.mkfifo(tmp_path / "odd.png")
    else:
        (tmp_path / "odd.png").symlink_to(tmp_path / "gone.png")
    run = predict_paths(fitted_model, [tmp_path])
    assert run.n_inputs == 2 and run.failed == 1
    assert [r["status"] for r in run.rows if r["source"].endswith("odd.png")] == ["error"]


@pytest.mark.parametrize("as_given", [str, Path, os.fsencode], ids=["str", "PathLike", "bytes"])
def test_one_path_alone_is_one_input_not_its_characters(fitted_model, files, monkeypatch, as_given):
    monkeypatch.chdir(files)  # a relative name: its "." would have been this folder, searched
    run = predict_paths(fitted_model, as_given("crop.png"))
    assert run.n_inputs == 1 and run.failed == 0 and {r["source"] for r in run.rows} == {"crop.png"}


@pytest.mark.parametrize("inputs", ["", [""], ["crop.png", ""]], ids=["alone", "listed", "among others"])
def test_an_empty_input_is_refused_not_the_current_folder(fitted_model, files, monkeypatch, inputs):
    # Path("") is Path("."): an unset "$DIR" predicted on (and --annotate copied) the whole current folder.
    monkeypatch.chdir(files)
    with pytest.raises(InputPathError, match=r"INPUT '' is empty; give a file or folder"):
        predict_paths(fitted_model, inputs)


def test_a_file_given_twice_is_predicted_and_annotated_once(tmp_path, fitted_model, files):
    # The copy was astro-2.png only, with both inputs' boxes drawn on it.
    with pytest.warns(UserWarning, match=r"1 input file\(s\) given more than once are predicted once: .*crop.png"):
        run = predict_paths(fitted_model, [files / "crop.png", files / "crop.png"], annotate=tmp_path / "out")
    assert run.n_inputs == 1 and len(run.rows) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".fer-classic-copies.jsonl", "crop.png"]


def test_a_file_given_twice_is_warned_of_on_workers_too(fitted_model, files, monkeypatch):
    from fer_classic import _distributed, _fileio

    class Stop(Exception):
        pass

    def stop(*args, **kwargs):
        raise Stop  # the outputs' check, before any worker: the warning came before it or not at all

    monkeypatch.setattr(_fileio, "check_outputs", stop)
    with pytest.warns(UserWarning, match=r"1 input file\(s\) given more than once"), pytest.raises(Stop):
        _distributed.predict_paths_chunked(fitted_model, [files / "crop.png", files / "crop.png"])


@pytest.mark.parametrize("as_given", [str, Path], ids=["str", "PathLike"])
def test_annotation_targets_of_one_path_alone(files, as_given):
    from fer_classic.prediction import annotation_targets

    clip = files / "clip.avi"
    assert annotation_targets(as_given(clip), "out.avi") == {clip: Path("out.avi")}


def test_annotating_a_folder_writes_one_copy_per_readable_input(tmp_path, fitted_model, files):
    run = predict_paths(fitted_model, [files], every=4, annotate=tmp_path / "out")
    assert sorted(p.name for p in run.annotated) == ["astronaut.jpg", "clip.avi", "crop.png", "wall.png"]
    drawn = cv2.imread(str(tmp_path / "out" / "astronaut.jpg"))
    assert drawn.shape == (512, 512, 3)


def test_a_video_copy_in_an_annotate_folder_that_cannot_be_read_back_is_its_error_row(tmp_path, fitted_model, files,
                                                                                      monkeypatch):
    _copies_read_back_no_frame(monkeypatch)
    run = predict_paths(fitted_model, [files], every=4, annotate=tmp_path / "out")
    assert {row["source"] for row in run.rows if row["status"] == "ok"} >= {str(files / "astronaut.jpg")}
    [error] = [row["error"] for row in run.rows if row["source"] == str(files / "clip.avi")]
    assert re.search(r"clip\.avi: its annotated copy was not written: --annotate .*out/clip\.avi: OpenCV wrote a "
                     r"\.avi video it cannot read back .*--annotate clip\.mp4", error), error
    assert run.not_annotated == [tmp_path / "out" / "clip.avi"] and run.failed == 1  # corrupt.jpg: read, not failed
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        ".fer-classic-copies.jsonl", "astronaut.jpg", "crop.png", "wall.png"]


def test_a_video_copy_in_an_annotate_folder_on_a_full_disk_is_not_told_to_try_another_suffix(
        tmp_path, fitted_model, files, monkeypatch):
    _copies_read_back_no_frame(monkeypatch)
    usage = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(path)._replace(free=0))
    run = predict_paths(fitted_model, [files / "clip.avi"], every=4, annotate=tmp_path / "out")
    [error] = [row["error"] for row in run.rows if row["status"] == "error"]
    assert "no space left" in error and ".mp4" not in error, error


@pytest.mark.parametrize("suffix", [".pgm", ".pbm"])
def test_annotating_a_folder_gives_an_image_opencv_cannot_write_in_colour_a_png_copy(tmp_path, fitted_model,
                                                                                     suffix):
    (tmp_path / "in").mkdir()
    assert cv2.imwrite(str(tmp_path / "in" / f"b{suffix}"), random_gray((48, 48), seed=3))
    run = predict_paths(fitted_model, [tmp_path / "in"], annotate=tmp_path / "out")
    assert run.failed == 0 and run.annotated == [tmp_path / "out" / "b.png"]
    assert cv2.imread(str(tmp_path / "out" / "b.png")).shape == (48, 48, 3)


@pytest.mark.parametrize("suffix", [".pgm", ".pbm"])
def test_a_renamed_annotated_copy_never_takes_the_name_of_an_inputs_own_copy(tmp_path, suffix):
    from fer_classic.prediction import annotation_targets

    b_gray, b_png = tmp_path / f"b{suffix}", tmp_path / "b.png"  # sorted: b.pbm and b.pgm come first
    assert annotation_targets([b_gray, b_png], tmp_path / "out") == {b_gray: tmp_path / "out" / "b-2.png",
                                                                     b_png: tmp_path / "out" / "b.png"}


@pytest.mark.parametrize("name", ["one.pgm", "one.PBM"])
def test_one_annotated_image_opencv_cannot_write_in_colour_is_refused_before_any_work(fitted_model, files,
                                                                                      monkeypatch, tmp_path, name):
    def never(*args):
        raise AssertionError("the image was read before its annotated copy was checked")

    monkeypatch.setattr("fer_classic.prediction._run.load_image", never)
    with pytest.raises(ReportError, match=rf"--annotate .*{name}: OpenCV cannot write an annotated \(colour\) "
                                          rf"image as '{name[-4:]}'; give a name ending in \.png or \.jpg"):
        predict_paths(fitted_model, [files / "astronaut.jpg"], annotate=tmp_path / name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("inputs, annotate, message", [
    (["astronaut.jpg", "wall.png"], "one.png", "is one file but 2 inputs"),
    (["clip.avi"], "one.png", "needs a video"),
    (["astronaut.jpg"], "astronaut.jpg", "is an input of this command"),
])
def test_annotate_target_is_checked_before_any_work(fitted_model, files, inputs, annotate, message):
    from fer_classic.exceptions import FerClassicError

    target = files / annotate if annotate == inputs[0] else annotate
    with pytest.raises(FerClassicError, match=message):
        predict_paths(fitted_model, [files / n for n in inputs], annotate=target)


def test_rerunning_an_annotate_folder_replaces_its_own_copies(tmp_path, fitted_model, files):
    inputs = [files / "astronaut.jpg", files / "clip.avi"]
    predict_paths(fitted_model, inputs, every=6, annotate=tmp_path / "out")
    run = predict_paths(fitted_model, inputs, every=6, annotate=tmp_path / "out")
    assert run.annotated == [tmp_path / "out" / "astronaut.jpg", tmp_path / "out" / "clip.avi"]
    assert len((tmp_path / "out" / ".fer-classic-copies.jsonl").read_text().splitlines()) == 2  # not one per run


def test_a_run_cut_short_leaves_copies_its_rerun_replaces(tmp_path, fitted_model, files, monkeypatch):
    from fer_classic.prediction import _run

    write = _run._write_image

    def interrupted_at_the_second(path, image):
        if path.name == "crop.png":
            raise KeyboardInterrupt
        write(path, image)

    monkeypatch.setattr(_run, "_write_image", interrupted_at_the_second)
    inputs = [files / "astronaut.jpg", files / "crop.png"]
    with pytest.raises(KeyboardInterrupt):
        predict_paths(fitted_model, inputs, annotate=tmp_path / "out")
    monkeypatch.setattr(_run, "_write_image", write)
    assert predict_paths(fitted_model, inputs, annotate=tmp_path / "out").not_annotated == []


def test_a_copy_changed_since_it_was_written_is_never_replaced(tmp_path, fitted_model, files):
    inputs = [files / "astronaut.jpg", files / "crop.png"]
    predict_paths(fitted_model, inputs, annotate=tmp_path / "out")
    (tmp_path / "out" / "crop.png").write_text("the user's own file now")
    with pytest.raises(ReportError, match=rf"1 file\(s\) there would be replaced by annotated copies: "
                                          rf"{re.escape(str(tmp_path / 'out' / 'crop.png'))}; .*copies an earlier "
                                          r"predict wrote there, listed in its \.fer-classic-copies\.jsonl, are "
                                          r"replaced"):
        predict_paths(fitted_model, inputs, annotate=tmp_path / "out")
    assert (tmp_path / "out" / "crop.png").read_text() == "the user's own file now"


def test_a_copies_manifest_linked_to_a_users_file_is_never_written_through(tmp_path, fitted_model, files):
    victim = tmp_path / "notes.txt"
    victim.write_text("mine\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".fer-classic-copies.jsonl").symlink_to(victim)
    with pytest.warns(UserWarning, match=r"could not be listed in its \.fer-classic-copies\.jsonl .*a rerun will "
                                         r"refuse to replace them"):
        predict_paths(fitted_model, [files / "crop.png"], annotate=tmp_path / "out")
    assert victim.read_text() == "mine\n" and (tmp_path / "out" / ".fer-classic-copies.jsonl").is_symlink()


def test_the_copies_manifest_is_checked_as_an_output(tmp_path, fitted_model, files):
    with pytest.raises(OutputPathError, match=r"--timeline and --annotate \(\.fer-classic-copies\.jsonl\) both name"):
        predict_paths(fitted_model, [files / "clip.avi"], annotate=tmp_path / "out",
                      timeline=tmp_path / "out" / ".fer-classic-copies.jsonl")


def test_a_file_moved_over_a_copy_keeping_its_size_and_times_is_never_replaced(tmp_path, fitted_model, files):
    inputs = [files / "crop.png"]
    predict_paths(fitted_model, inputs, annotate=tmp_path / "out")
    copy = tmp_path / "out" / "crop.png"
    own = tmp_path / "own.png"  # the user's file, as `cp -p` or `mv` would bring it: same size and mtime
    own.write_bytes(b"u" * copy.stat().st_size)
    os.utime(own, ns=(copy.stat().st_atime_ns, copy.stat().st_mtime_ns))
    os.replace(own, copy)
    with pytest.raises(ReportError, match=r"1 file\(s\) there would be replaced"):
        predict_paths(fitted_model, inputs, annotate=tmp_path / "out")
    assert copy.read_bytes() == b"u" * copy.stat().st_size


def test_a_copies_manifest_line_of_the_older_form_is_refused(tmp_path, fitted_model, files):
    (tmp_path / "out").mkdir()
    copy = tmp_path / "out" / "crop.png"
    copy.write_text("the user's own file")
    found = copy.stat()
    (tmp_path / "out" / ".fer-classic-copies.jsonl").write_text(
        json.dumps({"name": "crop.png", "stamp": [found.st_size, found.st_mtime_ns]}) + "\n")
    with pytest.raises(ReportError, match=r"1 file\(s\) there would be replaced"):
        predict_paths(fitted_model, [files / "crop.png"], annotate=tmp_path / "out")


def _disk_full_for(monkeypatch, folder, files):
    """A photo ``full.png`` in ``folder`` whose annotated copy meets a full disk (Linux: /proc names the fd)."""
    import errno

    shutil.copyfile(files / "crop.png", folder / "full.png")
    fsync = os.fsync

    def failing(fd):
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".full.png."):
            raise OSError(errno.ENOSPC, "No space left on device")
        fsync(fd)

    monkeypatch.setattr(os, "fsync", failing)
    return folder / "full.png"


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc/self/fd")


@needs_proc
def test_an_image_copy_that_cannot_be_written_is_its_error_row_and_the_other_results_stay(tmp_path, fitted_model,
                                                                                          files, monkeypatch):
    full = _disk_full_for(monkeypatch, tmp_path, files)
    run = predict_paths(fitted_model, [full, files / "astronaut.jpg"], annotate=tmp_path / "out")
    assert [(row["source"], row["status"]) for row in run.rows] == [
        (str(full), "ok"), (str(full), "error"), (str(files / "astronaut.jpg"), "ok")]
    assert run.rows[1]["error"] == (f"{full}: its annotated copy was not written: No space left on device "
                                    f"({tmp_path / 'out' / 'full.png'})")
    assert run.not_annotated == [tmp_path / "out" / "full.png"] and run.failed == 0
    assert run.annotated == [tmp_path / "out" / "astronaut.jpg"]
    # Nothing half-written left; the copy written is listed for a rerun to replace.
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".fer-classic-copies.jsonl", "astronaut.jpg"]


@needs_proc
def test_cli_prints_every_result_and_exits_1_when_an_image_copy_was_not_written(runner, tmp_path, model_file, files,
                                                                                monkeypatch):
    full = _disk_full_for(monkeypatch, tmp_path, files)
    result = runner.invoke(main, ["predict", str(model_file), str(full), str(files / "astronaut.jpg"), "--format",
                                  "csv", "--annotate", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "astronaut.jpg" in result.stdout and "No space left on device" in result.stdout
    assert "annotated copy not written" in result.stderr


@pytest.fixture
def own_cascade(tmp_path):
    """A copy of OpenCV's frontal-face cascade, given as the detector's model file."""
    cascade = tmp_path / "cascade.xml"
    shutil.copyfile(Path(cv2.data.haarcascades) / "haarcascade_frontalface_alt2.xml", cascade)
    return cascade


def test_no_output_replaces_the_detectors_model_file(fitted_model, files, own_cascade):
    before = own_cascade.read_bytes()
    with pytest.raises(OutputPathError, match=rf"--timeline {re.escape(str(own_cascade))} is an input of this command "
                                              rf"\(the Haar cascade {re.escape(str(own_cascade))}\)"):
        predict_paths(fitted_model, [files / "clip.avi"], timeline=own_cascade,
                      cropper_params={"detector_model": str(own_cascade)})
    assert own_cascade.read_bytes() == before


def test_a_video_copy_never_replaces_the_detectors_model_file(fitted_model, files, own_cascade, monkeypatch):
    _no_frame_read(monkeypatch)
    link = own_cascade.with_name("cascade.avi")  # a video name that leads to the cascade
    link.symlink_to(own_cascade)
    cropper = face_cropper_for(fitted_model, detector_model=str(own_cascade), fallback="none")
    with pytest.raises(OutputPathError, match=r"is an input of this command \(the Haar cascade .*cascade\.xml\)"):
        predict_video(fitted_model, files / "clip.avi", annotate=link, cropper=cropper)
    assert link.is_symlink()


def test_draw_faces_leaves_the_input_untouched(photo):
    before = photo.copy()
    drawn = draw_faces(photo, [{"status": "ok", "box": [177, 66, 95, 95], "label": "happy"}])
    np.testing.assert_array_equal(photo, before)
    assert (drawn != photo).any()


def _text_pixels(box, shape=(300, 300)):
    """Pixels of the label's text (white, anti-aliased: blue > 0 on a black image, the box being green)."""
    canvas = draw_faces(np.zeros(shape, np.uint8), [{"status": "ok", "box": box, "label": "surprise"}])
    return int((canvas[..., 0] > 0).sum())


def test_a_label_at_the_images_right_edge_is_drawn_whole_inside_it():
    assert _text_pixels([270, 100, 30, 30]) == _text_pixels([100, 100, 30, 30]) > 0


def test_a_label_of_a_box_filling_the_image_is_drawn_inside_it():
    # Neither above the box nor below it fits: it went below, off the image
    assert _text_pixels([0, 0, 300, 300]) > 0


def test_webcam_explains_why_it_cannot_run_here(fitted_model):
    if display_problem() is None:
        pytest.skip("this machine can open windows")
    with pytest.raises(DisplayUnavailableError, match="pip install 'opencv-python"):
        run_webcam(fitted_model)


# -- the `predict` command ------------------------------------------------------------------------------

@pytest.fixture
def runner():
    return CliRunner()


def _uint32_tiff(path):
    assert cv2.imwrite(str(path), np.zeros((8, 8), np.float32))  # a TIFF; its sample format made "unsigned"
    data = bytearray(path.read_bytes())
    tag = data.find(bytes([0x53, 0x01, 3, 0, 1, 0, 0, 0, 3]))  # SampleFormat (339), SHORT, 1 value: 3 (float)
    assert tag > 0
    data[tag + 8] = 1  # unsigned integers: 32-bit ones OpenCV's TIFF reader refuses
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name, make, noise", [
    ("broken.mp4", lambda p: p.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(3000)), "moov"),  # no index
    ("u32.tiff", _uint32_tiff, "imdecode_"),
])
def test_cli_leaves_opencvs_own_lines_out_of_its_report(tmp_path, model_file, name, make, noise):
    make(tmp_path / name)
    command = [sys.executable, "-c", "from fer_classic.cli import run; run()", "predict", str(model_file),
               str(tmp_path / name)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert f"ERROR     {tmp_path / name}: " in result.stdout
    assert noise not in result.stderr, result.stderr


def test_cli_reports_no_face_and_corrupt_files_and_exits_zero(runner, model_file, files):
    result = runner.invoke(main, ["predict", str(model_file), str(files / "astronaut.jpg"),
                                  str(files / "wall.png"), str(files / "corrupt.jpg")])
    assert result.exit_code == 0, result.output
    assert "no face" in result.stdout and "ERROR" in result.stdout
    assert "1 of 3 files could not be read" in result.stderr


def test_cli_fails_when_nothing_could_be_read(runner, model_file, files):
    result = runner.invoke(main, ["predict", str(model_file), str(files / "corrupt.jpg")])
    assert result.exit_code == 1 and "1 of 1 files could not be read" in result.stderr


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc, a folder that refuses new files")
def test_cli_refuses_an_annotated_video_where_no_file_can_be_made(runner, monkeypatch, model_file, files):
    # As root, /proc passes the permission check (os.access says yes): so for every user here.
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: True)
    result = runner.invoke(main, ["predict", str(model_file), str(files / "clip.avi"), "--annotate",
                                  "/proc/fer-classic-test.avi"])
    assert result.exit_code == 1
    assert "/proc/fer-classic-test.avi: the folder /proc does not accept new files (" in result.output
    assert "could not be read" not in result.output and "ERROR" not in result.output  # the input is not blamed


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc, a folder that refuses new files")
def test_a_video_writer_where_no_file_can_be_made_names_annotate():
    with pytest.raises(OutputPathError, match=r"--annotate /proc/fer-classic-test\.avi: the video cannot be "
                                              r"written there \("):
        open_video_writer("/proc/fer-classic-test.avi", 10.0, (48, 48))


def test_a_video_suffix_opencv_cannot_write_names_annotate_and_suggests_avi(monkeypatch, tmp_path, fitted_model,
                                                                            files):
    class Refusing:  # an OpenCV build without any writer for the suffix
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoWriter", Refusing)
    with pytest.raises(OutputPathError, match=r"--annotate .*a\.mp4: OpenCV cannot write this video \(tried codecs "
                                              r"mp4v, MJPG\); give an \.avi name instead"):
        predict_paths(fitted_model, [files / "clip.avi"], annotate=tmp_path / "a.mp4")
    assert list(tmp_path.iterdir()) == []  # nor the probe of the folder


def test_cli_prints_the_other_results_and_exits_1_when_a_folder_video_copy_cannot_be_read_back(
        runner, tmp_path, model_file, files, monkeypatch):
    _copies_read_back_no_frame(monkeypatch)
    result = runner.invoke(main, ["predict", str(model_file), str(files), "--every", "4", "--annotate",
                                  str(tmp_path / "out")])
    assert result.exit_code == 1
    assert str(files / "astronaut.jpg") in result.stdout and "OpenCV wrote a .avi video it cannot" in result.stdout
    assert f"annotated copy not written: {tmp_path / 'out' / 'clip.avi'}" in result.stderr
    assert f"annotated: {tmp_path / 'out' / 'astronaut.jpg'}" in result.stderr


def test_cli_video_writes_timeline_and_annotated_video(runner, tmp_path, model_file, files):
    result = runner.invoke(main, ["predict", str(model_file), str(files / "clip.avi"), "--every", "3",
                                  "--timeline", str(tmp_path / "t.csv"), "--annotate", str(tmp_path / "a.avi"),
                                  "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [r["frame"] for r in summary["results"]] == [0, 3, 6, 9] and len(summary["tracks"]) == 1
    assert (tmp_path / "t.csv").is_file() and (tmp_path / "a.avi").is_file()


def test_cli_csv_has_a_line_per_face_with_box_and_class_scores(runner, model_file, files):
    result = runner.invoke(main, ["predict", str(model_file), str(files / "astronaut.jpg"), "--format", "csv"])
    line, = csv.DictReader(io.StringIO(result.stdout))
    assert list(line)[:3] == ["source", "label", "score_kind"] and line["status"] == "ok"
    assert iou([int(line[k]) for k in ("x", "y", "width", "height")], ASTRONAUT_FACE) > 0.6
    assert all(line[c] for c in json.loads(json.dumps(list(line)[3:10])))


@pytest.mark.parametrize("args, message", [
    ([], "Give INPUT files"),
    (["x.jpg", "--webcam"], "give no INPUT files"),
    (["--webcam", "1"], "pip install 'opencv-python"),
    (["x.jpg", "--yunet", "/no/such/yunet.onnx"], "/no/such/yunet.onnx does not exist"),
])
def test_cli_errors_are_clean(runner, model_file, args, message):
    if args[:1] == ["--webcam"] and display_problem() is None:
        pytest.skip("this machine can open windows")
    result = runner.invoke(main, ["predict", str(model_file), *args])
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args, named", [
    (["--annotate", "out.avi"], "--annotate does nothing with --webcam"),
    (["--timeline", "t.csv"], "--timeline does nothing"),
    (["--format", "json"], "--format does nothing"),
    (["--annotate", "o.avi", "--format", "csv"], "--annotate/--format do nothing"),
    (["--scheduler", "tcp://127.0.0.1:9"], "not with --scheduler tcp://127.0.0.1:9"),
])
def test_cli_webcam_refuses_the_outputs_it_does_not_write(runner, tmp_path, args, named, monkeypatch):
    import fer_classic.prediction as prediction

    monkeypatch.setattr(prediction, "run_webcam", lambda *a, **k: pytest.fail("the camera was opened"))
    result = runner.invoke(main, ["predict", str(tmp_path / "m.joblib"), "--webcam", "0", *args])
    assert result.exit_code == 2 and named in result.output and "Traceback" not in result.output


def test_cli_webcam_takes_the_default_format_given_explicitly(runner, model_file, monkeypatch):
    import fer_classic.prediction as prediction

    monkeypatch.setattr(prediction, "run_webcam", lambda *a, **k: 3)
    result = runner.invoke(main, ["predict", str(model_file), "--webcam", "0", "--format", "table"])
    assert result.exit_code == 0 and "3 frames shown" in result.output


def test_folders_are_listed_by_the_loaders_rule(tmp_path):
    from fer_classic.prediction import expand_inputs

    for name in ["a.jpg", ".hidden.jpg", "._a.jpg", ".thumbs/t.jpg", "__MACOSX/m.jpg", "sub/deeper/d.jpg"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub" / "loop").symlink_to(tmp_path)
    paths = expand_inputs([tmp_path])
    assert paths == [tmp_path / "a.jpg", tmp_path / "sub" / "deeper" / "d.jpg"]  # as evaluate/fit list them


def test_linked_folders_inside_the_input_folders_are_warned_of(tmp_path, fitted_model):
    from fer_classic.exceptions import SkippedFilesWarning

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((48, 48), np.uint8))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "loop").symlink_to(tmp_path)
    with pytest.warns(SkippedFilesWarning, match=r"1 linked folder\(s\) .*not entered.*sub/loop"):
        run = predict_paths(fitted_model, [tmp_path])
    assert [row["source"] for row in run.rows] == [str(tmp_path / "a.png")]


def test_table_keeps_a_space_between_a_four_digit_box_and_the_source():
    row = {"status": "ok", "label": "happy", "scores": {"happy": 1.0, "sad": 0.0}, "box": [2731, 1025, 1531, 1531],
           "source": "/p/big.jpg", "score_kind": "decision"}
    assert "2731,1025,1531,1531 /p/big.jpg" in format_rows_table([row], ["happy", "sad"])


def test_the_annotate_manifest_is_not_made_executable(tmp_path):
    from fer_classic.prediction._run import COPIES_MANIFEST, _open_manifest

    old = os.umask(0o022)
    try:
        os.close(_open_manifest(tmp_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT))
    finally:
        os.umask(old)
    assert (tmp_path / COPIES_MANIFEST).stat().st_mode & 0o777 == 0o644  # 0o755 with os.open's default mode


def test_predict_video_takes_a_bytes_path_as_predict_paths_does(fitted_model):
    from fer_classic.exceptions import VideoDecodeError

    with pytest.raises(VideoDecodeError, match="/no/such/clip.avi: cannot be opened"):
        predict_video(fitted_model, b"/no/such/clip.avi")  # pathlib's TypeError named no parameter


def test_predict_video_names_its_path_parameter_for_what_is_no_path(fitted_model):
    with pytest.raises(TypeError, match="path must be a video file's path"):
        predict_video(fitted_model, 3)


def test_prediction_csv_names_a_formula_like_file_as_text():
    from fer_classic.prediction import rows_csv

    text = rows_csv([{"source": "=1+2_0.png", "status": "no face"}], ["happy"])
    assert text.splitlines()[1].startswith("'=1+2_0.png,")  # a spreadsheet ran it as a formula


def test_cli_names_an_annotated_copy_on_one_line(runner, tmp_path, model_file, files):
    import shutil

    photo = tmp_path / "in" / "a\nb.jpg"  # its name's newline split the 'annotated:' line in two
    photo.parent.mkdir()
    shutil.copy(files / "astronaut.jpg", photo)
    result = runner.invoke(main, ["predict", str(model_file), str(photo), "--annotate", str(tmp_path / "out")])
    assert f"annotated: {tmp_path / 'out'}/a\\nb.jpg\n" in result.stderr


@pytest.mark.parametrize("suffix, colour", [(".png", True), (".pgm", False)])
def test_writes_in_colour_silences_opencv_without_its_logging_module(monkeypatch, suffix, colour):
    """OpenCV before 4.13 has no cv2.utils.logging (AttributeError on every --annotate), only cv2.setLogLevel."""
    from fer_classic.prediction._run import writes_in_colour

    levels = [3]
    monkeypatch.delattr(cv2.utils, "logging", raising=False)
    monkeypatch.setattr(cv2, "getLogLevel", lambda: levels[-1], raising=False)
    monkeypatch.setattr(cv2, "setLogLevel", levels.append, raising=False)
    writes_in_colour.cache_clear()
    try:
        assert writes_in_colour(suffix) is colour
    finally:
        writes_in_colour.cache_clear()
    assert levels == [3, 0, 3]  # silent while trying, then the caller's level again
