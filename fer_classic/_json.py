"""JSON as fer-classic reads it from users: a key given twice in one object is refused.

``json.loads`` keeps the last value of a repeated key without a word; a
``--param``, ``--values`` or grid file that gives one twice most likely
holds a typo, so every reader takes its ``object_pairs_hook`` from here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable


def unique_keys(refuse: Callable[[str], Exception]) -> Callable[[list], dict]:
    """A ``json.loads`` ``object_pairs_hook`` raising ``refuse(key)`` for the first key an object repeats.

    Parameters
    ----------
    refuse : callable
        Takes the repeated key, returns the exception to raise (each reader
        words its own: the option, or the file).

    Examples
    --------
    >>> import json
    >>> json.loads('{"a": 1}', object_pairs_hook=unique_keys(ValueError))
    {'a': 1}
    >>> json.loads('{"a": 1, "a": 2}', object_pairs_hook=unique_keys(ValueError))
    Traceback (most recent call last):
    ...
    ValueError: a
    """
    def pairs(items: list) -> dict:
        counts = Counter(key for key, _ in items)
        twice = next((key for key, _ in items if counts[key] > 1), None)
        if twice is not None:
            raise refuse(twice)
        return dict(items)

    return pairs


def finite_json(value, replace: Callable[[float], object]):
    """``value`` (dicts, lists, tuples, scalars) with each NaN or infinity ``replace(number)``, for strict JSON.

    ``json.dumps`` writes bare ``NaN`` and ``Infinity``, which JSON parsers refuse: ``inspect --json``
    writes them as the strings ``json`` spells them (``json.dumps``), the benchmarks' results as null.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return replace(value)
    if isinstance(value, dict):
        return {key: finite_json(item, replace) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(item, replace) for item in value]
    return value
