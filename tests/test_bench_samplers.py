"""benchmarks/bench_samplers.py: a missing --data is a usage error before loading; 'synthetic' still loads."""

import re

import pytest

from conftest import benchmark_module, main_reaches_loading, usage_error


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("bench_samplers")


@pytest.mark.parametrize("data", ["missing", "missing/fer2013.csv"], ids=["folder", "csv"])
def test_a_missing_data_is_a_usage_error_before_loading(bench, tmp_path, monkeypatch, capsys, data):
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr("sys.argv", ["bench_samplers.py", "--data", str(tmp_path / data),
                                     "--out", str(tmp_path / "r.json")])
    usage_error(bench.main)
    assert re.search(rf"--data .*{re.escape(data)} does not exist; give a dataset folder or a fer2013.csv, or "
                     "'synthetic'", capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


def test_synthetic_data_is_not_refused(bench, tmp_path, monkeypatch):
    assert main_reaches_loading(bench, monkeypatch, ["bench_samplers.py", "--data", "synthetic",
                                                     "--out", str(tmp_path / "r.json")]) == "synthetic"


@pytest.mark.parametrize("args, message", [
    (["--per-class", "-150"], r"--per-class -150: give 1 or more training images per class"),
    (["--per-class", "0"], r"--per-class 0: give 1 or more training images per class"),
    (["--settings", "bogus"], r"--settings 'bogus': unknown bogus; give one or more of subset, full"),
    (["--settings", ","], r"--settings ',': give one or more of subset, full"),
    (["--samplers", "none,bogus,bogus"], r"--samplers 'none,bogus,bogus': unknown bogus; give one or more of none, "),
], ids=["negative-per-class", "zero-per-class", "unknown-setting", "no-setting", "unknown-sampler"])
def test_bad_options_are_usage_errors_before_loading(bench, tmp_path, monkeypatch, capsys, args, message):
    """A TypeError or ValueError after the features, a KeyError, a ValueError after HOG."""
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr("sys.argv", ["bench_samplers.py", "--data", "synthetic", "--out", str(tmp_path / "r.json"),
                                     *args])
    usage_error(bench.main)
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


def test_a_dataset_without_disgust_prints_its_row(bench, tiny_faces, capsys):
    import numpy as np

    # Its recall of disgust is None, which the row's print formatted as a number: TypeError after the fit.
    two = tiny_faces.subset(np.isin(tiny_faces.labels, ["happy", "sad"]))
    rows = bench.run_setting("subset", two, ["none"], per_class=5, seed=0)
    assert rows[0]["test"]["recall_disgust"] is None and "disgust recall -  " in capsys.readouterr().out


def run_main(bench, monkeypatch, data, argv):
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: data)
    monkeypatch.setattr(bench, "machine", lambda: {})  # threadpoolctl's survey: not what is tested
    monkeypatch.setattr("sys.argv", ["bench_samplers.py", "--data", "synthetic", "--settings", "subset", *argv])
    bench.main()


def test_a_failing_row_keeps_the_rows_before_it(bench, tiny_faces, tmp_path, monkeypatch):
    import json

    # The results were written once, at the end: an error in the second row lost the first.
    make_pipeline = bench.make_pipeline

    def failing(*args, sampler=None, **kwargs):
        if sampler == "random":
            raise RuntimeError("second row fails")
        return make_pipeline(*args, sampler=sampler, **kwargs)

    monkeypatch.setattr(bench, "make_pipeline", failing)
    out = tmp_path / "r.json"
    with pytest.raises(RuntimeError, match="second row fails"):
        run_main(bench, monkeypatch, tiny_faces, ["--samplers", "none,random", "--per-class", "3",
                                                  "--out", str(out)])
    results = json.loads(out.read_text())
    assert results["complete"] is False and [row["sampler"] for row in results["rows"]] == ["none"]


def test_too_few_images_for_smote_is_a_one_line_usage_error_before_hog(bench, tiny_faces, tmp_path, monkeypatch):
    import numpy as np

    # imbalanced-learn's "Expected n_neighbors <= n_samples_fit" traceback, after HOG.
    train = np.flatnonzero((tiny_faces.splits == "train") & (tiny_faces.labels == "disgust"))
    few = tiny_faces.subset(~np.isin(np.arange(len(tiny_faces)), train[3:]))  # 3 disgust images, 12 of the rest
    monkeypatch.setattr(bench, "run_setting", lambda *a, **k: pytest.fail("features extracted"))
    with pytest.raises(SystemExit) as exit_info:
        run_main(bench, monkeypatch, few, ["--samplers", "none,smote", "--out", str(tmp_path / "r.json")])
    # A refusal before any work: a usage error (exit 2), as the scripts' others; it was exit 1.
    assert exit_info.value.code == 2
    message = str(exit_info.value)
    assert "\n" not in message and re.search(
        r"setting subset: sampler='smote' \(--samplers\) .* k_neighbors=5 nearest neighbours .* at least 6 training "
        r"images; the smallest, 'disgust', has 3\. Give more images of 'disgust'.*, or --samplers random", message)
    assert not (tmp_path / "r.json").exists()
