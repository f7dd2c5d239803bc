"""benchmarks/bench_accuracy.py's helpers: extractor parameters, and features saved for later classifiers."""

import re
import types

import numpy as np
import pytest

from conftest import benchmark_module
from fer_classic import make_pipeline


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("bench_accuracy")


def test_feature_params_are_python_literals(bench):
    assert bench.parse_feature_params(["epochs=30", "precision=mixed", "cells=(8, 8)"]) == {
        "epochs": 30, "precision": "mixed", "cells": (8, 8)}


def test_a_feature_param_without_a_value_stops_the_run(bench):
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        bench.parse_feature_params(["epochs"])


def test_a_feature_param_reaches_every_extractor_that_has_it(bench):
    head = make_pipeline("hog+lbp", "linear-svm")[:-1]
    keys = bench.set_feature_params(head, {"orientations": 6, "epochs": 3})
    assert keys == {"features__hog__orientations": 6}  # LBP has no orientations; no extractor has epochs
    assert head.get_params()["features__hog__orientations"] == 6


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
    back_fit, back_test, fit_s, test_s, widths = bench.load_features(folder, "hog+lbp", y_fit, test)
    np.testing.assert_array_equal(back_fit, F_fit)
    np.testing.assert_array_equal(back_test, F_test)
    assert (fit_s, test_s, widths) == (1.5, 0.5, [3, 1])


def test_saved_features_of_other_images_are_refused(bench, saved):
    folder, _, y_fit, _, test = saved
    with pytest.raises(SystemExit, match="other images"):
        bench.load_features(folder, "hog+lbp", y_fit[::-1], test)


def test_saved_features_without_mirror_views_are_refused_for_mirror_kernel(bench, saved):
    folder, _, y_fit, _, test = saved
    with pytest.raises(SystemExit, match="without --mirror-kernel"):
        bench.load_features(folder, "hog+lbp", y_fit, test, mirror_kernel=True)


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
    with pytest.raises(SystemExit, match="with --kernel-shift 0; give the same option"):
        bench.load_features(folder, "hog+lbp", y_fit, test, mirror_kernel=True, kernel_shift=3)


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
], ids=["missing-data", "unknown-feature-set", "negative-limit", "zero-limit", "zero-n-jobs", "clf-param-not-run"])
def test_bad_arguments_are_usage_errors_before_loading(bench, folder_dataset, tmp_path, monkeypatch, capsys, args,
                                                      message):
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    defaults = {"--data": str(folder_dataset), "--feature-sets": "hog", "--clfs": "linear-svm",
                "--out": str(tmp_path / "results.json")}
    given = dict(zip(args[::2], (a.format(tmp=tmp_path) for a in args[1::2])))
    monkeypatch.setattr("sys.argv", ["bench_accuracy.py", *(x for kv in {**defaults, **given}.items() for x in kv)])
    with pytest.raises(SystemExit) as exit_info:
        bench.main()
    assert exit_info.value.code == 2
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "results.json").exists()
