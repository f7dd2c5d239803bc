"""Property-based tests of the command line: any option value and any output path end in one clean line."""

import os

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_classic._fileio import check_outputs
from fer_classic.cli import main
from fer_classic.exceptions import FerClassicError, OutputPathError

# too_slow as the other fuzz modules: the suite runs on busy cores (xdist workers side by side).
_SETTINGS = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class _Reached(FerClassicError):
    """Raised where the data would be loaded: every option passed its checks."""


@pytest.fixture
def stop_at_loading(monkeypatch):
    def reached(*args, **kwargs):
        raise _Reached("options accepted")

    for target in ("fer_classic.workflow.load_data", "fer_classic.model_selection.load_data"):
        monkeypatch.setattr(target, reached)


_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
_value = st.one_of(_text, st.integers(-10**20, 10**20).map(str), st.floats(allow_nan=True).map(repr),
                   st.sampled_from(["inf", "-inf", "nan", "[1,2]", "{}", "null", "true", "balanced", "1e400"]))
_param_name = st.sampled_from(["C", "gamma", "tol", "cache_size", "backend", "class_weight", "n_components",
                               "probability", "precompute_kernel", "random_state", "max_iter", "x", ""])


def _assert_clean(result):
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


@_SETTINGS
@given(name=_param_name, value=_value)
def test_fit_param_values_never_raise(stop_at_loading, tmp_path, name, value):
    result = CliRunner().invoke(main, ["fit", "--param", f"{name}={value}", "--out", str(tmp_path / "m.joblib")])
    _assert_clean(result)
    assert result.exit_code != 0  # either refused or stopped where loading starts


@_SETTINGS
@given(cv=_text, groups=_text, label_map=_text)
def test_search_option_values_never_raise(stop_at_loading, tmp_path, cv, groups, label_map):
    args = ["search", "--clf", "knn", "--cv", cv, "--groups", groups, "--out", str(tmp_path / "m.joblib"),
            "--results", str(tmp_path / "r.csv")]
    _assert_clean(CliRunner().invoke(main, args))
    _assert_clean(CliRunner().invoke(main, ["fit", "--label-map", label_map, "--out", str(tmp_path / "m.joblib")]))


_parts = st.lists(st.sampled_from(["data", "train", "happy", "..", ".", "out", "a.jpg", "d.csv", "link", "dirlink",
                                   "m.joblib"]),
                  min_size=1, max_size=5)


@pytest.fixture
def tree(tmp_path):
    """tmp/data/train/happy/a.jpg, tmp/d.csv, tmp/m.joblib, tmp/link -> the image, tmp/dirlink -> data/train/happy."""
    image = tmp_path / "data" / "train" / "happy" / "a.jpg"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"jpg")
    (tmp_path / "d.csv").write_text("x")
    (tmp_path / "m.joblib").write_bytes(b"m")
    (tmp_path / "link").symlink_to(image)
    (tmp_path / "dirlink").symlink_to(image.parent, target_is_directory=True)
    return tmp_path


@_SETTINGS
@given(parts=_parts)
def test_an_accepted_output_is_never_an_input(tree, parts):
    out = tree.joinpath(*parts)
    inputs = {"MODEL": tree / "m.joblib", "--grid": tree / "d.csv"}
    try:
        check_outputs({"--out": out}, inputs=inputs, input_trees={"--data": tree / "data"}, make_parents=True)
    except OutputPathError as exc:
        assert "--out" in str(exc)
        return
    real = os.path.realpath(out)
    assert real not in {os.path.realpath(p) for p in inputs.values()}
    assert not real.startswith(os.path.realpath(tree / "data") + os.sep)
    assert not os.path.isdir(real)
