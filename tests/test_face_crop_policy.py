"""One road from a picture to a model input: loaders, fit, evaluate and predict cut faces the same way."""

from __future__ import annotations

import json
from pathlib import Path
import re
import shutil
import warnings

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from skimage.data import astronaut

from fer_classic.cli import main
from fer_classic.data import load_dataset, load_folder, load_labels_file
from fer_classic.data._images import FaceSource, read_images
from fer_classic.detection import FaceCropper
from fer_classic.evaluation import compare_models
from fer_classic.exceptions import FaceDetectorError, ImageSizeError, SkippedFilesWarning
from fer_classic.persistence import FERModel, load_model, save_model
from fer_classic.prediction import FACE_CROPPER_KEY, loading_cropper, predict_paths
from fer_classic.workflow import evaluate_model, fit_model

# Photos larger than 96 px (so detect="auto" searches them) showing the astronaut's face.
_REGION = (slice(0, 320), slice(60, 380))
_PHOTOS = [(side, flip, gain) for side in (200, 240, 280) for flip in (False, True) for gain in (0.7, 1.0)]


def _photo(side: int, flip: bool, gain: float) -> np.ndarray:
    region = np.ascontiguousarray(astronaut()[..., ::-1])[_REGION]
    image = cv2.resize(region, (side, side), interpolation=cv2.INTER_AREA)
    image = image[:, ::-1] if flip else image
    return np.clip(image * gain, 0, 255).astype(np.uint8)


def _wall() -> np.ndarray:
    # Wide and faceless: searched, no face, and too elongated to be taken whole.
    return np.full((200, 320, 3), 90, dtype=np.uint8)


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """ROOT/train|test/happy|sad/*.png: 12 astronaut photos (200-280 px) per split."""
    root = tmp_path_factory.mktemp("photos")
    for split in ("train", "test"):
        for i, params in enumerate(_PHOTOS):
            label = "happy" if i % 2 else "sad"
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            image = _photo(*params)
            if split == "test":
                image = cv2.GaussianBlur(image, (3, 3), 0)  # not a copy of a training photo
            cv2.imwrite(str(folder / f"{split}{i:02d}.png"), image)
    return root


@pytest.fixture(scope="module")
def auto_model(photo_folder) -> FERModel:
    return fit_model(photo_folder, features="hog", clf="logreg").model


def _predicted_per_source(model: FERModel, paths) -> dict[str, str]:
    """``predict``'s label of the largest face in each file."""
    rows = [r for r in predict_paths(model, paths).rows if r["status"] == "ok"]
    best: dict[str, dict] = {}
    for row in rows:
        area = row["box"][2] * row["box"][3]
        if row["source"] not in best or area > best[row["source"]]["box"][2] * best[row["source"]]["box"][3]:
            best[row["source"]] = row
    return {source: row["label"] for source, row in best.items()}


# --------------------------------------------------------------------------- loaders


def test_loader_keeps_the_largest_face_crop(photo_folder):
    cropper = FaceCropper(output_shape=(48, 48)).fit()
    data = load_folder(photo_folder, cropper=cropper)
    expected = []
    for source in data.sources:
        found = cropper.crop_faces(cv2.imread(str(source), cv2.IMREAD_UNCHANGED))
        expected.append(max(found, key=lambda pair: pair[0].area)[1])
    np.testing.assert_array_equal(data.images, np.stack(expected))


@pytest.mark.parametrize("loader", [load_folder, load_dataset])
def test_no_cropper_and_detect_false_both_resize_whole_images(photo_folder, loader):
    whole = loader(photo_folder)
    np.testing.assert_array_equal(whole.images, loader(photo_folder, cropper=FaceCropper(detect=False)).images)


def test_crops_differ_from_whole_images(photo_folder):
    # The test photos are not face crops: searching them must change the model inputs.
    whole = load_folder(photo_folder).images
    cropped = load_folder(photo_folder, cropper=FaceCropper()).images
    assert whole.shape == cropped.shape and not np.array_equal(whole, cropped)


def test_image_without_a_face_is_skipped_and_named(tmp_path):
    for label, image in [("happy", _photo(240, False, 1.0)), ("sad", _photo(280, True, 1.0))]:
        (tmp_path / label).mkdir()
        cv2.imwrite(str(tmp_path / label / "face.png"), image)
    cv2.imwrite(str(tmp_path / "sad" / "wall.png"), _wall())
    with pytest.warns(SkippedFilesWarning, match="wall.png"):
        data = load_folder(tmp_path, cropper=FaceCropper())
    assert len(data) == 2
    (path, reason), = data.skipped
    assert path == str(tmp_path / "sad" / "wall.png") and reason.startswith("no face")


def test_labels_file_rows_go_through_the_cropper(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), _photo(240, False, 1.0))
    cv2.imwrite(str(tmp_path / "wall.png"), _wall())
    (tmp_path / "labels.csv").write_text("image,label\na.png,happy\nwall.png,sad\n")
    with pytest.warns(SkippedFilesWarning, match="wall.png"):
        data = load_labels_file(tmp_path / "labels.csv", cropper=FaceCropper())
    assert list(data.labels) == ["happy"] and data.skipped[0][1].startswith("no face")


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_threads_give_the_same_crops(tmp_path, n_jobs):
    # 70 files: above the 64 at which read_images starts its thread pool.
    paths = []
    for i in range(70):
        paths.append(tmp_path / f"{i:02d}.png")
        cv2.imwrite(str(paths[-1]), _photo(*_PHOTOS[i % len(_PHOTOS)]))
    images, ok, _, _ = read_images(paths, (48, 48), n_jobs=n_jobs, cropper=FaceCropper())
    assert ok.all()
    for i in range(len(_PHOTOS)):
        np.testing.assert_array_equal(images[i], images[i + len(_PHOTOS)])


def test_cropper_of_another_geometry_is_refused_before_reading():
    with pytest.raises(ImageSizeError, match=r"output_shape=\(48, 48\)"):
        FaceSource((48, 48), FaceCropper(output_shape=(64, 64)))


# --------------------------------------------------------------------------- fit records the policy


@pytest.mark.parametrize(("crop", "detect"), [("auto", "auto"), ("detect", True), ("none", False)])
def test_fit_records_the_crop_policy(photo_folder, crop, detect):
    model = fit_model(photo_folder, features="pixels", clf="logreg", crop=crop, margin=0.1, align=True).model
    stored = model.metadata[FACE_CROPPER_KEY]
    expected = (detect, 0.1, True, [48, 48])
    assert (stored["detect"], stored["margin"], stored["align"], stored["output_shape"]) == expected


def test_unknown_crop_policy_is_refused(photo_folder):
    with pytest.raises(FaceDetectorError, match="--crop"):
        fit_model(photo_folder, crop="faces")


def test_crop_none_model_loads_whole_images(photo_folder):
    model = fit_model(photo_folder, features="pixels", clf="logreg", crop="none").model
    np.testing.assert_array_equal(load_folder(photo_folder, cropper=loading_cropper(model)).images,
                                  load_folder(photo_folder).images)


def test_model_without_recorded_cropper_loads_whole_images(auto_model):
    old = FERModel(pipeline=auto_model.pipeline,
                   metadata={k: v for k, v in auto_model.metadata.items() if k != FACE_CROPPER_KEY})
    assert loading_cropper(old) is None


def _python_model(data) -> FERModel:
    """The README's Python road: load_dataset -> make_pipeline -> FERModel.from_fitted."""
    from fer_classic import make_pipeline

    return FERModel.from_fitted(make_pipeline("pixels", "logreg").fit(data.X, data.y), data, features="pixels",
                                clf="logreg")


@pytest.fixture(scope="module")
def whole_photos_model(photo_folder):
    data = load_folder(photo_folder / "train")
    return data, _python_model(data)


def test_from_fitted_records_whole_images_for_files_loaded_without_a_cropper(whole_photos_model):
    _, model = whole_photos_model
    assert model.metadata[FACE_CROPPER_KEY]["detect"] is False


def test_predict_cuts_photos_whole_for_a_model_trained_on_whole_images(whole_photos_model):
    # as the model was trained (and as evaluate loads it)
    data, model = whole_photos_model
    rows = predict_paths(model, [str(s) for s in data.sources[:2]]).rows
    assert [r["label"] for r in rows] == list(model.predict(data.images[:2]))
    assert [r["box"] for r in rows] == [[0, 0, 200, 200]] * 2


def test_from_fitted_records_the_default_crop_for_face_crop_files(folder_dataset):
    # 48x48 face files (FER2013's class folders, the README's Python road) read alike whole or by the default
    # crop: recording whole images made predict squeeze whole photos.
    stored = _python_model(load_folder(folder_dataset)).metadata[FACE_CROPPER_KEY]
    assert (stored["detect"], stored["output_shape"]) == ("auto", [48, 48])


def test_fit_model_of_a_dataset_loaded_with_a_cropper_records_that_cropper(photo_folder):
    # The dataset did not say how it was cut, so the model recorded another policy.
    cropper = FaceCropper(detect=True, margin=0.1).fit()
    data = load_dataset(photo_folder / "train", cropper=cropper)
    model = fit_model(data, features="pixels", clf="logreg").model
    assert loading_cropper(model).get_params() == cropper.get_params()


def test_from_fitted_records_the_default_crop_for_face_crops():
    from fer_classic.data import make_synthetic_faces

    model = _python_model(make_synthetic_faces(4, 0, size=32, random_state=0))
    stored = model.metadata[FACE_CROPPER_KEY]
    assert (stored["detect"], stored["output_shape"]) == ("auto", [32, 32])


def test_from_fitted_records_the_cropper_given(photo_folder):
    from fer_classic import make_pipeline

    cropper = FaceCropper(detect=True, margin=0.1).fit()
    data = load_folder(photo_folder / "train", cropper=cropper)
    model = FERModel.from_fitted(make_pipeline("pixels", "logreg").fit(data.X, data.y), data, features="pixels",
                                 clf="logreg", face_cropper=cropper)
    assert loading_cropper(model).get_params() == cropper.get_params()


# --------------------------------------------------------------------------- every command, one road


def test_evaluate_and_predict_agree_on_every_photo(photo_folder, auto_model):
    data = load_dataset(photo_folder, size=auto_model.image_shape, cropper=loading_cropper(auto_model))
    loaded = dict(zip(data.sources, auto_model.predict(data.images)))
    predicted = _predicted_per_source(auto_model, list(data.sources))
    assert predicted == loaded
    # evaluate_model scores exactly those predictions
    result = evaluate_model(auto_model, photo_folder, split=None)
    truth = dict(zip(data.sources, data.labels))
    assert result.metrics["accuracy"] == pytest.approx(np.mean([predicted[s] == truth[s] for s in truth]))


def test_compare_loads_each_models_own_crops(photo_folder, auto_model):
    whole = fit_model(photo_folder, features="hog", clf="logreg", crop="none").model
    comparison = compare_models({"auto": auto_model, "none": whole}, photo_folder, split=None)
    for name, model in [("auto", auto_model), ("none", whole)]:
        row, = [r for r in comparison.rows if r["model"] == name]
        assert row["accuracy"] == pytest.approx(evaluate_model(model, photo_folder, split=None).metrics["accuracy"])


# --------------------------------------------------------------------------- command line


def test_cli_fit_records_crop_options(photo_folder, tmp_path):
    out = tmp_path / "model.joblib"
    result = CliRunner().invoke(main, ["fit", "--data", str(photo_folder), "--features", "pixels", "--clf",
                                       "logreg", "--crop", "detect", "--margin", "0.2", "--align", "--out",
                                       str(out), "--json"])
    assert result.exit_code == 0, result.output
    stored = load_model(out).metadata[FACE_CROPPER_KEY]
    assert (stored["detect"], stored["margin"], stored["align"]) == (True, 0.2, True)


def test_cli_evaluate_and_predict_agree(photo_folder, auto_model, tmp_path):
    path = save_model(auto_model, tmp_path / "auto.joblib")
    runner = CliRunner()
    evaluated = runner.invoke(main, ["evaluate", str(path), "--data", str(photo_folder), "--split", "all",
                                     "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    data = load_dataset(photo_folder, cropper=loading_cropper(auto_model))
    predicted = _predicted_per_source(auto_model, list(data.sources))
    accuracy = np.mean([predicted[s] == label for s, label in zip(data.sources, data.labels)])
    assert json.loads(evaluated.output.strip().splitlines()[-1])["accuracy"] == pytest.approx(accuracy)


@pytest.mark.parametrize("command", ["fit", "search"])
def test_crop_options_are_in_the_help(command):
    result = CliRunner().invoke(main, [command, "--help"])
    assert all(option in result.output for option in ("--crop", "--margin", "--align"))


def test_warnings_are_not_raised_for_clean_photos(photo_folder):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SkippedFilesWarning)
        load_folder(photo_folder, cropper=FaceCropper())


# --------------------------------------------------------------------------- predict overrides of the recorded crop


@pytest.mark.parametrize(("crop", "detect", "warned"), [
    ("none", "always", "--detect always \\(its training images: fit --crop none"),
    ("detect", "never", "--detect never \\(its training images: fit --crop detect"),
    ("detect", "auto", "--detect auto"),
    ("none", "never", None),  # the model's own policy: nothing to say
])
def test_predict_detect_other_than_the_recorded_crop_warns(photo_folder, tmp_path, crop, detect, warned):
    """predict --detect changed the framing of a model's crops silently (help said 'auto' was the default)."""
    path = save_model(fit_model(photo_folder, features="pixels", clf="logreg", crop=crop).model,
                      tmp_path / "m.joblib")
    photo = next(p for p in sorted(photo_folder.rglob("*.png")))
    result = CliRunner().invoke(main, ["predict", str(path), str(photo), "--detect", detect, "--format", "csv"])
    assert result.exit_code == 0, result.output
    warnings_shown = [line for line in result.output.splitlines() if line.startswith("warning:")]
    if warned is None:
        assert not warnings_shown
    else:
        assert len(warnings_shown) == 1 and re.search(warned, warnings_shown[0])
        assert "unlike the model's training images" in warnings_shown[0]


def test_face_cropper_for_warns_on_framing_overrides_only(auto_model):
    from fer_classic.exceptions import CropMismatchWarning
    from fer_classic.prediction import face_cropper_for

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        face_cropper_for(auto_model, faces="largest", fallback="none")  # which faces, not how they are cut
        face_cropper_for(auto_model, detect="auto")  # the recorded value
    with pytest.warns(CropMismatchWarning, match="margin 0.3 \\(recorded: 0.0\\)"):
        face_cropper_for(auto_model, margin=0.3)
    with pytest.raises(ValueError), warnings.catch_warnings():
        warnings.simplefilter("error")  # a bad override is refused, not warned about first
        face_cropper_for(auto_model, detect="sometimes")


def test_face_cropper_for_warns_on_another_detector_model_file(auto_model):
    # The detector was compared by kind only: another model file (other boxes) went unsaid.
    from fer_classic.exceptions import CropMismatchWarning
    from fer_classic.prediction import face_cropper_for

    other = str(Path(cv2.data.haarcascades) / "haarcascade_frontalface_alt.xml")
    with pytest.warns(CropMismatchWarning, match=f"face detector the Haar cascade '{re.escape(other)}' "
                                                 "\\(recorded: OpenCV's Haar cascade\\)"):
        face_cropper_for(auto_model, detector_model=other)


@pytest.fixture
def relative_detector_model(auto_model, tmp_path, monkeypatch):
    """``auto_model`` recording the Haar cascade ``rel/cascade.xml``, relative to ``tmp_path``, and ``tmp_path``."""
    from fer_classic.prediction import with_face_cropper

    (tmp_path / "rel").mkdir()
    shutil.copy(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml", tmp_path / "rel/cascade.xml")
    monkeypatch.chdir(tmp_path)
    cropper = FaceCropper(detector_model="rel/cascade.xml", output_shape=auto_model.image_shape)
    return with_face_cropper(auto_model, cropper), tmp_path


@pytest.mark.parametrize("use", ["face_cropper_for", "loading_cropper"])
def test_another_file_under_the_recorded_detector_name_warns(relative_detector_model, monkeypatch, use):
    """A relative detector_model found from another folder was another detector, silently."""
    from fer_classic import prediction
    from fer_classic.exceptions import CropMismatchWarning

    model, root = relative_detector_model
    other = root / "other"
    (other / "rel").mkdir(parents=True)
    shutil.copy(Path(cv2.data.haarcascades) / "haarcascade_eye.xml", other / "rel/cascade.xml")
    monkeypatch.chdir(other)
    with pytest.warns(CropMismatchWarning, match="'rel/cascade.xml' found from .*other is not the one the model "
                                                 "was fitted with"):
        getattr(prediction, use)(model)


def test_another_file_at_an_absolute_detector_path_warns_without_the_current_folder(auto_model, tmp_path):
    from fer_classic.exceptions import CropMismatchWarning
    from fer_classic.prediction import face_cropper_for, with_face_cropper

    path = tmp_path / "cascade.xml"
    shutil.copy(Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml", path)
    model = with_face_cropper(auto_model, FaceCropper(detector_model=str(path), output_shape=auto_model.image_shape))
    shutil.copy(Path(cv2.data.haarcascades) / "haarcascade_eye.xml", path)  # replaced where it lies
    with pytest.warns(CropMismatchWarning, match=f"file '{re.escape(str(path))}' is not the one"):
        face_cropper_for(model)


def test_the_recorded_detector_file_found_again_is_not_warned(relative_detector_model):
    from fer_classic.prediction import FACE_DETECTOR_DIGEST_KEY, face_cropper_for, loading_cropper

    model, _ = relative_detector_model
    assert len(model.metadata[FACE_DETECTOR_DIGEST_KEY]) == 64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        face_cropper_for(model)
        loading_cropper(model)


@pytest.mark.parametrize("command", ["fit", "search"])
@pytest.mark.parametrize("margin", ["nan", "NaN", "-nan"])
def test_nan_margin_is_refused_naming_the_option(command, margin):
    """NaN passed click's FloatRange; FaceCropper then refused 'margin' without naming --margin."""
    result = CliRunner().invoke(main, [command, "--margin", margin])
    assert result.exit_code == 2
    assert "Invalid value for '--margin': nan is not a number" in result.output


@pytest.mark.parametrize("value", ["", " "])
def test_predict_empty_yunet_is_refused(auto_model, tmp_path, value):
    """--yunet '' (an unset variable) was taken as no --yunet: the Haar cascade, silently."""
    path = save_model(auto_model, tmp_path / "m.joblib")
    result = CliRunner().invoke(main, ["predict", str(path), str(tmp_path), "--yunet", value])
    assert result.exit_code == 2
    assert "Invalid value for '--yunet': is empty" in result.output
