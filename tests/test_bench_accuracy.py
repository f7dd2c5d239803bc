"""benchmarks/bench_accuracy.py's helpers: extractor parameters, and features saved for later classifiers."""

import json
import re
import types

import numpy as np
import pytest

from conftest import benchmark_module, usage_error
from fer_classic import load_dataset, make_pipeline


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("bench_accuracy")


def test_feature_params_are_python_literals(bench):
    assert bench.parse_feature_params(["epochs=30", "precision=mixed", "cells=(8, 8)"]) == {
        "epochs": 30, "precision": "mixed", "cells": (8, 8)}


def test_a_feature_param_without_a_value_stops_the_run(bench):
    with pytest.raises(ValueError, match="NAME=VALUE"):  # main makes it a usage error
        bench.parse_feature_params(["epochs"])


def test_a_feature_param_reaches_every_extractor_that_has_it(bench):
    head = make_pipeline("hog+lbp", "linear-svm")[:-1]
    keys = bench.set_feature_params(head, {"orientations": 6, "epochs": 3})
    assert keys == {"features__hog__orientations": 6}  # LBP has no orientations; no extractor has epochs
    assert head.get_params()["features__hog__orientations"] == 6


#: What a run with no feature option gives load_features (bench.feature_options).
OPTIONS = {"mirror_kernel": False, "kernel_shift": 0, "block_scaling": False, "block_weights": None,
           "preprocess": None, "feature_params": {}, "seed": 0, "flip": False}


@pytest.fixture
def saved(bench, tmp_path):
    rng = np.random.default_rng(0)
    y_fit = np.array(["happy", "sad"] * 5, dtype=object)
    test = types.SimpleNamespace(y=np.array(["sad", "happy", "sad"], dtype=object),
                                 usages=np.array(["PublicTest", "PrivateTest", "PrivateTest"], dtype=object))
    F_fit, F_test = rng.random((10, 4)), rng.random((3, 4))
    bench.save_features(tmp_path, "hog+lbp", F_fit, y_fit, F_test, test, {"fit": 1.5, "test": 0.5, "widths": [3, 1]})
    return tmp_path, F_fit, y_fit, F_test, test


def test_saved_features_come_back_with_their_seconds_and_blocks(bench, saved):
    folder, F_fit, y_fit, F_test, test = saved
    back_fit, back_test, fit_s, test_s, widths = bench.load_features(folder, "hog+lbp", y_fit, test, OPTIONS)
    np.testing.assert_array_equal(back_fit, F_fit)
    np.testing.assert_array_equal(back_test, F_test)
    assert (fit_s, test_s, widths) == (1.5, 0.5, [3, 1])


def test_saved_features_of_other_images_are_refused(bench, saved):
    folder, _, y_fit, _, test = saved
    with pytest.raises(SystemExit, match="other images"):
        bench.load_features(folder, "hog+lbp", y_fit[::-1], test, OPTIONS)


def test_saved_features_without_mirror_views_are_refused_for_mirror_kernel(bench, saved):
    folder, _, y_fit, _, test = saved
    with pytest.raises(SystemExit, match="computed with --mirror-kernel False, this run asks for True"):
        bench.load_features(folder, "hog+lbp", y_fit, test, {**OPTIONS, "mirror_kernel": True})


@pytest.mark.parametrize("clf, key", [("kernel-svm", "views"), ("local-svm", "estimator__views")])
def test_mirror_kernel_gives_the_kernel_classifiers_two_views(bench, clf, key):
    model = bench.build_classifier(clf, {}, [4], random_state=0, n_jobs=1, views=2)
    assert model.estimator.get_params()[key] == 2


def test_mirror_kernel_refuses_a_classifier_without_views(bench):
    with pytest.raises(ValueError, match="needs a classifier whose kernel averages over views"):
        bench.build_classifier("svm", {}, [4], random_state=0, n_jobs=1, views=2)


def test_saved_features_of_other_views_are_refused_for_kernel_shift(bench, saved):
    folder, F_fit, y_fit, F_test, test = saved
    bench.save_features(folder, "hog+lbp", F_fit, y_fit, F_test, test,
                        {"fit": 1.5, "test": 0.5, "widths": [1, 1], "mirror_kernel": True})
    with pytest.raises(SystemExit, match="with --kernel-shift 0, this run asks for 3; give the same option"):
        bench.load_features(folder, "hog+lbp", y_fit, test, {**OPTIONS, "mirror_kernel": True, "kernel_shift": 3})


@pytest.mark.parametrize("key, saved_value, asked", [
    ("block_scaling", True, False), ("preprocess", None, "clahe"), ("feature_params", {}, {"orientations": 6}),
    ("seed", 0, 1), ("block_weights", {"lbp": 2.0}, None), ("block_weights", None, {"lbp": 2.0}),
])
def test_saved_features_of_other_options_are_refused(bench, saved, key, saved_value, asked):
    """Loading them ignored the option given, and the results recorded it as if it had been applied."""
    folder, F_fit, y_fit, F_test, test = saved
    bench.save_features(folder, "hog+lbp", F_fit, y_fit, F_test, test,
                        {"fit": 1.5, "test": 0.5, "widths": [3, 1], **OPTIONS, key: saved_value})
    with pytest.raises(SystemExit, match=f"computed with {bench.FEATURE_OPTIONS[key]} "):
        bench.load_features(folder, "hog+lbp", y_fit, test, {**OPTIONS, key: asked})


def test_a_block_weight_reaches_the_feature_union(bench):
    args = types.SimpleNamespace(preprocess=None, block_scaling=True, block_weights={"lbp": 2.0}, mirror_kernel=False,
                                 kernel_shift=0, seed=0, n_jobs=1)
    union = bench.feature_head("hog+lbp", args, {}).named_steps["features"]
    assert union.transformer_weights == {"lbp": 2.0}


@pytest.mark.parametrize("spec, mirror_kernel, expected", [
    ("hog+lbp+pixels+gabor", False, False), ("sift", False, True), ("vlad", False, True), ("cnn", False, True),
    ("hog+sift", False, True), ("hog", True, False), ("hog+sift", True, True),
])
def test_only_extractors_with_a_random_state_draw_at_random(bench, spec, mirror_kernel, expected):
    head = make_pipeline(spec, "kernel-svm" if mirror_kernel else "linear-svm", mirror_kernel=mirror_kernel)[:-1]
    assert bench.draws_at_random(head) is expected


@pytest.mark.parametrize("spec, extra, refused", [
    ("hog+lbp", [], False), ("sift", [], True), ("hog+sift", [], True), ("hog", ["--limit", "77"], True),
], ids=["no-random-extractor", "sift", "one-random-extractor", "limit-drawn-with-the-seed"])
def test_saved_features_of_another_seed_are_refused_only_where_the_seed_changes_them(
        bench, folder_dataset, tmp_path, monkeypatch, spec, extra, refused):
    """HOG+LBP features saved under --seed 0 were refused under --seed 1, though no extractor of theirs is random."""
    data = load_dataset(folder_dataset, size=bench.SIZE)
    train, test = data.select("train"), data.select("test")
    if extra:  # the images --seed 1 draws, so that only the seed recorded with them differs
        train = bench.stratified_subset(train, 77, 1)
    n_blocks = len(spec.split("+"))
    rng = np.random.default_rng(0)
    bench.save_features(tmp_path / "features", spec, rng.random((len(train), 4 * n_blocks)), train.y,
                        rng.random((len(test), 4 * n_blocks)), test,
                        {"fit": 1.5, "test": 0.5, "widths": [4] * n_blocks, **OPTIONS})
    monkeypatch.setattr("sys.argv", ["bench_accuracy.py", "--data", str(folder_dataset), "--feature-sets", spec,
                                     "--clfs", "linear-svm", "--n-jobs", "1", "--seed", "1", *extra,
                                     "--load-features", str(tmp_path / "features"),
                                     "--out", str(tmp_path / "results.json")])
    if refused:
        with pytest.raises(SystemExit, match="computed with --seed 0, this run asks for 1; give the same option"):
            bench.main()
    else:
        bench.main()
        assert json.loads((tmp_path / "results.json").read_text())["complete"]


def test_missing_saved_features_are_named_before_any_array_is_read(bench, tmp_path):
    with pytest.raises(SystemExit, match="no saved hog features .*hog_train_X.npy.* save them first"):
        bench.load_features(tmp_path, "hog", np.array(["happy"]), None, OPTIONS)


@pytest.mark.parametrize("out", ["inside", "save-features inside"])
def test_outputs_inside_the_data_are_refused_before_loading(bench, folder_dataset, monkeypatch, out):
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    target = str(folder_dataset / "results.json") if out == "inside" else str(folder_dataset / "features")
    option = "--out" if out == "inside" else "--save-features"
    monkeypatch.setattr("sys.argv", ["bench_accuracy.py", "--data", str(folder_dataset), "--feature-sets", "hog",
                                     "--clfs", "linear-svm", option, target])
    with pytest.raises(SystemExit, match=f"{option} .* is inside the dataset folder"):
        bench.main()


@pytest.mark.parametrize("args, message", [
    (["--data", "{tmp}/no-such-data"], "--data .*no-such-data does not exist"),
    (["--feature-sets", "hog,hogg"], "--feature-sets hogg: Unknown features hogg"),
    (["--limit", "-5"], "--limit -5: give 1 or more training images, or leave --limit out"),
    (["--limit", "0"], "--limit 0: give 1 or more training images, or leave --limit out"),
    (["--n-jobs", "0"], "--n-jobs 0 cannot run anything"),
    (["--clf-param", "svm:C=3"], r"--clf-param gives parameters of svm, which is not among --clfs \(linear-svm\)"),
    (["--clfs", "kernel-svm", "--mirror-kernel", "--kernel-shift", "24"],
     r"--feature-sets hog on 48-pixel images: shift=24 \(--kernel-shift\) .* give at most 23 pixels"),
    (["--feature-sets", "hog,lbp", "--feature-param", "pixels_per_cell=(30, 30)"],
     r"--feature-sets hog on 48-pixel images: Images of shape \(48, 48\) hold 1x1 cells"),
    (["--clfs", "linear-svm,nope"], "--clfs: unknown nope; choose from linear-svm, "),
    (["--clf-param", "linear-svm"], "--clf-param 'linear-svm': expected CLF:NAME=VALUE"),
    (["--clf-param", "linear-svm:bogus=1"], r"--clf-param linear-svm: .* has no parameter\(s\) \['bogus'\]"),
    (["--feature-param", "epochs"], "--feature-param 'epochs': expected NAME=VALUE"),
    (["--feature-param", "n_word=2000"], "--feature-param n_word: no extractor of --feature-sets hog has"),
    (["--clf-param", "linear-svm:C=-1"], "--clf-param linear-svm: .*'C' parameter"),
    (["--preprocess", "bogus"], "--preprocess bogus: Unknown preprocessing 'bogus'"),
    (["--flip", "--mirror-kernel", "--clfs", "kernel-svm"], "--flip and --mirror-kernel are two ways"),
    (["--kernel-shift", "2"], "--kernel-shift takes 0 or more pixels and adds views to --mirror-kernel"),
    (["--feature-sets", ","], "--feature-sets ',' names no feature set; give one or more"),
    (["--clfs", ","], "--clfs ',' names no classifier; give one or more of linear-svm, "),
    (["--feature-sets", "hog+lbp", "--block-scaling", "--block-weight", "lbp"], "'lbp' is not NAME=WEIGHT"),
    (["--feature-sets", "hog+lbp", "--block-weight", "lbp=2"],
     r"--feature-sets hog\+lbp: block_weights lbp=2.0 \(--block-weight\) multiply the blocks that block scaling"),
    (["--feature-sets", "hog+lbp,hog+gabor", "--block-scaling", "--block-weight", "lbp=2"],
     r"--feature-sets hog\+gabor: block_weights \(--block-weight\) name 'lbp', which is no extractor"),
    (["--feature-sets", "hog+lbp", "--block-scaling", "--block-weight", "lbp=0"],
     r"--feature-sets hog\+lbp: block_weights \(--block-weight\) lbp=0.0: a weight is a number above 0"),
], ids=["missing-data", "unknown-feature-set", "negative-limit", "zero-limit", "zero-n-jobs", "clf-param-not-run",
        "kernel-shift-half-width", "hog-cells-too-large", "unknown-clf", "malformed-clf-param", "unknown-clf-param",
        "malformed-feature-param", "unknown-feature-param", "bad-clf-param-value", "unknown-preprocess",
        "flip-and-mirror-kernel", "kernel-shift-without-mirror", "no-feature-set", "no-clf",
        "malformed-block-weight", "block-weight-without-block-scaling", "block-weight-of-a-missing-block",
        "zero-block-weight"])
def test_bad_arguments_are_usage_errors_before_loading(bench, folder_dataset, tmp_path, monkeypatch, capsys, args,
                                                       message):
    """No feature set or no classifier wrote complete results of no row and exited 0 (--clfs , after the features)."""
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    defaults = ["--data", str(folder_dataset), "--feature-sets", "hog", "--clfs", "linear-svm",
                "--out", str(tmp_path / "results.json")]
    # The given arguments come last: those of an option in the defaults replace its value.
    monkeypatch.setattr("sys.argv", ["bench_accuracy.py", *defaults, *(a.format(tmp=tmp_path) for a in args)])
    usage_error(bench.main)
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "results.json").exists()


def test_combined_svm_passes_the_parameter_check_before_loading(bench, folder_dataset, tmp_path, monkeypatch):
    # The check built it with blocks=[] (no block), refused: the README's combined-svm commands never ran.
    class Loading(Exception):
        pass

    def loading(*args, **kwargs):
        raise Loading  # the options passed every check

    monkeypatch.setattr(bench, "load_dataset", loading)
    monkeypatch.setattr("sys.argv", ["bench_accuracy.py", "--data", str(folder_dataset), "--feature-sets", "hog+lbp",
                                     "--clfs", "combined-svm", "--clf-param", 'combined-svm:kernels=["rbf","rbf"]',
                                     "--out", str(tmp_path / "results.json")])
    with pytest.raises(Loading):
        bench.main()


@pytest.mark.parametrize("limit, message", [
    ("3", r"--limit 3: fewer training images than the 7 classes, .* give 7 or more, or leave --limit out for all 84"),
    ("80", r"--limit 80 leaves 4 of the 84 training images out, fewer than the 7 classes .* give at most 77"),
    ("20", r"--limit 20: the stratified split needs two training images of every class .* and angry has only one"),
], ids=["below-the-classes", "leaves-too-few-out", "class-of-one-image"])
def test_a_limit_the_classes_cannot_be_drawn_from_is_a_usage_error_before_any_feature(
        bench, folder_dataset, tmp_path, monkeypatch, capsys, limit, message):
    if limit == "20":  # one training image of "angry" left
        for extra in sorted((folder_dataset / "train" / "angry").iterdir())[1:]:
            extra.unlink()
    monkeypatch.setattr("sys.argv", ["bench_accuracy.py", "--data", str(folder_dataset), "--feature-sets", "hog",
                                     "--clfs", "linear-svm", "--limit", limit, "--out", str(tmp_path / "results.json")])
    usage_error(bench.main)
    out, err = capsys.readouterr()
    assert re.search(message, err) and "features fitted" not in out
    assert not (tmp_path / "results.json").exists()


@pytest.mark.parametrize("spec", ["cnn", "hog+vgg16"])
def test_a_missing_tensorflow_names_the_extra_before_loading(bench, folder_dataset, tmp_path, monkeypatch, spec):
    import sys

    from fer_classic.exceptions import MissingDependencyError

    # Found only by the first fit of the feature set, after the data was loaded.
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow raises ImportError
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr("sys.argv", ["bench_accuracy.py", "--data", str(folder_dataset), "--feature-sets",
                                     f"hog,{spec}", "--clfs", "linear-svm", "--out", str(tmp_path / "results.json")])
    with pytest.raises(MissingDependencyError, match=rf"^--feature-sets {re.escape(spec)} needs tensorflow, which is "
                                                     r"not installed: pip install 'fer-classic\[deep\]'$"):
        bench.main()


@pytest.mark.parametrize("args, message", [
    ([], r"PCA keeps 150 components, more than the 84 training rows it would be fit on; give at least 150 training "
         r"images, or --feature-param n_components=84 or less"),
    (["--flip", "--feature-param", "n_components=200"],
     r"PCA keeps 200 components, more than the 168 training rows it would be fit on \(with --flip\); give at least "
     r"100 training images, or --feature-param n_components=168 or less"),
], ids=["plain", "flip"])
def test_pca_above_the_training_rows_stops_before_any_feature(bench, folder_dataset, tmp_path, monkeypatch, args,
                                                              message):
    # scikit-learn's "n_components=150 must be between 0 and min(n_samples, n_features)" traceback, after HOG.
    monkeypatch.setattr(bench, "block_widths", lambda *a, **k: pytest.fail("features computed"))
    monkeypatch.setattr("sys.argv", ["bench_accuracy.py", "--data", str(folder_dataset), "--feature-sets",
                                     "hog,hog+pca", "--clfs", "linear-svm", "--out", str(tmp_path / "results.json"),
                                     *args])
    with pytest.raises(SystemExit, match=rf"^--feature-sets hog\+pca: {message}, or other feature sets\.$"):
        bench.main()
    assert not (tmp_path / "results.json").exists()


def test_flip_with_features_saved_without_it_is_refused_before_loading(bench, folder_dataset, tmp_path, monkeypatch):
    # It loaded the data and said the saved features were "of other images (labels differ)".
    rng = np.random.default_rng(0)
    test = types.SimpleNamespace(y=np.array(["sad"]), usages=np.array(["PrivateTest"]))
    bench.save_features(tmp_path / "features", "hog", rng.random((2, 4)), np.array(["happy", "sad"]),
                        rng.random((1, 4)), test, {"fit": 1.5, "test": 0.5, "widths": [4], **OPTIONS})
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr("sys.argv", ["bench_accuracy.py", "--data", str(folder_dataset), "--feature-sets", "hog",
                                     "--clfs", "linear-svm", "--flip", "--load-features", str(tmp_path / "features"),
                                     "--out", str(tmp_path / "results.json")])
    with pytest.raises(SystemExit, match=r"saved hog features were computed without --flip \(no rows for the mirror "
                                         r"images, which --flip trains on\), so --flip cannot reuse them; save them "
                                         r"again with --flip --save-features, or leave --flip out\.$"):
        bench.main()


@pytest.mark.parametrize("saved_flip", [False, True])
def test_features_saved_before_flip_was_recorded_are_told_apart_by_their_rows(bench, saved, saved_flip):
    """Files that record no --flip: their rows (the labels twice with it) tell, not 'labels differ'."""
    folder, F_fit, y_fit, F_test, test = saved  # saved without --flip, recording no option
    if saved_flip:
        bench.save_features(folder, "hog+lbp", np.concatenate([F_fit, F_fit]), np.concatenate([y_fit, y_fit]),
                            F_test, test, {"fit": 1.5, "test": 0.5, "widths": [3, 1]})
    asked = y_fit if saved_flip else np.concatenate([y_fit, y_fit])  # this run's labels: twice with --flip
    with pytest.raises(SystemExit, match="computed with --flip" if saved_flip else "computed without --flip"):
        bench.load_features(folder, "hog+lbp", asked, test, {**OPTIONS, "flip": not saved_flip})


@pytest.mark.parametrize("layout", ["unsplit", "train only"])
def test_data_without_a_train_and_test_split_is_a_usage_error_without_another_commands_advice(
        bench, folder_dataset, tmp_path, monkeypatch, capsys, layout):
    """The library's message advised fer-classic evaluate's --split all / --split held-out."""
    import shutil

    if layout == "unsplit":
        data = tmp_path / "unsplit"
        shutil.move(str(folder_dataset / "train"), str(data))
    else:
        data = folder_dataset
        shutil.rmtree(folder_dataset / "test")
    monkeypatch.setattr("sys.argv", ["bench_accuracy.py", "--data", str(data), "--out", str(tmp_path / "r.json"),
                                     "--feature-sets", "hog", "--clfs", "logreg"])
    usage_error(bench.main)
    error = capsys.readouterr().err
    assert re.search(r"--data .* has no (train or test|test) images \(its splits: (none, it is one set of class "
                     r"folders|train)\); bench_accuracy needs FER2013-style train/ and test/ class folders, or a CSV "
                     "with a Usage column", error)
    assert "--split" not in error
    assert not (tmp_path / "r.json").exists()


def test_saved_features_stopped_while_written_leave_the_earlier_set_whole(bench, saved, monkeypatch):
    """A stopped run left new train arrays beside the old test arrays and seconds."""
    folder, F_fit, y_fit, F_test, test = saved
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    calls = []
    real_save = np.save

    def save(file, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_save(file, array, *args, **kwargs)

    monkeypatch.setattr(np, "save", save)
    with pytest.raises(KeyboardInterrupt):
        bench.save_features(folder, "hog+lbp", F_fit + 1, y_fit, F_test + 1, test,
                            {"fit": 9, "test": 9, "widths": [3, 1]})
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # no temporary left either
