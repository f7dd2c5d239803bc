"""Preprocessing steps by name, and their chaining (``"clahe+crop"``)."""

from __future__ import annotations

from collections.abc import Callable

from sklearn.base import TransformerMixin
from sklearn.pipeline import Pipeline

from ._crop import BorderCrop
from ._equalize import HistogramEqualizer

__all__ = ["PREPROCESSORS", "keeps_image_size", "make_preprocessing"]

#: Name → factory of a fresh, unfitted image-to-image transformer.
PREPROCESSORS: dict[str, Callable[[], TransformerMixin]] = {
    "equalize": lambda: HistogramEqualizer(method="global"),
    "clahe": lambda: HistogramEqualizer(method="clahe"),
    "crop": BorderCrop,
}


def make_preprocessing(spec: str | TransformerMixin, n_jobs: int | None = None) -> TransformerMixin:
    """Return the image preprocessing for ``spec``: one step, or a Pipeline of several in order.

    Parameters
    ----------
    spec : str or transformer
        ``"equalize"`` (global histogram equalisation), ``"clahe"``, ``"crop"``
        (10 % border, resized back), or several joined by ``+``
        (``"crop+clahe"`` crops first). A transformer instance is returned as
        it is.
    n_jobs : int, optional
        Set on every step that takes it.

    Returns
    -------
    transformer
        The step (``spec`` itself when it is a transformer), or a Pipeline of the steps named by their names.

    Raises
    ------
    ValueError
        If a name is unknown or repeated.

    Examples
    --------
    >>> make_preprocessing("crop+clahe")
    Pipeline(steps=[('crop', BorderCrop()), ('clahe', HistogramEqualizer())])
    """
    if not isinstance(spec, str):
        if not hasattr(spec, "transform"):
            raise ValueError(
                f"preprocess must be a name ({', '.join(PREPROCESSORS)}, joined with '+') or a "
                f"transformer; got {spec!r}."
            )
        return spec
    names = [part.strip().lower() for part in spec.split("+")]
    if len(names) > 1 and not all(names):  # "equalize+", "crop++clahe": as feature names, single '+' signs
        raise ValueError(f"Preprocessing {spec!r}: join step names with single '+' signs, e.g. 'crop+clahe'.")
    names = [name for name in names if name]
    unknown = [n for n in names if n not in PREPROCESSORS]
    if not names or unknown:
        raise ValueError(
            f"Unknown preprocessing {', '.join(map(repr, unknown)) or repr(spec)}; choose from "
            f"{', '.join(PREPROCESSORS)}, joined with '+' (e.g. 'crop+clahe')."
        )
    if len(set(names)) != len(names):
        raise ValueError(f"Preprocessing {spec!r} names the same step twice.")
    steps = []
    for name in names:
        step = PREPROCESSORS[name]()
        if "n_jobs" in step.get_params():
            step.set_params(n_jobs=n_jobs)
        steps.append((name, step))
    return steps[0][1] if len(steps) == 1 else Pipeline(steps)


def keeps_image_size(step) -> bool:
    """Whether the preprocessing ``step`` (one transformer or a Pipeline of them) surely keeps the image size.

    Equalisers and a :class:`BorderCrop` that resizes back do; anything else
    (a crop without resizing, a user's transformer) may not, so the steps after
    it cannot be given the input's geometry.

    Parameters
    ----------
    step : transformer or Pipeline
        The preprocessing.

    Returns
    -------
    bool
        True if its output rows surely have the input's geometry.
    """
    parts = [part for _, part in step.steps] if hasattr(step, "steps") else [step]
    return all(isinstance(part, HistogramEqualizer) or (isinstance(part, BorderCrop) and part.resize)
               for part in parts)
