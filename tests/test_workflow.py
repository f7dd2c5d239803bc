import json
import re
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import write_csv_dataset, write_folder_dataset
from fer_classic import FaceDataset, evaluate_model, fit_model, load_model, predict_paths
from fer_classic.exceptions import DatasetError, EmptyClassError
from fer_classic.workflow import split_train_test


def test_fit_reports_metrics_timings_and_saves(tmp_path, tiny_faces):
    result = fit_model(tiny_faces, features="hog", clf="logreg", out=tmp_path / "m.joblib")
    assert result.metrics["accuracy"] > 0.5
    assert set(result.timings) == {"load", "features", "fit", "predict", "save"}
    assert load_model(result.path).classes == tiny_faces.classes


def test_a_fit_that_holds_out_reports_the_seconds_of_the_hold_out(tiny_faces):
    unsplit = tiny_faces.with_splits(np.full(len(tiny_faces), "", dtype=object))
    result = fit_model(unsplit, features="pixels", clf="knn")
    assert list(result.timings) == ["load", "hold-out", "features", "fit", "predict"]


def test_fit_uses_train_only_for_learning(tiny_faces):
    result = fit_model(tiny_faces, features="pixels", clf="knn")
    assert result.n_train == len(tiny_faces.select("train"))
    assert result.model.metadata["training"]["fingerprint"] == tiny_faces.select("train").fingerprint()


@pytest.mark.parametrize(("n_jobs", "expected"), [(None, -1), (1, 1), (2, 2)])
def test_fit_gives_the_classifier_all_cores_unless_told(tiny_faces, n_jobs, expected):
    result = fit_model(tiny_faces, features="pixels", clf="knn", n_jobs=n_jobs)
    assert result.model.pipeline.get_params()["clf__estimator__n_jobs"] == expected


@pytest.mark.parametrize(("n_jobs", "expected"), [(None, -1), (1, 1)])
def test_a_searched_model_predicts_on_all_cores_unless_told(tiny_faces, n_jobs, expected):
    from fer_classic.model_selection import search_model

    result = search_model(tiny_faces, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1, 3]},
                          cv=2, n_jobs=n_jobs)
    assert result.model.pipeline.get_params()["clf__estimator__n_jobs"] == expected


@pytest.mark.parametrize("run", ["fit", "search"])
def test_class_weight_naming_no_training_class_fails_before_the_features(tiny_faces, monkeypatch, run):
    from fer_classic.features import PixelFeatures
    from fer_classic.model_selection import search_model

    extracted = []
    monkeypatch.setattr(PixelFeatures, "fit", lambda self, X, y=None: extracted.append(len(X)) or self)
    with pytest.raises(ValueError, match="class_weight names 'hapy', not a class of the training data"):
        if run == "fit":
            fit_model(tiny_faces, features="pixels", clf="svm", clf_params={"class_weight": {"hapy": 2.0}})
        else:
            search_model(tiny_faces, features="pixels", clf="svm", cv=2,
                         grid={"clf__estimator__class_weight": [None, {"happy": 2.0, "hapy": 2.0}]})
    assert extracted == []


def test_unsplit_data_gets_seeded_stratified_hold_out(tiny_faces):
    unsplit = tiny_faces.with_splits(np.full(len(tiny_faces), "", dtype=object))
    train, test, held_out = split_train_test(unsplit, test_size=0.25, random_state=3)
    assert held_out and len(test) == 28
    assert set(test.class_counts().values()) == {4}
    again = split_train_test(unsplit, test_size=0.25, random_state=3)[1]
    assert test.sources.tolist() == again.sources.tolist()


def test_hold_out_too_small_for_its_stratified_split_is_a_clear_error():
    from fer_classic.data import make_synthetic_faces

    unsplit = make_synthetic_faces(3, 0, random_state=0)  # 3 images a class: a 20% hold-out needs 5
    with pytest.raises(DatasetError, match=r"a hold-out of 20% \(test_size=0.2: 1 of 5 folds\) needs a class with at "
                                           r"least 5 training images .*the largest has 3; give more images"):
        split_train_test(unsplit)


@pytest.mark.parametrize("test_size", [0, float("nan"), 1.0, 5, -0.2])
def test_fit_refuses_a_test_size_outside_0_1_before_loading(tmp_path, test_size):
    with pytest.raises(ValueError, match=r"'test_size' parameter of fit_model must be a float in the range "
                                         r"\(0.0, 1.0\)"):
        fit_model(tmp_path / "not-loaded", test_size=test_size)


@pytest.mark.parametrize("test_size", [0, 1.0])
def test_split_train_test_refuses_a_test_size_outside_0_1(tiny_faces, test_size):
    with pytest.raises(ValueError, match=r"'test_size' parameter of split_train_test must be a float in the range"):
        split_train_test(tiny_faces, test_size=test_size)


@pytest.mark.parametrize("test_size, share", [(0.4, 1 / 3), (0.6, 2 / 3), (0.9, 0.9)])
def test_hold_out_is_the_share_of_whole_folds_nearest_test_size(test_size, share):
    from fer_classic.data import make_synthetic_faces

    unsplit = make_synthetic_faces(20, 0, random_state=0)
    train, test, _ = split_train_test(unsplit, test_size=test_size)
    assert len(test) / len(unsplit) == pytest.approx(share, abs=0.02)
    assert set(train.classes) == set(test.classes)


@pytest.mark.parametrize("split", ["test", "val"])
def test_a_test_or_val_split_without_a_train_split_is_refused_not_trained_on(tiny_faces, split):
    from fer_classic.model_selection import search_model

    only = tiny_faces.with_splits(np.full(len(tiny_faces), split, dtype=object))
    logged = []
    message = rf"has no train split to fit on \(its images: {len(only)} {split}\); fit and search never train on"
    with pytest.raises(DatasetError, match=message):
        fit_model(only, features="pixels", clf="knn", log=logged.append)
    assert not any("holding out" in line for line in logged)  # never said it would hold out of them
    with pytest.raises(DatasetError, match=message):
        search_model(only, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1, 3]}, cv=2)
    with pytest.raises(DatasetError, match=message):
        split_train_test(only)


def test_unsplit_data_is_still_held_out_of_and_the_log_says_so(tiny_faces):
    unsplit = tiny_faces.with_splits(np.full(len(tiny_faces), "", dtype=object))
    logged = []
    result = fit_model(unsplit, features="pixels", clf="knn", log=logged.append)
    assert result.held_out and result.n_train + result.n_test == len(unsplit)
    assert any(line.startswith("no test split in ") and "20% of all its images" in line for line in logged)


def test_a_hold_out_of_fer2013_training_files_without_split_labels_is_said_to_be_of_all_images(tiny_faces):
    # A folder of Training_* files (no train/ folder): its usage selects every image, so no "train split" is held.
    by_usage = FaceDataset(tiny_faces.images, tiny_faces.labels, np.full(len(tiny_faces), "", dtype=object),
                           np.full(len(tiny_faces), "Training", dtype=object), tiny_faces.sources, "fer-train")
    logged = []
    split_train_test(by_usage, log=logged.append)
    assert any("20% of all its images" in line for line in logged), logged


def test_images_in_neither_train_nor_test_are_said_to_be_left_out(tiny_faces):
    splits = tiny_faces.splits.copy()
    splits[:3] = ["", "val", "val"]
    with pytest.warns(UserWarning, match=r"3 images in neither the train nor the test split \(1 no split, 2 val\)"):
        train, test, _ = split_train_test(tiny_faces.with_splits(splits))
    assert len(train) + len(test) == len(tiny_faces) - 3


def test_val_images_left_out_of_a_hold_out_are_said_to_be_left_out_too(tiny_faces):
    from fer_classic.model_selection import search_model

    splits = np.full(len(tiny_faces), "train", dtype=object)
    splits[::4] = "val"
    train_val = tiny_faces.with_splits(splits)
    n_val = int((splits == "val").sum())
    message = (rf"{n_val} images in neither the train nor the test split \({n_val} val\) are left out; .*"
               r"\(the test images are held out of the train split\)")
    with pytest.warns(UserWarning, match=message):
        train, test, held_out = split_train_test(train_val)
    assert held_out and len(train) + len(test) == len(train_val) - n_val
    with pytest.warns(UserWarning, match=message):
        fit_model(train_val, features="pixels", clf="knn")
    with pytest.warns(UserWarning, match=message):
        search_model(train_val, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1, 3]}, cv=2)


def test_a_fer2013_folder_split_by_usages_alone_leaves_nothing_out(tiny_faces):
    usages = np.where(tiny_faces.splits == "train", "Training", "PublicTest").astype(object)
    by_usage = FaceDataset(tiny_faces.images, tiny_faces.labels, np.full(len(tiny_faces), "", dtype=object),
                           usages, tiny_faces.sources, "fer2013-folder")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, test, held_out = split_train_test(by_usage)
    assert not held_out and (len(train), len(test)) == ((tiny_faces.splits == "train").sum(),
                                                        (tiny_faces.splits == "test").sum())


def test_test_class_without_training_images_is_an_error(tiny_faces):
    keep = ~((tiny_faces.splits == "train") & (tiny_faces.labels == "fear"))
    with pytest.raises(EmptyClassError, match="fear"):
        fit_model(tiny_faces.subset(keep), features="pixels", clf="knn")


def test_evaluate_on_csv_matches_fit_metrics(tmp_path, tiny_faces):
    result = fit_model(tiny_faces, features="hog", clf="svm")
    csv = write_csv_dataset(tmp_path / "f.csv", tiny_faces)
    evaluated = evaluate_model(result.model, csv, split="test")
    assert evaluated.metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])


def test_fit_and_evaluate_give_the_roc_auc_the_report_gives(tmp_path, fitted_model, tiny_faces):
    # Without --report the AUCs were None: the scores were computed and dropped.
    csv = write_csv_dataset(tmp_path / "f.csv", tiny_faces)
    plain = evaluate_model(fitted_model, csv, split="test").metrics
    reported = evaluate_model(fitted_model, csv, split="test", report=tmp_path / "r").metrics
    assert plain["roc_auc_macro"] is not None and plain["roc_auc_macro"] == pytest.approx(reported["roc_auc_macro"])


def test_fit_and_evaluate_summaries_give_the_same_test_score_keys_in_python(tmp_path, tiny_faces):
    # The CLI's --json added them; fit_model(...).summary() lacked the interval and balanced accuracy.
    from fer_classic.evaluation._metrics import SUMMARY_METRIC_KEYS

    fitted = fit_model(tiny_faces, features="hog", clf="logreg")
    evaluated = evaluate_model(fitted.model, write_csv_dataset(tmp_path / "f.csv", tiny_faces), split="test")
    for summary in (fitted.summary(), evaluated.summary()):
        assert set(SUMMARY_METRIC_KEYS) <= set(summary) and summary["accuracy_ci"] is not None
    assert fitted.summary()["accuracy_ci"] == evaluated.summary()["accuracy_ci"]


def test_fit_records_the_per_class_roc_auc():
    from fer_classic.data import make_synthetic_faces

    metrics = fit_model(make_synthetic_faces(6, 3, random_state=0), features="hog", clf="svm").metrics
    assert all(entry["roc_auc"] is not None for entry in metrics["per_class"].values())


def test_evaluate_on_folder_public_and_private_halves(tmp_path, fitted_model, tiny_faces):
    csv = write_csv_dataset(tmp_path / "f.csv", tiny_faces, usage_of={"train": "Training", "test": "PrivateTest"})
    assert evaluate_model(fitted_model, csv, split="PrivateTest").n_test == 28
    with pytest.raises(DatasetError, match="no images in split 'PublicTest'"):
        evaluate_model(fitted_model, csv, split="PublicTest")


def test_a_command_writing_nothing_lists_no_input_for_output_checks(tmp_path, fitted_model, tiny_faces,
                                                                    monkeypatch):
    # A labels file's listed images (AffectNet: 414,799 rows) are read only to check outputs against.
    from click.testing import CliRunner

    from fer_classic.cli import main
    from fer_classic.persistence import save_model

    csv = write_csv_dataset(tmp_path / "f.csv", tiny_faces)
    model = save_model(fitted_model, tmp_path / "m.joblib")
    for target in ("fer_classic.data.dataset_inputs", "fer_classic.data._load.dataset_inputs"):  # package first
        monkeypatch.setattr(target, lambda *a, **k: pytest.fail("inputs listed with no output"))
    assert evaluate_model(fitted_model, csv).n_test == 28
    result = CliRunner().invoke(main, ["evaluate", str(model), "--data", str(csv)])
    assert result.exit_code == 0, result.output


def test_fit_scores_fer2013_s_halves_from_the_same_predictions(tmp_path, tiny_faces):
    halves = np.where(np.arange(len(tiny_faces)) % 2, "public", "private")
    # The writer's own tags for the CSV's Usage column (a FaceDataset takes only split names).
    faces = SimpleNamespace(images=tiny_faces.images, labels=tiny_faces.labels,
                            splits=np.where(tiny_faces.splits == "test", halves, "train"))
    data = write_csv_dataset(tmp_path / "f.csv", faces,
                             usage_of={"train": "Training", "public": "PublicTest", "private": "PrivateTest"})
    result = fit_model(data, features="hog", clf="svm")
    parts = result.metrics["accuracy_by_group"]
    assert [parts[name]["n"] for name in ("PrivateTest", "PublicTest")] == [14, 14]
    assert result.model.metadata["metrics"]["accuracy_by_group"] == parts
    private = evaluate_model(result.model, data, split="PrivateTest")
    assert parts["PrivateTest"]["accuracy"] == pytest.approx(private.metrics["accuracy"])


def test_predict_paths_reports_bad_files_without_raising(tmp_path, fitted_model, folder_dataset):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    good = sorted((folder_dataset / "test" / "happy").iterdir())[0]
    run = predict_paths(fitted_model, [good, bad])
    assert [r["source"] for r in run.rows] == [str(good), str(bad)]
    assert run.rows[0]["label"] in fitted_model.classes and run.rows[1]["status"] == "error"


@pytest.mark.parametrize("as_given", [str, Path], ids=["str", "PathLike"])
def test_compare_model_files_takes_one_path_alone_as_one_model(tmp_path, fitted_model, tiny_faces, monkeypatch,
                                                               as_given):
    from fer_classic import save_model
    from fer_classic.workflow import compare_model_files

    save_model(fitted_model, tmp_path / "m.joblib")
    monkeypatch.chdir(tmp_path)
    comparison = compare_model_files(as_given("m.joblib"), tiny_faces)
    assert [row["model"] for row in comparison.rows] == ["m.joblib"]


def test_compare_model_files_names_files_of_one_name_by_their_folders(tmp_path, fitted_model, tiny_faces):
    from fer_classic import save_model
    from fer_classic.workflow import compare_model_files

    paths = [tmp_path / "ca" / "m.joblib", tmp_path / "cb" / "m.joblib", tmp_path / "cb" / "x.joblib"]
    for path in paths:
        path.parent.mkdir(exist_ok=True)
        save_model(fitted_model, path)
    comparison = compare_model_files(paths, tiny_faces)
    expected = [str(Path("ca", "m.joblib")), str(Path("cb", "m.joblib")), "x.joblib"]
    assert sorted(row["model"] for row in comparison.rows) == expected


def test_predict_paths_searches_folders(fitted_model, folder_dataset):
    run = predict_paths(fitted_model, [folder_dataset / "test"])
    assert len(run.rows) == 28 and all("label" in r for r in run.rows)


def test_fit_records_pipeline_options(tiny_faces):
    result = fit_model(tiny_faces, features="hog", clf="logreg", preprocess="equalize", flip=True)
    assert result.model.metadata["pipeline_options"] == {"preprocess": "equalize", "flip": True,
                                                         "mirror_kernel": False, "block_scaling": False}
    assert type(result.model.pipeline).__name__ == "FlipAugmented"


def test_fit_and_search_share_one_core(monkeypatch, tiny_faces):
    import fer_classic._training as core
    from fer_classic.model_selection import search_model

    calls = []
    real = core.fit_score_save
    monkeypatch.setattr("fer_classic.workflow.fit_score_save", lambda *a, **k: calls.append("fit") or real(*a, **k))
    monkeypatch.setattr("fer_classic.model_selection.fit_score_save",
                        lambda *a, **k: calls.append("search") or real(*a, **k))
    fit_model(tiny_faces, features="pixels", clf="knn")
    search_model(tiny_faces, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1, 3]}, cv=2)
    assert calls == ["fit", "search"]


@pytest.mark.parametrize("run", ["fit", "search"])
def test_k_nn_neighbours_above_the_training_rows_fail_before_the_features(tiny_faces, monkeypatch, run):
    from fer_classic.features import PixelFeatures
    from fer_classic.model_selection import search_model

    extracted = []
    monkeypatch.setattr(PixelFeatures, "fit", lambda self, X, y=None: extracted.append(len(X)) or self)
    rows = len(tiny_faces.select("train"))
    fold = "" if run == "fit" else r" \(a cross-validation fold holds about 50 % of them\)"
    advice = rows if run == "fit" else rows // 2
    with pytest.raises(ValueError, match=f"n_neighbors={rows + 1} asks k-NN .* the {rows} training rows it is fit "
                                         f"on{fold}; give n_neighbors={advice} or less"):
        if run == "fit":
            fit_model(tiny_faces, features="pixels", clf="knn", clf_params={"n_neighbors": rows + 1})
        else:
            search_model(tiny_faces, features="pixels", clf="knn", cv=2,
                         grid={"clf__estimator__n_neighbors": [1, rows + 1]})
    assert extracted == []


def test_k_nn_neighbours_above_a_fold_s_training_part_fail_before_the_features(tiny_faces, monkeypatch):
    # Values between a fold's training part and all the training rows passed the check, then failed in a fold
    # with scikit-learn's "Expected n_neighbors <= n_samples_fit" after the features.
    from fer_classic.features import PixelFeatures
    from fer_classic.model_selection import search_model

    monkeypatch.setattr(PixelFeatures, "fit", lambda *a, **k: pytest.fail("features were extracted"))
    rows = len(tiny_faces.select("train"))
    with pytest.raises(ValueError, match=f"n_neighbors={rows // 2 + 1} asks k-NN .* give n_neighbors={rows // 2} "):
        search_model(tiny_faces, features="pixels", clf="knn", cv=2,
                     grid={"clf__estimator__n_neighbors": [1, rows // 2 + 1]})


def test_k_nn_neighbours_above_the_smallest_grouped_fold_fail_before_the_features(one_large_subject, monkeypatch):
    # Grouped folds differ in size: one subject posing 35 of 98 training images leaves a fold 51 of them, under
    # the 78 an even split would; k=60 failed in that fold with scikit-learn's message after the features.
    from fer_classic.features import PixelFeatures
    from fer_classic.model_selection import search_model

    monkeypatch.setattr(PixelFeatures, "fit", lambda *a, **k: pytest.fail("features were extracted"))
    with pytest.raises(ValueError, match=r"n_neighbors=60 asks k-NN .* give n_neighbors=\d+ or less"):
        search_model(one_large_subject, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [60]},
                     cv=5)


def test_k_nn_advice_with_mirror_images_is_a_value_the_check_takes(tiny_faces, monkeypatch):
    # With an odd number of training images it advised one more than a fold's training part holds.
    from fer_classic.features import PixelFeatures
    from fer_classic.model_selection import search_model

    monkeypatch.setattr(PixelFeatures, "fit", lambda *a, **k: pytest.fail("features were extracted"))
    train = np.flatnonzero(tiny_faces.splits == "train")
    faces = tiny_faces if len(train) % 2 else tiny_faces.subset(np.setdiff1d(np.arange(len(tiny_faces)), train[:1]))
    most = 2 * (int((faces.splits == "train").sum()) // 2)  # images and mirrors of a 2-fold training part
    with pytest.raises(ValueError, match=f"give n_neighbors={most} or less"):
        search_model(faces, features="pixels", clf="knn", cv=2, flip=True,
                     grid={"clf__estimator__n_neighbors": [1, most + 1]})


def test_pca_components_above_the_training_images_fail_before_the_features(tiny_faces, monkeypatch):
    from fer_classic.features import PixelFeatures

    monkeypatch.setattr(PixelFeatures, "fit", lambda *a, **k: pytest.fail("features were extracted"))
    rows = len(tiny_faces.select("train"))
    with pytest.raises(ValueError, match=f"PCA keeps 150 components .*, more than the {rows} training rows it would "
                                         "be fit on; give at least 150 training images"):
        fit_model(tiny_faces, features="pca", clf="knn")


@pytest.mark.parametrize("run", ["fit", "search"])
def test_pca_components_above_the_pixels_fail_before_the_features(monkeypatch, run):
    from fer_classic.data import make_synthetic_faces
    from fer_classic.features import PixelFeatures
    from fer_classic.model_selection import search_model

    monkeypatch.setattr(PixelFeatures, "fit", lambda *a, **k: pytest.fail("features were extracted"))
    small = make_synthetic_faces(30, 4, size=12, random_state=0)  # 210 training images of 144 pixels
    with pytest.raises(ValueError, match=r"PCA keeps 150 components \(--features pca\), more than the 144 pixels of "
                                         r"the 12x12 images it would be fit on; give images of at least "
                                         r"13x13 pixels \(--size 13\)"):
        if run == "fit":
            fit_model(small, features="pca", clf="knn")
        else:
            search_model(small, features="pca", clf="knn", cv=2, grid={"clf__estimator__n_neighbors": [1]})


@pytest.mark.parametrize("run, options, images", [("fit", {"flip": True}, 75), ("search", {}, 300)])
def test_pca_advice_counts_mirror_images_and_folds(tiny_faces, run, options, images):
    from fer_classic.model_selection import search_model

    few = tiny_faces.subset(np.arange(len(tiny_faces)) % 2 == 0)  # 42 training images: too few even mirrored
    with pytest.raises(ValueError, match=f"give at least {images} training images"):  # mirrored: half; 2 folds: twice
        if run == "fit":
            fit_model(few, features="pca", clf="knn", **options)
        else:
            search_model(few, features="pca", clf="knn", cv=2, grid={"clf__estimator__n_neighbors": [1]})


def test_one_class_fails_before_the_features(tiny_faces, monkeypatch):
    from fer_classic.features import PixelFeatures

    monkeypatch.setattr(PixelFeatures, "fit", lambda *a, **k: pytest.fail("features were extracted"))
    with pytest.raises(DatasetError, match="hold only 1 class \\('happy'\\); a classifier needs at least 2"):
        fit_model(tiny_faces.subset(tiny_faces.labels == "happy"), features="pixels", clf="knn")


@pytest.mark.parametrize("options", [{"flip": True}, {"sampler": "random"}])
def test_k_nn_may_ask_for_the_rows_mirror_images_and_oversampling_add(tiny_faces, options):
    fewer_sad = (tiny_faces.labels != "sad") | (tiny_faces.splits != "train") | (np.arange(len(tiny_faces)) % 2 == 0)
    data = tiny_faces.subset(fewer_sad)
    counts = data.select("train").class_counts()
    rows = 2 * sum(counts.values()) if "flip" in options else max(counts.values()) * len(counts)
    assert rows > len(data.select("train"))
    fit_model(data, features="pixels", clf="knn", clf_params={"n_neighbors": rows}, **options)


def test_parameters_are_checked_before_loading(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("data loaded before the parameters were checked")

    monkeypatch.setattr("fer_classic.workflow.load_data", never)
    with pytest.raises(ValueError, match="'C' parameter"):
        fit_model("/no/such/data", features="hog", clf="svm", clf_params={"C": "abc"})


@pytest.mark.parametrize("preprocess", [None, "equalize", "clahe", "crop+clahe"])
@pytest.mark.parametrize("run", ["fit", "search"])
def test_features_that_cannot_apply_to_the_size_fail_before_loading(monkeypatch, run, preprocess):
    # Preprocessing that keeps the images' size (equalising, a crop resized back) does not defer the check.
    from fer_classic.model_selection import search_model

    def never(*args, **kwargs):
        raise AssertionError("data loaded before the size was checked")

    monkeypatch.setattr("fer_classic.workflow.load_data", never)
    monkeypatch.setattr("fer_classic.model_selection.load_data", never)
    with pytest.raises(ValueError, match="use images of at least 24x24 pixels"):
        (fit_model if run == "fit" else search_model)("/no/such/data", features="hog", clf="knn", size=16,
                                                      preprocess=preprocess)


@pytest.mark.parametrize("options, named", [({"margin": 0.5}, "--margin 0.5 does nothing"),
                                            ({"align": True}, "--align does nothing"),
                                            ({"margin": 0.5, "align": True}, "--margin 0.5 and --align do nothing"),
                                            ({}, None)])
def test_cropper_options_without_a_crop_are_warned(tiny_faces, options, named):
    from fer_classic._training import training_cropper

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        training_cropper("faces/", 48, crop="none", **options)
    assert [named in str(w.message) for w in record if "--crop none" in str(w.message)] == ([True] if named else [])


@pytest.mark.parametrize("data", [None, "fer2013.csv"], ids=["generated", "fer2013.csv"])
@pytest.mark.parametrize("options, named", [({"crop": "detect"}, "--crop detect does"),
                                            ({"margin": 0.2, "align": True}, "--margin 0.2 and --align do")])
def test_crop_options_on_face_crops_are_warned_and_not_recorded(tmp_path, tiny_faces, data, options, named):
    from fer_classic._training import training_cropper

    if data is not None:
        data = write_csv_dataset(tmp_path / data, tiny_faces)
    # They were recorded though the training crops never went through them: predict cut photos otherwise.
    with pytest.warns(UserWarning, match=f"{named} not apply to .*face crops already"):
        cropper = training_cropper(data, 48, **options)
    assert (cropper.detect, cropper.margin, cropper.align) == ("auto", 0.0, False)


@pytest.mark.parametrize("shift", [24, 47, 48])
def test_a_kernel_shift_of_half_the_images_or_more_fails_before_loading(monkeypatch, shift):
    monkeypatch.setattr("fer_classic.workflow.load_data", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match=rf"shift={shift} \(--kernel-shift\) moves the 48-pixel-wide images by half "
                                         r"their width or more: .* give at most 23 pixels"):
        fit_model("/no/such/data", features="hog", clf="kernel-svm", mirror_kernel=True, kernel_shift=shift)


def test_a_search_grid_may_fit_the_features_to_a_size_the_defaults_do_not_fit():
    from fer_classic.data import make_synthetic_faces
    from fer_classic.model_selection import search_model

    small = make_synthetic_faces(8, 4, size=16)  # HOG's default 8-pixel cells need 24x24
    result = search_model(small, features="hog", clf="linear-svm", cv=2,
                          grid={"features__pixels_per_cell": [(4, 4), (5, 5)]})
    assert result.model.pipeline.named_steps["features"].pixels_per_cell in [(4, 4), (5, 5)]


def test_a_search_candidate_that_cannot_apply_to_the_size_is_named_before_loading(monkeypatch):
    from fer_classic.model_selection import search_model

    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match=r"use images of at least 60x60 .*\(the candidate \{'features__pixels_per"):
        search_model("/no/such/data", features="hog", clf="knn", grid={"features__pixels_per_cell": [(8, 8), (20, 20)]})


@pytest.fixture(scope="module")
def three_class_model(tiny_faces):
    three = tiny_faces.subset(np.isin(tiny_faces.labels, ["angry", "happy", "sad"]))
    return fit_model(three, features="pixels", clf="knn").model


def test_evaluate_warns_about_classes_the_model_cannot_predict(three_class_model, tiny_faces):
    from fer_classic.exceptions import ClassMismatchWarning

    with pytest.warns(ClassMismatchWarning, match=r"surprise \(4 images\)"):
        evaluate_model(three_class_model, tiny_faces)


def test_compare_warns_about_models_with_different_classes(three_class_model, fitted_model, tiny_faces):
    from fer_classic.evaluation import compare_models
    from fer_classic.exceptions import ClassMismatchWarning

    with pytest.warns(ClassMismatchWarning, match="different classes"):
        compare_models([three_class_model, fitted_model], tiny_faces)


def test_fit_on_a_face_dataset_of_another_size_records_the_default_crop_of_its_size():
    from fer_classic.data import make_synthetic_faces

    data = make_synthetic_faces(6, 2, size=32, random_state=0)
    result = fit_model(data, features="pixels", clf="logreg")
    assert result.model.image_shape == (32, 32)
    # Face crops: photos are framed as the default crop frames them, by every command alike (no record
    # left predict cropping photos while evaluate loaded them whole).
    stored = result.model.metadata["face_cropper"]
    assert (stored["detect"], stored["output_shape"]) == ("auto", [32, 32])


# ------------------------------------------------------------------ scoring a model's own training images


@pytest.fixture(scope="module")
def held_out_fit():
    """A model fitted on unsplit data (named 'unsplit-faces'), holding 20 % out, and that data."""
    from fer_classic.data import make_synthetic_faces

    faces = make_synthetic_faces(10, 0, random_state=4)
    unsplit = FaceDataset(faces.images, faces.labels, np.full(len(faces), "", dtype=object), faces.usages,
                          faces.sources, "unsplit-faces")
    return fit_model(unsplit, features="hog", clf="logreg"), unsplit


def test_evaluating_the_data_a_model_held_out_of_warns_that_it_scores_training_images(held_out_fit):
    from fer_classic.exceptions import DataLeakageWarning

    result, unsplit = held_out_fit
    assert result.held_out and result.model.metadata["hold_out"] == {"test_size": 0.2, "groups": None,
                                                                     "dedupe": False, "copies_joined": True}
    message = (rf"fitted on unsplit-faces, holding out part of it as the test: the {len(unsplit)} images of the "
               rf"whole dataset include the {result.n_train} images it was trained on, so this score includes "
               r"training images.*evaluate --split held-out")
    with pytest.warns(DataLeakageWarning, match=message):
        everything = evaluate_model(result.model, unsplit, split=None)
    assert everything.n_test == len(unsplit)
    # The held-out images alone are recomputed: the fit's own test score, without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        held = evaluate_model(result.model, unsplit, split="held-out")
    assert (held.split, held.n_test) == ("held-out", result.n_test)
    assert held.metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])


def test_a_report_of_the_held_out_images_names_them_held_out_not_test(held_out_fit, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from fer_classic.evaluation import _report

    monkeypatch.setattr(_report, "_plots", lambda *args: dict.fromkeys(_report.REPORT_PLOTS, ""))  # names, not plots
    result, unsplit = held_out_fit
    held = evaluate_model(result.model, unsplit, split="held-out", report=tmp_path / "report")
    assert (held.split, held.n_test, held.report.summary()["split"]) == ("held-out", result.n_test, "held-out")
    assert json.loads(held.report.metrics_json.read_text())["data"]["split"] == "held-out"  # was "test"
    assert "split <b>held-out</b>" in held.report.html.read_text()


def test_the_test_split_error_on_held_out_data_does_not_send_to_split_all_alone(held_out_fit):
    result, unsplit = held_out_fit
    with pytest.raises(DatasetError, match=rf"it is the data the model was fitted on, holding out part of it as the "
                                           rf"test; score the images it held out with --split held-out \(--split all "
                                           rf"would also score its {result.n_train} training images\)"):
        evaluate_model(result.model, unsplit, split="test")


def test_unsplit_data_of_another_source_gives_the_generic_error_without_recommending_split_all_alone(held_out_fit):
    result, unsplit = held_out_fit
    other = unsplit.subset(np.arange(len(unsplit)))
    other = FaceDataset(255 - other.images, other.labels, other.splits, other.usages, other.sources, "other-faces")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # another source: no training images said to be scored
        evaluate_model(result.model, other, split=None)
    with pytest.raises(DatasetError, match=r"--split all scores every image of it, so it includes the training "
                                           r"images of a model fitted on it"):
        evaluate_model(result.model, other, split="test")


def test_a_copy_of_the_training_data_under_another_name_warns_as_the_data_itself(held_out_fit):
    # The held-out check recognised the copy by its fingerprint; the leakage warning went by the name alone.
    from fer_classic.exceptions import DataLeakageWarning

    result, unsplit = held_out_fit
    copy = FaceDataset(unsplit.images, unsplit.labels, unsplit.splits, unsplit.usages, unsplit.sources, "copy")
    with pytest.warns(DataLeakageWarning, match=rf"include the {result.n_train} images it was trained on"):
        evaluate_model(result.model, copy, split=None)


def test_a_shuffled_copy_of_the_training_split_warns_as_the_data_itself(tiny_faces):
    # A copy in another order (a reordered CSV, renamed files) had another fingerprint: 1.0 on train, no word.
    from fer_classic.exceptions import DataLeakageWarning

    model = fit_model(tiny_faces, features="pixels", clf="knn").model
    order = np.random.default_rng(0).permutation(len(tiny_faces))
    shuffled = tiny_faces.subset(order)
    copy = FaceDataset(shuffled.images, shuffled.labels, shuffled.splits, shuffled.usages, shuffled.sources, "copy")
    with pytest.warns(DataLeakageWarning, match="training images"):
        evaluate_model(model, copy, split="train")


def test_the_training_images_with_other_labels_are_not_the_training_data(tiny_faces):
    from fer_classic.evaluation._metrics import training_images_scored

    model = fit_model(tiny_faces, features="pixels", clf="knn").model
    relabelled = FaceDataset(tiny_faces.images, np.roll(tiny_faces.labels, 1), tiny_faces.splits, tiny_faces.usages,
                             tiny_faces.sources, "relabelled")
    assert training_images_scored(model, relabelled, "train") == 0


def test_unsplit_data_of_another_size_is_told_apart_without_recomputing_the_hold_out(held_out_fit, monkeypatch):
    from fer_classic.evaluation._metrics import training_images_scored

    result, unsplit = held_out_fit  # recomputing grouped every image: about a second for 14,000, to answer no
    monkeypatch.setattr("fer_classic.workflow._recompute_held_out", lambda *a: pytest.fail("hold-out recomputed"))
    part = unsplit.subset(np.arange(len(unsplit) - 1))
    other = FaceDataset(part.images, part.labels, part.splits, part.usages, part.sources, "other")
    assert training_images_scored(result.model, other, None) == 0


def test_another_folder_of_the_same_relative_name_is_not_the_training_data(tmp_path, monkeypatch):
    # Both working folders hold an "unsplit/": the model records where its own lay.
    from fer_classic.data import make_synthetic_faces

    for where, seed in (("one", 1), ("two", 2)):
        faces = make_synthetic_faces(6, 0, random_state=seed)
        write_folder_dataset(tmp_path / where / "unsplit", faces.with_splits(np.full(len(faces), "", dtype=object)))
    monkeypatch.chdir(tmp_path / "one")
    model = fit_model("unsplit", features="hog", clf="logreg").model
    monkeypatch.chdir(tmp_path / "two")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # was a DataLeakageWarning: "the 42 images ... include the 33 ..."
        evaluate_model(model, "unsplit", split=None)


def test_a_searched_model_of_an_older_version_still_counts_as_holding_out(held_out_fit):
    from copy import copy

    result, unsplit = held_out_fit
    older = copy(result.model)  # search did not record held_out_test, only its metrics' split
    older.metadata = {**{k: v for k, v in result.model.metadata.items() if k != "held_out_test"},
                      "metrics": {**result.model.metadata["metrics"], "split": "held-out test"}}
    assert evaluate_model(older, unsplit, split="held-out").n_test == result.n_test


@pytest.mark.parametrize("recorded, joined", [({"copies_joined": True}, True), ({}, False)],
                         ids=["recorded", "before copies were joined"])
def test_the_hold_out_is_recomputed_with_the_grouping_the_fit_used(held_out_fit, monkeypatch, recorded, joined):
    """A model fitted before subjects sharing a copy were joined had its hold-out drawn without that."""
    from copy import copy

    import fer_classic.workflow as workflow

    result, unsplit = held_out_fit
    older = copy(result.model)
    hold = {k: v for k, v in result.model.metadata["hold_out"].items() if k != "copies_joined"}
    older.metadata = {**result.model.metadata, "hold_out": {**hold, **recorded}}
    seen, hold_out = [], workflow.hold_out
    monkeypatch.setattr(workflow, "hold_out", lambda *a, **k: seen.append(k["join_copies"]) or hold_out(*a, **k))
    workflow.held_out_images(older, unsplit)
    assert seen == [joined]


def test_held_out_images_are_checked_against_the_models_training_images(held_out_fit):
    from fer_classic.workflow import held_out_images

    result, unsplit = held_out_fit
    held = held_out_images(result.model, unsplit)
    assert len(held) == result.n_test and set(held.splits) == {"test"}
    changed = unsplit.images.copy()
    changed[0] = 255 - changed[0]
    edited = FaceDataset(changed, unsplit.labels, unsplit.splits, unsplit.usages, unsplit.sources, unsplit.name)
    with pytest.raises(DatasetError, match=r"does not give back the images the model was trained on"):
        held_out_images(result.model, edited)


def test_a_model_without_a_recorded_hold_out_says_its_held_out_images_cannot_be_recomputed(held_out_fit):
    from copy import copy

    from fer_classic.exceptions import DataLeakageWarning

    result, unsplit = held_out_fit
    older = copy(result.model)
    older.metadata = {k: v for k, v in result.model.metadata.items() if k != "hold_out"}
    with pytest.warns(DataLeakageWarning, match=r"its held-out images cannot be recomputed"):
        evaluate_model(older, unsplit, split=None)
    with pytest.raises(DatasetError, match=r"does not record its hold-out's test_size"):
        evaluate_model(older, unsplit, split="held-out")


def test_scoring_the_train_split_a_model_was_fitted_on_warns(tiny_faces, fitted_model):
    from fer_classic.exceptions import DataLeakageWarning

    n_train = int((tiny_faces.splits == "train").sum())
    with pytest.warns(DataLeakageWarning, match=rf"fitted on the train split of {re.escape(tiny_faces.name)}: the "
                                                rf"whole dataset includes those {n_train} training images.*score "
                                                r"--split test"):
        evaluate_model(fitted_model, tiny_faces, split=None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate_model(fitted_model, tiny_faces, split="test")
    with pytest.raises(DatasetError, match=r"the model held nothing out.*score --split test"):
        evaluate_model(fitted_model, tiny_faces, split="held-out")


def test_a_searched_model_records_its_hold_out_too(held_out_fit):
    from fer_classic.model_selection import search_model

    _, unsplit = held_out_fit
    result = search_model(unsplit, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1, 3]}, cv=2)
    assert result.model.metadata["held_out_test"] is True
    held = evaluate_model(result.model, unsplit, split="held-out")
    assert held.n_test == result.metrics["n"]
    assert held.metrics["accuracy"] == pytest.approx(result.metrics["accuracy"])


def test_compare_warns_per_model_and_refuses_the_held_out_split(held_out_fit, fitted_model):
    from fer_classic.evaluation import compare_models
    from fer_classic.exceptions import DataLeakageWarning, ReportError

    result, unsplit = held_out_fit
    with pytest.warns(DataLeakageWarning, match=r"Model held was fitted on unsplit-faces") as caught:
        compare_models({"held": result.model, "other": fitted_model}, unsplit, split=None)
    assert not any("Model other" in str(w.message) for w in caught if w.category is DataLeakageWarning)
    with pytest.raises(ReportError, match=r"--split held-out is the images one model's fit held out"):
        compare_models({"held": result.model, "other": fitted_model}, unsplit, split="held-out")


def test_fit_gives_its_estimators_at_most_the_cpus_of_n_jobs(tiny_faces, monkeypatch):
    from fer_classic import _resources

    monkeypatch.setattr(_resources, "usable_cpus", lambda: 2)  # --n-jobs 100000 started 100,000 threads and crashed
    result = fit_model(tiny_faces, features="pixels", clf="knn", n_jobs=100_000)
    assert result.model.pipeline.named_steps["clf"].estimator.n_jobs == 2


def test_mlp_early_stopping_on_too_few_images_is_refused_before_the_features(monkeypatch):
    # scikit-learn's "The test_size = 4 should be greater or equal to the number of classes = 7", after HOG.
    from fer_classic.data import make_synthetic_faces

    monkeypatch.setattr("fer_classic.features.HOGFeatures.fit", lambda *a, **k: pytest.fail("features"))
    with pytest.raises(ValueError, match=r"validation_fraction=0.1 of the 35 training rows .* \(4\) .* 7 classes; "
                                         r"give at least 61 training rows, .* early_stopping=False"):
        fit_model(make_synthetic_faces(5, 2, random_state=0), features="hog", clf="mlp")


@pytest.fixture
def test_copy_of_a_training_image(tiny_faces):
    """tiny_faces whose first test image is a pixel copy of a training image of its class (FER2013 has such)."""
    images = tiny_faces.images.copy()
    first_test = int(np.flatnonzero(tiny_faces.splits == "test")[0])
    source = np.flatnonzero((tiny_faces.splits == "train") & (tiny_faces.labels == tiny_faces.labels[first_test]))[0]
    images[first_test] = images[source]
    return FaceDataset(images, tiny_faces.labels, tiny_faces.splits, tiny_faces.usages, tiny_faces.sources,
                       "with-copy")


def test_a_dedupe_fit_is_recorded_and_evaluate_scores_what_fit_scored(test_copy_of_a_training_image):
    data = test_copy_of_a_training_image
    fitted = fit_model(data, features="pixels", clf="knn", dedupe_data=True)
    assert fitted.model.metadata["dedupe"] is True and fitted.n_test == (data.splits == "test").sum() - 1
    with pytest.warns(UserWarning, match=r"--dedupe: 1 of the 28 images of split 'test' copy .* fit's recorded "
                                         r"metrics left them out; they are left out here too"):
        evaluated = evaluate_model(fitted.model, data)
    assert (evaluated.n_test, evaluated.metrics["accuracy"]) == (fitted.n_test, fitted.metrics["accuracy"])


def test_compare_of_a_dedupe_fit_on_its_own_data_warns_that_it_scores_the_copies(test_copy_of_a_training_image):
    # compare scored the copies fit had left out without a word (every model scores the same images).
    from fer_classic.evaluation import compare_models

    data = test_copy_of_a_training_image
    fitted = fit_model(data, features="pixels", clf="knn", dedupe_data=True)
    with pytest.warns(UserWarning, match=r"Model m was fitted on .* with --dedupe: 1 of the 28 images scored copy .*"
                                         r"compare scores them"):
        compared = compare_models([fitted.model], data, names=["m"])
    assert compared.rows[0]["n"] == 28


def test_a_fit_without_dedupe_records_none_and_evaluate_scores_every_test_image(test_copy_of_a_training_image):
    data = test_copy_of_a_training_image
    fitted = fit_model(data, features="pixels", clf="knn")
    assert "dedupe" not in fitted.model.metadata
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert evaluate_model(fitted.model, data).n_test == (data.splits == "test").sum()


@pytest.mark.parametrize("blank", [True, False], ids=["blank training images", "faces"])
def test_fit_warns_when_the_training_features_are_all_the_same(tiny_faces, blank):
    """Blank training images fitted and saved without a word, the model giving every face one class."""
    import warnings

    images = tiny_faces.images.copy()
    if blank:
        images[tiny_faces.splits == "train"] = 128
    data = FaceDataset(images, tiny_faces.labels, tiny_faces.splits, tiny_faces.usages, tiny_faces.sources, "blank")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit_model(data, features="hog", clf="svm")
    assert len([w for w in caught if "features of all 84 training images are the same" in str(w.message)]) == blank
