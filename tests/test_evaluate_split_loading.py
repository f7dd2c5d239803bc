"""``evaluate``/``compare --split``: what the other splits' files decide in their outputs (scale probe, F8).

``evaluate --split test`` and ``compare --split test`` decode every file of
the data, then select the split. The other splits' files are no waste of
work there: their decoding decides outputs of the command, pinned here so that
a loader decoding only the scored split would have to keep each of them:

- undecodable files of any split are counted and named (the
  SkippedFilesWarning's "N of M files", ``EvaluateResult.skipped``,
  ``--json``'s ``skipped_files``);
- a training label folder none of whose files decodes is refused
  (EmptyClassError, exit code 1);
- a fer2013.csv row of another usage with malformed pixels is refused;
- the training-copy warning recognises a copy of the model's data by its
  training split's pixels (its fingerprint);

and the scores of the split do not depend on the other splits.
"""

import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import write_csv_dataset, write_folder_dataset
from fer_classic.exceptions import DataLeakageWarning, DatasetFormatError, EmptyClassError, SkippedFilesWarning

_JUNK = b"not an image"


def _scores(metrics: dict) -> dict:
    """The figures ``evaluate`` prints and writes, bar the seconds."""
    keys = ("n", "accuracy", "accuracy_ci", "balanced_accuracy", "f1_weighted", "f1_macro", "per_class",
            "confusion_matrix", "classes", "roc_auc_macro", "roc_auc_micro")
    return {key: metrics.get(key) for key in keys}


def _n_files(root) -> int:
    return sum(1 for p in root.rglob("*") if p.is_file())


def _first_train_folder(root):
    return sorted(p for p in (root / "train").iterdir() if p.is_dir())[0]


def test_evaluate_test_split_counts_undecodable_training_file(folder_dataset, fitted_model):
    from fer_classic.workflow import evaluate_model

    broken = _first_train_folder(folder_dataset) / "broken.png"
    broken.write_bytes(_JUNK)
    n_test = sum(1 for p in (folder_dataset / "test").rglob("*.png"))
    with pytest.warns(SkippedFilesWarning, match=f"1 of {_n_files(folder_dataset)} files under "):
        result = evaluate_model(fitted_model, folder_dataset, split="test", n_jobs=1)
    assert result.n_test == n_test
    assert [path for path, _ in result.skipped] == [str(broken)]
    assert result.summary()["skipped_files"] == 1


def test_evaluate_test_split_refuses_undecodable_training_folder(folder_dataset, fitted_model):
    from fer_classic.workflow import evaluate_model

    folder = _first_train_folder(folder_dataset)
    for path in folder.iterdir():
        path.write_bytes(_JUNK)
    with pytest.raises(EmptyClassError, match=f"Label folder {folder}: none of its"):
        evaluate_model(fitted_model, folder_dataset, split="test", n_jobs=1)


def _cli_evaluate_test_split(tmp_path, folder_dataset, fitted_model, *options):
    from fer_classic import save_model
    from fer_classic.cli import main

    model = tmp_path / "m.joblib"
    save_model(fitted_model, model)
    return CliRunner().invoke(main, ["evaluate", str(model), "--data", str(folder_dataset), "--split", "test",
                                     "--n-jobs", "1", *options])


def test_cli_evaluate_test_split_json_counts_undecodable_training_file(tmp_path, folder_dataset, fitted_model):
    (_first_train_folder(folder_dataset) / "broken.png").write_bytes(_JUNK)
    result = _cli_evaluate_test_split(tmp_path, folder_dataset, fitted_model, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["skipped_files"] == 1


def test_cli_evaluate_test_split_refuses_undecodable_training_folder(tmp_path, folder_dataset, fitted_model):
    for path in _first_train_folder(folder_dataset).iterdir():
        path.write_bytes(_JUNK)
    result = _cli_evaluate_test_split(tmp_path, folder_dataset, fitted_model)
    assert result.exit_code == 1
    assert "none of its" in result.output


def test_compare_test_split_counts_undecodable_training_file(tmp_path, folder_dataset, fitted_model):
    from fer_classic import save_model
    from fer_classic.workflow import compare_model_files

    model = tmp_path / "m.joblib"
    save_model(fitted_model, model)
    (_first_train_folder(folder_dataset) / "broken.png").write_bytes(_JUNK)
    with pytest.warns(SkippedFilesWarning, match=f"1 of {_n_files(folder_dataset)} files under "):
        compare_model_files(model, folder_dataset, split="test", n_jobs=1)


def test_csv_test_split_refuses_malformed_training_row(tmp_path, tiny_faces, fitted_model):
    from fer_classic.workflow import evaluate_model

    path = write_csv_dataset(tmp_path / "fer2013.csv", tiny_faces)
    lines = path.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.endswith(",Training"))
    emotion, pixels, usage = lines[row].split(",")
    lines[row] = ",".join([emotion, "x" + pixels[1:], usage])
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetFormatError, match="pixels must be"):
        evaluate_model(fitted_model, path, split="test", n_jobs=1)


@pytest.mark.parametrize("split", ["test", None])
def test_split_scores_do_not_depend_on_other_splits(tmp_path, tiny_faces, fitted_model, split):
    """The identical-output guard: the test split scored beside the train split, and alone."""
    from fer_classic.workflow import evaluate_model

    whole = write_folder_dataset(tmp_path / "whole", tiny_faces)
    alone = write_folder_dataset(tmp_path / "alone", tiny_faces.select("test"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning either way: no skipped file, no training image scored
        beside = evaluate_model(fitted_model, whole, split="test", n_jobs=1)
        only = evaluate_model(fitted_model, alone, split=split, n_jobs=1)
    assert _scores(beside.metrics) == _scores(only.metrics)
    assert (beside.n_test, beside.skipped) == (only.n_test, only.skipped) == (len(tiny_faces.select("test")), [])


def test_train_split_of_a_copy_warned_by_its_pixels(tmp_path, tiny_faces, fitted_model):
    """The training-copy warning reads the training split's pixels: a copy under another name is recognised."""
    from fer_classic.workflow import evaluate_model

    copy = write_folder_dataset(tmp_path / "copy", tiny_faces)
    with pytest.warns(DataLeakageWarning, match="train split of synthetic"):
        result = evaluate_model(fitted_model, copy, split="train", n_jobs=1)
    assert result.n_test == int(np.sum(tiny_faces.splits == "train"))
