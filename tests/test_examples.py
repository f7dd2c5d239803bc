"""The scripts in examples/ run end to end on small data."""

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


def test_hog_sift_grid_file_names_the_svm_parameters():
    from fer_classic.model_selection import load_grid
    grid = load_grid(REPO / "examples" / "grid_hog_sift.json", "hog+sift")
    assert set(grid) == {"clf__estimator__C", "clf__estimator__gamma"}
