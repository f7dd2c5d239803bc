"""JSON as fer-classic reads it from users, and as it writes it.

Reading: ``json.loads`` keeps the last value of a repeated key without a
word; a ``--param``, ``--values`` or grid file that gives one twice most
likely holds a typo, so every reader takes its ``object_pairs_hook`` from here.

Writing: every ``--json`` output and ``metrics.json`` go through
:func:`output_json`, strict JSON with one convention for what JSON cannot
hold (see there).
"""

from __future__ import annotations

import json
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

    ``json.dumps`` writes bare ``NaN`` and ``Infinity``, which JSON parsers refuse: the ``--json`` outputs
    (:func:`output_json`) and the benchmarks' results write them as null.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return replace(value)
    if isinstance(value, dict):
        return {key: finite_json(item, replace) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(item, replace) for item in value]
    return value


def _valid(value):
    """``value`` with every text (keys too) as valid Unicode: a non-UTF-8 name's bytes as ``\\xNN``."""
    from ._display import valid_text

    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, dict):
        return {_valid(key) if isinstance(key, str) else key: _valid(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_valid(item) for item in value]
    return value


def output_json(value, **kwargs) -> str:
    """The strict JSON text of an output (``--json``, ``metrics.json``): ``json.dumps`` with one convention.

    A NaN or infinity (a score no image defined, a stranger's metadata) is
    written as ``null``, and ``allow_nan=False`` makes sure no bare ``NaN``
    can ever reach the output. A file name that is not valid UTF-8 (its
    undecodable bytes reach Python as lone surrogates) is written with those
    bytes as the four characters ``\\xNN`` (``\\xff``), as the tables, the
    CSVs and the HTML report show it (:func:`fer_classic._display.valid_text`);
    a valid name is written exactly.

    Parameters
    ----------
    value : object
        Dicts, lists, tuples, strings, numbers, booleans and None.
    **kwargs
        Passed on to ``json.dumps`` (``indent``, ``default``).

    Returns
    -------
    str

    Examples
    --------
    >>> print(output_json({"accuracy": float("nan"), "source": b"\\xffx.png".decode("utf-8", "surrogateescape")}))
    {"accuracy": null, "source": "\\\\xffx.png"}
    """
    return json.dumps(finite_json(_valid(value), lambda number: None), allow_nan=False, **kwargs)
