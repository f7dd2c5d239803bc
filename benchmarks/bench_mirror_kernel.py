"""Exact RBF SVM on a mirror-averaged kernel against the plain kernel, on FER2013.

``--flip`` trains on every image and its mirror (twice the rows: a 57,418-row kernel
for FER2013). This script tests the other way to use the mirror images: keep one row
per face and average the RBF kernel over both orientations of both faces,

    k_m(x, y) = (k(x, y) + k(x, y') + k(x', y) + k(x', y')) / 4,

where ``x'`` is the features of the mirrored image (the kernel of the mean of a face's
two feature-space images, so it is positive semi-definite). Test faces are scored
with the same average, so prediction sees each test face and its mirror too. The
kernel matrix keeps the size of the unflipped one (28,709 rows, 3.3 GB in float32),
so local learning (``--local-k``) fits beside it on this machine.

The feature pipeline is :func:`fer_classic.make_pipeline`'s up to the classifier,
fitted on the training images only; ``gamma`` is ``"scale"`` of the unflipped
training features (``1 / (n_features * X.var())``), as ``--clf svm`` uses; C is fixed
(``--C``). The same features give the plain-kernel row (the ``svm`` row of
``bench_accuracy.py``) for comparison. ``--local-k K`` adds local learning in
``LocalSVC``'s ``refine`` mode on the averaged kernel: each test face's K nearest
training faces (kernel distance) train an SVM (C of ``--C``) whose one-vs-rest votes
are added to the global SVM's.

Usage::

    python benchmarks/bench_mirror_kernel.py                       # sift+hog+gabor, block scaling, C=10
    python benchmarks/bench_mirror_kernel.py --local-k 1600
    python benchmarks/bench_mirror_kernel.py --feature-set hog --no-block-scaling --limit 3000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.svm import SVC

from fer_classic import make_pipeline
from fer_classic.estimators._local_svc import _vote_scores
from fer_classic.estimators._rbf import centred_single, gamma_value, single_rbf
from fer_classic.preprocessing import mirror_rows

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from bench_accuracy import scores, train_and_test  # noqa: E402  (one loader and one scorer for both tables)
from bench_samplers import machine  # noqa: E402  (CPU and BLAS kernel, one definition)

_ROWS = 4096


def rbf_kernel(P: np.ndarray, Q: np.ndarray, gamma: float) -> np.ndarray:
    """``exp(-gamma * ||p - q||**2)`` for every row pair, float32, as the exact SVM computes it.

    Rows are centred on Q's mean and multiplied in float32 blocks by fer-classic's
    ``single_rbf``: ``A @ A.T`` on a whole large matrix takes NumPy's syrk path,
    which crashed here (OpenBLAS 0.3.31; numpy/numpy#19685).
    """
    centre = np.asarray(Q).mean(axis=0, dtype=np.float64)
    rows, row_norms = centred_single(P, centre)
    cols, col_norms = centred_single(Q, centre)
    K = np.empty((len(P), len(Q)), dtype=np.float32)
    work = np.empty(min(_ROWS, len(P)) * len(Q))
    for start in range(0, len(P), _ROWS):
        part = slice(start, start + _ROWS)
        single_rbf(rows[part], row_norms[part], cols, col_norms, gamma, out=K[part], work=work)
    return K


def mirror_averaged(K: np.ndarray, P: np.ndarray, P_mirror: np.ndarray, Q: np.ndarray, Q_mirror: np.ndarray,
                    gamma: float) -> np.ndarray:
    """``K`` (the plain kernel of P and Q) turned in place into the mirror-averaged kernel."""
    if P is Q:  # the training matrix: k(x, y') is the transpose of k(x', y)
        cross = rbf_kernel(P, Q_mirror, gamma)
        K += cross
        K += cross.T
        del cross
    else:
        K += rbf_kernel(P, Q_mirror, gamma)
        K += rbf_kernel(P_mirror, Q, gamma)
    K += rbf_kernel(P_mirror, Q_mirror, gamma)
    K *= 0.25
    return K


def local_refine(K: np.ndarray, K_test: np.ndarray, codes: np.ndarray, n_classes: int, global_scores: np.ndarray,
                 k: int, C: float) -> np.ndarray:
    """Global one-vs-rest scores plus each test face's local SVM scores (LocalSVC's ``refine``)."""
    diagonal = np.diag(K).copy()
    scores = global_scores.copy()
    for i, row in enumerate(K_test):
        # nearest = smallest kernel distance k(x,x) + k(t,t) - 2 k(x,t); k(x,x) is common
        neighbours = np.sort(np.argpartition(diagonal - 2 * row, k - 1)[:k])
        local = codes[neighbours]
        present = np.unique(local)
        local_scores = np.full(n_classes, -1.0)
        if len(present) == 1:  # a one-class neighbourhood needs no SVM
            local_scores[present[0]] = 1.0
        else:
            svc = SVC(C=C, kernel="precomputed").fit(K[np.ix_(neighbours, neighbours)].astype(np.float64), local)
            decision = svc.decision_function(row[neighbours][None, :].astype(np.float64))
            local_scores[svc.classes_] = _vote_scores(decision, len(svc.classes_))[0]
        scores[i] += local_scores
    return scores


def score_row(name: str, predicted: np.ndarray, test, fit_s: float, predict_s: float) -> dict:
    """Accuracy and F1 on all test images, PrivateTest and PublicTest (when the data has usages)."""
    row = {"model": name, "fit_s": round(fit_s, 1), "predict_s": round(predict_s, 1)}
    for part, mask in [("all", np.ones(len(test), bool)), ("private", test.usages == "PrivateTest"),
                       ("public", test.usages == "PublicTest")]:
        if mask.any():
            row[part] = scores(test.y[mask], predicted[mask])
    return row


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "fer2013"))
    parser.add_argument("--feature-set", default="sift+hog+gabor")
    parser.add_argument("--no-block-scaling", dest="block_scaling", action="store_false")
    parser.add_argument("--C", type=float, default=10.0)
    parser.add_argument("--local-k", type=int, default=0, help="add local learning (refine) with this k")
    parser.add_argument("--limit", type=int, default=0, help="a stratified subset of this many training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--out", default="benchmarks/results/bench_mirror_kernel.json")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    data, train, test = train_and_test(args.data, args.limit, args.seed)
    if args.local_k and args.local_k > len(train):
        raise SystemExit(f"--local-k {args.local_k}: the training set has {len(train)} images; use at most that.")
    print(f"loaded {data.name}: {len(train)} train, {len(test)} test in {time.perf_counter() - start:.1f} s",
          flush=True)
    head = make_pipeline(args.feature_set, "linear-svm", block_scaling=args.block_scaling,
                         random_state=args.seed, n_jobs=args.n_jobs)[:-1]
    t0 = time.perf_counter()
    F = head.fit_transform(train.X, train.y)
    features_fit_s = time.perf_counter() - t0
    F_mirror = head.transform(mirror_rows(train.X, train.image_shape))
    features_mirror_s = time.perf_counter() - t0 - features_fit_s
    t0 = time.perf_counter()
    T = head.transform(test.X)
    features_test_s = time.perf_counter() - t0
    T_mirror = head.transform(mirror_rows(test.X, test.image_shape))
    features_test_mirror_s = time.perf_counter() - t0 - features_test_s
    gamma = gamma_value("scale", F)  # as --clf svm resolves it, on the unflipped training features
    print(f"{args.feature_set}: {F.shape[1]} features; train {features_fit_s:.1f} s (+ mirrors "
          f"{features_mirror_s:.1f} s), test {features_test_s:.1f} s (+ mirrors {features_test_mirror_s:.1f} s); "
          f"gamma {gamma:.4g}", flush=True)

    classes, codes = np.unique(train.y, return_inverse=True)
    rows = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {"data": str(data.name), "n_train": len(train), "n_test": len(test), "feature_set": args.feature_set,
              "block_scaling": args.block_scaling, "C": args.C, "gamma": gamma, "local_k": args.local_k,
              "seed": args.seed, "features_s": {"train": round(features_fit_s, 1), "train_mirrors":
                                                round(features_mirror_s, 1), "test": round(features_test_s, 1),
                                                "test_mirrors": round(features_test_mirror_s, 1)},
              "machine": machine()}

    def report(row: dict) -> None:
        rows.append(row)
        shown = "  ".join(f"{part} {row[part]['accuracy']:.4f}" for part in ("all", "private", "public") if part in row)
        print(f"{row['model']:<40} {shown}  fit {row['fit_s']:.1f} s  predict {row['predict_s']:.1f} s", flush=True)
        out.write_text(json.dumps({**config, "total_s": round(time.perf_counter() - start, 1), "rows": rows},
                                  indent=1))

    def fit_score(name: str, K: np.ndarray, K_test: np.ndarray, kernel_s: float, test_kernel_s: float) -> SVC:
        t0 = time.perf_counter()
        svc = SVC(C=args.C, kernel="precomputed").fit(K.astype(np.float64), codes)
        fit_s = time.perf_counter() - t0 + kernel_s
        t0 = time.perf_counter()
        predicted = classes[svc.predict(K_test.astype(np.float64))]
        report(score_row(name, predicted, test, fit_s, time.perf_counter() - t0 + test_kernel_s))
        return svc

    t0 = time.perf_counter()
    K = rbf_kernel(F, F, gamma)
    kernel_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    K_test = rbf_kernel(T, F, gamma)
    test_kernel_s = time.perf_counter() - t0
    fit_score("svm, plain kernel", K, K_test, kernel_s, test_kernel_s)

    t0 = time.perf_counter()
    K = mirror_averaged(K, F, F_mirror, F, F_mirror, gamma)
    kernel_s += time.perf_counter() - t0
    t0 = time.perf_counter()
    K_test = mirror_averaged(K_test, T, T_mirror, F, F_mirror, gamma)
    test_kernel_s += time.perf_counter() - t0
    svc = fit_score("svm, mirror-averaged kernel", K, K_test, kernel_s, test_kernel_s)

    if args.local_k:
        t0 = time.perf_counter()
        global_scores = svc.decision_function(K_test.astype(np.float64))
        scores = local_refine(K, K_test, codes, len(classes), global_scores, args.local_k, args.C)
        name = f"local-svm refine k={args.local_k}, mirror-averaged"
        report(score_row(name, classes[np.argmax(scores, axis=1)], test, 0.0, time.perf_counter() - t0))
    return rows


if __name__ == "__main__":
    main()
