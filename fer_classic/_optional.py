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
        When the module (or one it needs) cannot be imported: "not installed"
        when the module itself (or a package of the same extra) is missing,
        otherwise "installed but failed to import" quoting the ImportError
        (a version that does not match the installed scikit-learn, a missing
        dependency of its own).

    Examples
    --------
    >>> import_optional("json", "reading JSON").__name__
    'json'
    """
    top = module.split(".")[0]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if _is_missing(module, exc):
            message = f"{purpose} needs {top}, which is not installed: {install_hint(module)}"
            raise MissingDependencyError(message) from exc
        # Installed but broken (imbalanced-learn 0.12 under scikit-learn 1.6: "cannot import name 'parse_version'"):
        # "not installed" sent users to reinstall what they had.
        raise MissingDependencyError(
            f"{purpose} needs {top}, which is installed but failed to import: {type(exc).__name__}: {exc}; "
            f"install a version that matches the others: pip install -U {_package_spec(module)}"
        ) from exc


def _is_missing(module: str, exc: ImportError) -> bool:
    # A ModuleNotFoundError for the module, one of its packages, or a package of its extra (dask.distributed
    # without distributed); any other ImportError is raised by an installed package that failed to import.
    # dask.distributed words distributed's ModuleNotFoundError as a plain ImportError of its own: its cause names it.
    while not (isinstance(exc, ModuleNotFoundError) and exc.name):
        exc = exc.__cause__ or exc.__context__
        if not isinstance(exc, ImportError):
            return False
    name, top = exc.name, module.split(".")[0]
    if module == name or module.startswith(name + "."):
        return True
    return EXTRAS.get(name.split(".")[0], "") == EXTRAS.get(top) and top in EXTRAS


def _package_spec(module: str) -> str:
    hint = install_hint(module)
    return hint.removeprefix("pip install ")
