"""benchmarks/bench_deep.py: a missing --data is a usage error before loading; 'synthetic' still loads."""

import re
import sys

import pytest

from conftest import benchmark_module, main_reaches_loading, usage_error


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("bench_deep")


@pytest.mark.parametrize("part", ["throughput", "cnn", "imagenet"])
def test_a_missing_data_is_a_usage_error_before_loading(bench, tmp_path, monkeypatch, capsys, part):
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr("sys.argv", ["bench_deep.py", part, "--data", str(tmp_path / "missing"),
                                     "--out", str(tmp_path / "r.json")])
    usage_error(bench.main)
    assert re.search(r"--data .*missing does not exist; give a dataset folder or a fer2013.csv, or 'synthetic'",
                     capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()


def test_synthetic_data_is_not_refused(bench, tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "import_keras", lambda *a: None)  # TensorFlow's seconds of import: not tested here
    assert main_reaches_loading(bench, monkeypatch, ["bench_deep.py", "throughput", "--data", "synthetic",
                                                     "--out", str(tmp_path / "r.json")]) == "synthetic"


@pytest.mark.parametrize("args, message", [
    (["throughput", "--backbones", "foo"], r"--backbones foo: The 'backbone' parameter of DeepFeatures must be"),
    (["throughput", "--backbones", ","], r"--backbones names nothing; give one or more"),
    (["throughput", "--precisions", "auto,bogus"], r"--precisions bogus: The 'precision' parameter of DeepFeatures"),
    (["throughput", "--n-images", "0"], r"--n-images 0: give 1 or more test images to time"),
    (["throughput", "--sizes", "16"], r"--sizes 16: give input sides of 32 px or more"),
    (["throughput", "--sizes", "48,x"], r"argument --sizes: 'x' is not a whole number of pixels; give input sides"),
    (["throughput", "--batch-size", "-1"], r"--batch-size -1: The 'batch_size' parameter"),
    (["cnn", "--batch-size", "0"], r"--batch-size 0: The 'batch_size' parameter of DeepFeatures must be"),
    (["cnn", "--precision", "bogus"], r"--precision bogus: The 'precision' parameter of CNNFeatures"),
    (["cnn", "--dropout", "2"], r"--dropout 2.0: The 'dropout' parameter of CNNFeatures"),
    (["cnn", "--budget-min", "0"], r"--budget-min 0.0: give a number above 0"),
    (["imagenet", "--limit", "0"], r"--limit 0: give 1 or more training images"),
], ids=["unknown-backbone", "no-backbone", "unknown-precision", "zero-images", "small-size", "size-not-a-number",
        "negative-batch", "zero-batch", "cnn-precision", "cnn-dropout", "cnn-budget", "imagenet-limit"])
def test_bad_options_are_usage_errors_before_loading(bench, tmp_path, monkeypatch, capsys, args, message):
    """They failed after loading the data and starting TensorFlow, with an InvalidParameterError traceback."""
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr("sys.argv", ["bench_deep.py", *args, "--data", "synthetic", "--out", str(tmp_path / "r.json")])
    tensorflow_before = "tensorflow" in sys.modules
    usage_error(bench.main)
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "r.json").exists()
    assert tensorflow_before or "tensorflow" not in sys.modules  # checked without starting TensorFlow


@pytest.mark.parametrize("part", ["throughput", "cnn", "imagenet"])
def test_a_missing_tensorflow_names_the_extra_before_loading(bench, tmp_path, monkeypatch, part):
    from fer_classic.exceptions import MissingDependencyError

    # Found only after the data was loaded (machine() or the first extractor).
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # import tensorflow raises ImportError
    monkeypatch.setattr(bench, "load_dataset", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setattr("sys.argv", ["bench_deep.py", part, "--epochs", "1", "--data", "synthetic",
                                     "--out", str(tmp_path / "r.json")])
    with pytest.raises(MissingDependencyError, match=rf"^bench_deep.py {part} needs tensorflow, which is not "
                                                     r"installed: pip install 'fer-classic\[deep\]'$"):
        bench.main()
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("epochs, expected", [(1, {"epochs_from": "--epochs", "budget_min": None}),
                                              (None, {"epochs_from": "--budget-min", "budget_min": 45.0})],
                         ids=["epochs", "budget"])
def test_cnn_records_the_settings_it_used(bench, tiny_faces, tmp_path, monkeypatch, epochs, expected):
    """--epochs 1 recorded the unused 45-minute budget, as if the epochs had been sized by it."""
    import json
    import types

    class Fitting(Exception):
        pass

    def cnn(**params):
        raise Fitting(params)  # the section is written before the CNN is fitted

    monkeypatch.setattr(bench, "CNNFeatures", cnn)
    monkeypatch.setattr(bench, "probe_seconds_per_step", lambda *a: 0.01)
    args = types.SimpleNamespace(batch_size=128, seed=0, patience=6, precision="mixed", dropout=0.3, epochs=epochs,
                                 budget_min=45.0, probe_steps=12, out=tmp_path / "r.json", section="cnn")
    with pytest.raises(Fitting):
        bench.run_cnn(args, tiny_faces)
    section = json.loads((tmp_path / "r.json").read_text())["cnn"]
    assert {key: section[key] for key in expected} == expected
    assert section["params"]["epochs"] == (epochs or 60)  # the budget's epochs: at most 60
