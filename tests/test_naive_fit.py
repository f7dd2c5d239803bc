"""benchmarks/naive_fit.py (bench_fit's baseline): argparse, bad arguments refused before any image is read."""

import re
import shutil

import pytest

from conftest import benchmark_module, usage_error


@pytest.fixture
def naive(monkeypatch):
    module = benchmark_module("naive_fit")
    monkeypatch.setattr(module, "read_split", lambda *a, **k: pytest.fail("images read"))
    return module


def test_help_shows_the_usage(naive, capsys):
    with pytest.raises(SystemExit) as exit_info:
        naive.main(["--help"])
    assert exit_info.value.code == 0
    assert "DATA_FOLDER MODEL_OUT" in capsys.readouterr().out


@pytest.mark.parametrize("case, message", [
    ("no arguments", "the following arguments are required: DATA_FOLDER, MODEL_OUT"),
    ("missing data", "DATA_FOLDER .*missing has no train/ or test/ folder"),
    ("no test split", "DATA_FOLDER .*faces has no test/ folder"),
    ("missing model folder", "MODEL_OUT .*: the folder .*nowhere does not exist"),
], ids=["no-arguments", "missing-data", "no-test-split", "missing-model-folder"])
def test_bad_arguments_are_usage_errors_before_any_image_is_read(naive, folder_dataset, tmp_path, capsys, case,
                                                                 message):
    data, out = folder_dataset, tmp_path / "model.joblib"
    if case == "missing data":
        data = tmp_path / "missing"
    elif case == "no test split":
        shutil.rmtree(folder_dataset / "test")
    elif case == "missing model folder":
        out = tmp_path / "nowhere" / "model.joblib"
    usage_error(naive.main, [] if case == "no arguments" else [str(data), str(out)])
    assert re.search(message, capsys.readouterr().err)


def test_a_model_out_onto_a_training_image_is_refused_before_any_image_is_read(naive, folder_dataset):
    image = next((folder_dataset / "train" / "happy").iterdir())  # the pickle replaced it
    before = image.read_bytes()
    with pytest.raises(SystemExit, match="MODEL_OUT .* is inside the dataset folder"):
        naive.main([str(folder_dataset), str(image)])
    assert image.read_bytes() == before
