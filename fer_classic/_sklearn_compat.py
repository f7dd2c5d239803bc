"""The one place fer-classic reaches scikit-learn's private API.

Like imbalanced-learn's ``imblearn/utils/_sklearn_compat.py``: estimators
import parameter validation (``_fit_context``, the constraint types) and
``validate_data`` from here, so that a move inside scikit-learn is fixed in
this module alone. scikit-learn >= 1.8 is required (pyproject.toml).
"""

from __future__ import annotations

from numbers import Integral, Number, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    InvalidParameterError,
    Options,
    RealNotInt,
    StrOptions,
    make_constraint,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils.metadata_routing import _routing_enabled as routing_enabled
from sklearn.utils.multiclass import _ovr_decision_function
from sklearn.utils.validation import _check_sample_weight, validate_data

__all__ = [
    "HasMethods",
    "Hidden",
    "Integral",
    "Interval",
    "InvalidParameterError",
    "N_JOBS",
    "Options",
    "Real",
    "RealNotInt",
    "routing_enabled",
    "SequenceOf",
    "StrOptions",
    "_check_sample_weight",
    "_fit_context",
    "check_sample_weight",
    "_ovr_decision_function",
    "check_parameter_constraints",
    "validate_data",
    "wants_number",
    "validate_parameter_constraints",
    "validate_params",
]


#: Constraint of an ``n_jobs`` parameter: jobs as joblib counts them (1 or more, -1 all CPUs, -2 all but one, ...)
#: or None. Not 0: joblib refuses it ("n_jobs == 0 in Parallel has no meaning"), and only once a pool starts,
#: or never where none does (scikit-learn's own ``[Integral, None]`` lets it through).
N_JOBS = [Interval(Integral, None, -1, closed="right"), Interval(Integral, 1, None, closed="left"), None]


def wants_number(owner, name: str) -> bool:
    """Whether parameter ``name`` of ``owner`` takes numbers but no booleans (a bool there is a slip: True as 1).

    By its scikit-learn constraints where it has them, else by the type of its default value.
    """
    constraints = getattr(owner, "_parameter_constraints", {}).get(name)
    if constraints is not None:
        if constraints == "no_validation":
            return False
        takes_bool = any(c in ("boolean", "no_validation", bool, object) or
                         (isinstance(c, Options) and (True in c.options or False in c.options))
                         for c in constraints)
        takes_number = any(isinstance(c, Interval) or (isinstance(c, type) and issubclass(c, Number)
                                                       and c is not bool) for c in constraints)
        return takes_number and not takes_bool
    try:
        default = owner.get_params(deep=False).get(name)
    except AttributeError:
        return False
    return isinstance(default, Number) and not isinstance(default, (bool, np.bool_))


def check_sample_weight(sample_weight, X, **kwargs) -> np.ndarray:
    """``sample_weight`` as a float array of one weight per row of ``X`` (ones for None), none negative.

    scikit-learn's ``_check_sample_weight`` (``kwargs`` go to it), then a
    refusal of negative weights that names the first such row: libsvm would
    leave those rows out unsaid and a ridge's square roots of them turn the
    whole model into NaN.

    Raises
    ------
    ValueError
        If a weight is negative (or, from scikit-learn, not finite or not one per row).
    """
    weights = _check_sample_weight(sample_weight, X, **kwargs)
    negative = np.flatnonzero(weights < 0)
    if len(negative):
        first = int(negative[0])
        raise ValueError(f"sample_weight holds {len(negative)} negative value(s) (row {first}: {weights[first]:g}); "
                         "weights must be 0 or more (0 leaves a row out).")
    return weights


def check_parameter_constraints(estimator) -> None:
    """Check ``estimator``'s ``_parameter_constraints`` now (scikit-learn checks them when ``fit`` starts).

    Raises
    ------
    InvalidParameterError
        (a ValueError and TypeError) naming the estimator, the parameter and what it takes.
    """
    estimator._validate_params()


class SequenceOf(HasMethods):
    """A tuple or list (or 1-D array) whose items all satisfy ``item``, e.g. ``pixels_per_cell=(8, 8)``.

    Parameters
    ----------
    item : constraint
        What every item must satisfy (an :class:`Interval`, a type, ...).
    length : int, optional
        Exact number of items; default any number from one up.

    Notes
    -----
    scikit-learn's ``make_constraint`` accepts only its own constraint
    classes, so this one derives from :class:`HasMethods` (requiring no
    method) and replaces its test; the invalid value scikit-learn's
    ``check_param_validation`` generates for it (a bare object) is invalid
    here too.
    """

    def __init__(self, item, *, length: int | None = None):
        super().__init__([])
        self.item = make_constraint(item)
        self.length = length

    def is_satisfied_by(self, val) -> bool:
        if isinstance(val, np.ndarray):
            if val.ndim != 1:
                return False
            val = val.tolist()
        if not isinstance(val, (tuple, list)):
            return False
        if (len(val) != self.length) if self.length is not None else not val:
            return False
        return all(self.item.is_satisfied_by(v) for v in val)

    def __str__(self) -> str:
        count = f"{self.length} items" if self.length is not None else "one or more items"
        return f"a tuple of {count}, each {self.item}"
