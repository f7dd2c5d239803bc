"""Command line: model file formats, trust, and ``inspect``."""

import json

import pytest
from click.testing import CliRunner

from fer_classic.cli import main


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def foreign_model(tmp_path_factory, tiny_faces):
    """A joblib model signed with another user's key, as if downloaded."""
    from fer_classic import fit_model

    patcher = pytest.MonkeyPatch()
    patcher.setenv("FER_CLASSIC_HOME", str(tmp_path_factory.mktemp("elsewhere")))
    path = tmp_path_factory.mktemp("download") / "m.joblib"
    fit_model(tiny_faces, features="hog", clf="logreg", out=path)
    patcher.undo()
    return path


def test_fit_format_skops_writes_a_skops_file(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, ["fit", "--features", "pixels", "--clf", "knn", "--format", "skops"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "fer_model.skops").is_file() and not (tmp_path / "fer_model.joblib").exists()


@pytest.mark.parametrize("command", ["fit", "search"])
@pytest.mark.parametrize("fmt, out", [("skops", "m.joblib"), ("joblib", "m.skops")])
def test_a_format_the_out_suffix_contradicts_is_refused_before_loading(runner, tmp_path, monkeypatch, command, fmt,
                                                                       out):
    monkeypatch.chdir(tmp_path)
    for module in ("workflow", "model_selection"):
        monkeypatch.setattr(f"fer_classic.{module}.load_data", lambda *a, **k: pytest.fail("data loaded"))
    result = runner.invoke(main, [command, "--features", "pixels", "--clf", "knn", "--format", fmt, "--out", out])
    assert result.exit_code == 1
    assert f"format={fmt!r} (--format) writes a {fmt} file, but {out} (--out) ends in" in result.output
    assert list(tmp_path.iterdir()) == []


def test_evaluate_refuses_a_foreign_joblib_file_and_says_why(runner, foreign_model, folder_dataset):
    result = runner.invoke(main, ["evaluate", str(foreign_model), "--data", str(folder_dataset)])
    assert result.exit_code != 0
    assert "not written by fer-classic on this machine" in result.output and "--trust" in result.output


def test_evaluate_trust_loads_a_foreign_joblib_file(runner, foreign_model, folder_dataset):
    result = runner.invoke(main, ["evaluate", str(foreign_model), "--data", str(folder_dataset), "--trust", "--json"])
    assert result.exit_code == 0, result.output
    assert "accuracy" in json.loads(result.stdout)


def test_inspect_shows_metadata_without_trust(runner, foreign_model):
    result = runner.invoke(main, ["inspect", str(foreign_model)])
    assert result.exit_code == 0, result.output
    assert "not signed here" in result.output and "classes" in result.output and "logreg" in result.output


def test_inspect_lists_skops_types(runner, tmp_path, tiny_faces):
    from fer_classic import fit_model

    path = fit_model(tiny_faces, features="hog", clf="logreg", out=tmp_path / "m.skops").path
    result = runner.invoke(main, ["inspect", str(path), "--json"])
    info = json.loads(result.stdout)
    assert "fer_classic.features._hog.HOGFeatures" in info["untrusted_types"] and info["types_needing_trust"] == []


def test_inspect_reports_a_truncated_file(runner, tmp_path, foreign_model):
    path = tmp_path / "cut.joblib"
    path.write_bytes(foreign_model.read_bytes()[:1000])
    result = runner.invoke(main, ["inspect", str(path)])
    assert result.exit_code != 0 and "truncated" in result.output


@pytest.fixture
def foreign_type_skops(tmp_path, fitted_model, tiny_faces):
    """A skops model naming a function outside fer-classic's list: _operator.neg."""
    import operator

    from sklearn.dummy import DummyClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from fer_classic import save_model
    from fer_classic.persistence import FERModel

    pipeline = make_pipeline(FunctionTransformer(operator.neg), DummyClassifier()).fit(tiny_faces.X, tiny_faces.y)
    model = FERModel(pipeline, {**fitted_model.metadata, "classes": list(pipeline.classes_)})
    return save_model(model, tmp_path / "m.skops")


def test_inspect_says_which_names_the_user_trusted(runner, foreign_type_skops):
    result = runner.invoke(main, ["inspect", str(foreign_type_skops), "--trust-type", "_operator.neg"])
    assert result.exit_code == 0, result.output
    assert "needs trust    nothing more: you trusted _operator.neg; every other type" in result.output


def test_evaluate_refusing_a_skops_file_names_the_trust_type_option(runner, foreign_type_skops, folder_dataset):
    result = runner.invoke(main, ["evaluate", str(foreign_type_skops), "--data", str(folder_dataset)])
    assert result.exit_code == 1 and "'--trust-type NAME' once per name" in result.output


@pytest.mark.parametrize("command", [["evaluate"], ["compare", "{model}"]], ids=["evaluate", "compare"])
def test_trust_type_loads_a_skops_file_naming_that_type(runner, foreign_type_skops, folder_dataset, command):
    args = [a.format(model=foreign_type_skops) for a in command]  # compare had --trust alone
    result = runner.invoke(main, [*args, str(foreign_type_skops), "--data", str(folder_dataset),
                                  "--trust-type", "_operator.neg", "--json"])
    assert result.exit_code == 0, result.output


def test_inspect_json_gives_a_nan_of_the_metadata_as_null(runner, tmp_path, fitted_model):
    from fer_classic import save_model
    from fer_classic.persistence import FERModel

    metadata = {**fitted_model.metadata, "metrics": {"accuracy": float("nan")}}
    path = save_model(FERModel(fitted_model.pipeline, metadata), tmp_path / "m.joblib")
    result = runner.invoke(main, ["inspect", str(path), "--json"])
    info = json.loads(result.stdout, parse_constant=lambda word: pytest.fail(f"{word} is not JSON"))
    assert info["metadata"]["metrics"] == {"accuracy": None}  # null, as every --json output writes it


def test_inspect_shows_the_parameters_and_options_the_model_was_fitted_with(runner, tmp_path, fitted_model):
    from fer_classic import save_model
    from fer_classic.persistence import FERModel

    # Only --json showed them: a user could not see in the text that --param C=3 or --preprocess was applied.
    metadata = {**fitted_model.metadata, "params": {"C": "3", "gamma": "'scale'"},
                "pipeline_options": {"preprocess": "clahe", "flip": True, "mirror_kernel": False}}
    path = save_model(FERModel(fitted_model.pipeline, metadata), tmp_path / "m.joblib")
    lines = runner.invoke(main, ["inspect", str(path)]).stdout.splitlines()
    assert "parameters     C=3, gamma='scale'" in lines and "options        preprocess=clahe, flip" in lines
