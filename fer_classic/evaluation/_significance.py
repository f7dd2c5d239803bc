"""Paired significance test of two classifiers on the same images (McNemar)."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["mcnemar_test"]

_METHODS = ("auto", "exact", "chi2")


def _correct(values, name: str) -> np.ndarray:
    """``values`` as booleans; 0 / 1 pass, other numbers (labels or counts given by mistake) do not."""
    values = np.asarray(values)
    if values.dtype == object and all(isinstance(v, (bool, np.bool_)) for v in values.ravel()):
        values = values.astype(bool)  # booleans in an object column (pandas)
    if values.dtype != bool:
        if values.dtype.kind not in "uif" or not np.isin(values, (0, 1)).all():
            raise ValueError(f"{name} must hold whether each image was classified right (True/False or 1/0); "
                             f"got values such as {values.ravel()[:3].tolist()} (compare predictions with the "
                             "labels first: y_pred == y_true).")
        values = values.astype(bool)
    return values


def mcnemar_test(correct_a, correct_b, *, method: str = "auto") -> dict:
    """McNemar's test of whether two classifiers err on the same images equally often.

    Only the discordant images count: ``b`` = A right and B wrong, ``c`` = A
    wrong and B right. Under the null hypothesis (equal error rates) each
    discordant image is equally likely to go either way.

    Parameters
    ----------
    correct_a, correct_b : array-like of bool, shape (n_samples,)
        Whether each classifier got each image right (same images, same order).
    method : {"auto", "exact", "chi2"}, default="auto"
        ``exact``: two-sided binomial test of ``b`` out of ``b + c`` at 0.5
        (:func:`scipy.stats.binomtest`). ``chi2``: chi-square with continuity
        correction, ``(|b - c| - 1)**2 / (b + c)`` on 1 degree of freedom.
        ``auto``: exact when ``b + c < 25``, else chi2.

    Returns
    -------
    dict
        ``b``, ``c``, ``method`` (the one used), ``statistic`` (``b`` for
        exact, the chi-square value for chi2) and ``p_value`` (1.0 when the
        classifiers never disagree).

    Raises
    ------
    ValueError
        If the inputs differ in length, are empty, hold values other than
        True/False (or 1/0), or ``method`` is unknown.
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(_METHODS)}; got {method!r}.")
    correct_a, correct_b = (_correct(v, name) for v, name in ((correct_a, "correct_a"), (correct_b, "correct_b")))
    if correct_a.shape != correct_b.shape or correct_a.ndim != 1:
        raise ValueError(
            f"correct_a and correct_b must be 1-D and of one length (the same images); got shapes "
            f"{correct_a.shape} and {correct_b.shape}."
        )
    if not len(correct_a):  # no image: no evidence either way, not a p-value of 1
        raise ValueError("correct_a and correct_b are empty: the test needs the results of both classifiers on "
                         "at least one image.")
    b = int(np.sum(correct_a & ~correct_b))
    c = int(np.sum(~correct_a & correct_b))
    used = ("exact" if b + c < 25 else "chi2") if method == "auto" else method
    if b + c == 0:
        return {"b": b, "c": c, "method": used, "statistic": 0.0, "p_value": 1.0}
    if used == "exact":
        statistic = float(b)
        p_value = float(stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)
    else:
        statistic = (abs(b - c) - 1) ** 2 / (b + c)
        p_value = float(stats.chi2.sf(statistic, df=1))
    return {"b": b, "c": c, "method": used, "statistic": float(statistic), "p_value": min(1.0, p_value)}
