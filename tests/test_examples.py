"""The scripts in examples/ run end to end on small data."""

import re
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.parametrize("script, args", [
    ("library_workflow.py", []),
    ("grid_search_pipeline.py", ["--limit", "280"]),
])
def test_example_runs(script, args):
    result = subprocess.run([sys.executable, str(REPO / "examples" / script), *args],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout


@pytest.mark.parametrize("script, args, message", [
    ("grid_search_pipeline.py", ["--limit", "-1"], "--limit -1: give 1 or more training images"),
    ("grid_search_pipeline.py", ["--limit", "0"], "--limit 0: give 1 or more training images"),
    ("grid_search_pipeline.py", ["--data", "{tmp}/missing"], "--data .*missing does not exist"),
    ("library_workflow.py", ["--data", "{tmp}/missing"], "--data .*missing does not exist"),
    ("library_workflow.py", ["--features", "hogg"], "--features hogg: Unknown features hogg; choose from .*hog, lbp"),
    ("library_workflow.py", ["--features", "hog+"], r"--features hog\+: Features 'hog\+' hold an empty name"),
    ("library_workflow.py", ["--clf", "nope"], "--clf nope: unknown classifier; choose from svm, linear-svm"),
], ids=["negative-limit", "zero-limit", "grid-missing-data", "workflow-missing-data", "workflow-unknown-features",
        "workflow-empty-feature-name", "workflow-unknown-clf"])
def test_bad_arguments_are_usage_errors_without_a_traceback(tmp_path, script, args, message):
    result = subprocess.run([sys.executable, str(REPO / "examples" / script), *(a.format(tmp=tmp_path) for a in args)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert re.search(message, result.stderr) and "Traceback" not in result.stderr


def test_hog_sift_grid_file_names_the_svm_parameters():
    from fer_classic.model_selection import load_grid
    grid = load_grid(REPO / "examples" / "grid_hog_sift.json", "hog+sift")
    assert set(grid) == {"clf__estimator__C", "clf__estimator__gamma"}
