"""benchmarks/bench_mirror_kernel.py: the mirror-averaged RBF kernel and its local refinement."""

import json

import numpy as np
import pytest
from sklearn.metrics.pairwise import rbf_kernel as sklearn_rbf

from conftest import FER_SAMPLE_CSV, benchmark_module

GAMMA = 0.3


@pytest.fixture(scope="module")
def bench():
    return benchmark_module("bench_mirror_kernel")


@pytest.fixture
def rows():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((n, 5)).astype(np.float32) for n in (9, 9, 4, 4)]  # P, P', Q, Q'


def test_rbf_kernel_matches_scikit_learn(bench, rows):
    P, _, Q, _ = rows
    np.testing.assert_allclose(bench.rbf_kernel(P, Q, GAMMA), sklearn_rbf(P, Q, gamma=GAMMA), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("same", [True, False], ids=["training-matrix", "test-rows"])
def test_the_mirror_averaged_kernel_is_the_mean_over_both_orientations(bench, rows, same):
    P, P_mirror, Q, Q_mirror = rows
    if same:
        Q, Q_mirror = P, P_mirror
    expected = sum(sklearn_rbf(a, b, gamma=GAMMA) for a in (P, P_mirror) for b in (Q, Q_mirror)) / 4
    K = bench.rbf_kernel(P, Q, GAMMA)
    np.testing.assert_allclose(bench.mirror_averaged(K, P, P_mirror, Q, Q_mirror, GAMMA), expected,
                               rtol=1e-5, atol=1e-6)


def test_the_mirror_averaged_training_kernel_is_positive_semidefinite(bench, rows):
    P, P_mirror, _, _ = rows
    K = bench.mirror_averaged(bench.rbf_kernel(P, P, GAMMA), P, P_mirror, P, P_mirror, GAMMA)
    assert np.linalg.eigvalsh(K.astype(np.float64)).min() > -1e-5


def test_a_one_class_neighbourhood_adds_a_vote_for_its_class_alone(bench):
    K = np.eye(4, dtype=np.float32)
    K_test = np.array([[0.9, 0.8, 0.0, 0.0]], dtype=np.float32)  # nearest: the two class-1 faces
    codes = np.array([1, 1, 0, 2])
    scores = bench.local_refine(K, K_test, codes, 3, np.zeros((1, 3)), k=2, C=1.0)
    np.testing.assert_array_equal(scores, [[-1.0, 1.0, -1.0]])


@pytest.mark.skipif(not FER_SAMPLE_CSV.exists(), reason=f"needs the FER2013 sample at {FER_SAMPLE_CSV}")
def test_the_benchmark_writes_the_plain_averaged_and_local_rows(bench, tmp_path):
    out = tmp_path / "mirror.json"
    bench.main(["--data", str(FER_SAMPLE_CSV), "--feature-set", "hog", "--no-block-scaling", "--local-k", "30",
                "--out", str(out)])
    saved = json.loads(out.read_text())
    assert [row["model"] for row in saved["rows"]] == [
        "svm, plain kernel", "svm, mirror-averaged kernel", "local-svm refine k=30, mirror-averaged"]
    assert all(0 <= row["private"]["accuracy"] <= 1 for row in saved["rows"])


@pytest.mark.skipif(not FER_SAMPLE_CSV.exists(), reason=f"needs the FER2013 sample at {FER_SAMPLE_CSV}")
def test_a_local_k_above_the_training_rows_stops_before_the_features(bench, tmp_path):
    with pytest.raises(SystemExit, match="--local-k 100000"):
        bench.main(["--data", str(FER_SAMPLE_CSV), "--feature-set", "hog", "--local-k", "100000",
                    "--out", str(tmp_path / "mirror.json")])
