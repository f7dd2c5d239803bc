"""Import optional dependencies lazily, with one error type that names the pip extra.

Modelled on scikit-learn's ``sklearn/utils/_optional_dependencies.py``: heavy
packages (TensorFlow, cuML, Dask, matplotlib, PyYAML, imbalanced-learn) are
imported inside the function that needs them, so ``import fer_classic`` and
``fer-classic --help`` stay light.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .exceptions import MissingDependencyError

__all__ = ["EXTRAS", "import_optional"]

#: Module name -> (pip extra of fer-classic, or a full pip command when none fits).
EXTRAS: dict[str, str] = {
    "tensorflow": "deep",
    "keras": "deep",
    "cuml": "gpu",
    "dask": "dask",
    "distributed": "dask",
    "matplotlib": "plot",
    "yaml": "yaml",
    "imblearn": "imbalanced",
    "ray": "ray",
    "pandas": "pip install pandas",
}


def install_hint(module: str) -> str:
    """The command that installs ``module`` (by its top-level name)."""
    extra = EXTRAS.get(module.split(".")[0], f"pip install {module.split('.')[0]}")
    return extra if extra.startswith("pip ") else f"pip install 'fer-classic[{extra}]'"


def import_optional(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"dask.distributed"``.
    purpose : str
        What needs it, e.g. ``"--backend dask"``; starts the error message.

    Returns
    -------
    module : ModuleType

    Raises
    ------
    MissingDependencyError
        When the module (or one it needs) cannot be imported.

    Examples
    --------
    >>> import_optional("json", "reading JSON").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{purpose} needs {module.split('.')[0]}, which is not installed: {install_hint(module)}"
        ) from exc
