"""What both model file formats share: the fer-classic header and its checks.

Each file carries a plain header (``format``, ``format_version``,
``file_format``, ``metadata``, ``payload_sha256``, ``signature``) that is read
and checked before any of the model itself is.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

from .._display import one_line
from .._fileio import require_regular_file
from .._version import __version__
from ..exceptions import IncompatibleModelError, ModelFileError, ModelIntegrityError, VersionMismatchWarning
from ._model import library_versions
from ._signing import sign

__all__ = [
    "FACE_CROPPER_KEY",
    "FACE_DETECTOR_DIGEST_KEY",
    "FORMAT",
    "FORMAT_VERSION",
    "MODEL_FORMATS",
    "REQUIRED_METADATA",
    "check_digest",
    "check_loaded",
    "check_header",
    "check_metadata",
    "check_version",
    "fill_new_parameters",
    "make_header",
    "metadata_type_problems",
    "missing_metadata",
    "model_format",
    "model_problem",
    "model_path",
    "warn_versions",
]

FORMAT = "fer-classic-model"
#: Bumped when the layout of the saved file changes incompatibly.
#: 1: joblib pickle of {format, format_version, metadata, pipeline} (read with trusted=True).
#: 2: signed, checksummed header around the payload; skops files.
FORMAT_VERSION = 2
MODEL_FORMATS = ("joblib", "skops")

#: Key of the face cropper's parameters in a model's metadata (``fit --crop``, ``with_face_cropper``).
FACE_CROPPER_KEY = "face_cropper"
#: Key of the SHA-256 of the detector file the cropper names (``detector_model``), recorded with it: the
#: path is kept as given, so a relative one finds whatever file has that name where a command runs.
FACE_DETECTOR_DIGEST_KEY = "face_detector_sha256"

#: Metadata keys that using a loaded model needs, with what each must hold:
#: checked at load time so a bad file fails there, naming the key, and not
#: later inside ``predict``.
REQUIRED_METADATA = {"image_shape": "[height, width], two positive integers"}

_HEADER_FIELDS = {"metadata": dict, "payload_sha256": str, "signature": str}


def model_format(path: str | os.PathLike, format: str | None = None, *,
                 options: tuple[str, str] | None = ("--format", "--out")) -> str:
    """The file format to write: ``format`` if given, else by suffix (``.skops`` or joblib).

    Parameters
    ----------
    path : path
        The file to write.
    format : {"joblib", "skops"}, optional
        The format asked for; None: by the suffix of ``path``.
    options : (str, str) or None, default=("--format", "--out")
        The names of ``format`` and ``path`` that the message of a
        contradiction gives (the command line's), or None for the Python names
        (``save_model``'s ``format`` and ``path``).

    Returns
    -------
    str
        ``"joblib"`` or ``"skops"``.

    Raises
    ------
    ValueError
        If ``format`` is unknown, or the other format's suffix ends ``path``
        (a skops file named ``.joblib``, or the reverse).
    """
    suffix = Path(path).suffix
    if format is None:
        return "skops" if suffix.lower() == ".skops" else "joblib"
    if format not in MODEL_FORMATS:
        raise ValueError(f"format must be one of {MODEL_FORMATS}; got {format!r}.")
    if suffix.lower() in {f".{name}" for name in MODEL_FORMATS} - {f".{format}"}:
        given, where = (f"format={format!r} ({options[0]})", f"{path} ({options[1]})") if options else (
            f"format={format!r}", f"path {path}")
        raise ValueError(f"{given} writes a {format} file, but {where} ends in {suffix}: name it .{format}, or "
                         "leave the format out to write what the suffix says.")
    return format


def model_path(path: str | os.PathLike) -> Path:
    """``path`` if it is a regular file; checked without opening it (a FIFO would block)."""
    return require_regular_file(path, what="Model file", error=ModelFileError)


def make_header(metadata: dict, digest: str, file_format: str) -> dict:
    """The header of a new file whose payload has SHA-256 ``digest``."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "file_format": file_format,
        "metadata": metadata,
        "payload_sha256": digest,
        "signature": sign(digest, metadata),
    }


def check_version(path: Path, header: dict) -> None:
    """Raise IncompatibleModelError for a format version newer than this fer-classic reads."""
    version = header.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:  # True is no 1
        raise IncompatibleModelError(
            f"{path} uses model format version {version!r}; this fer-classic ({__version__}) reads "
            f"versions up to {FORMAT_VERSION}. Upgrade fer-classic or refit the model."
        )


def check_header(path: Path, header: dict, *extra: tuple[str, type]) -> None:
    """Version first (a newer layout may differ), then every field the loader reads."""
    check_version(path, header)
    for name, kind in (*_HEADER_FIELDS.items(), *extra):
        if not isinstance(header.get(name), kind):
            raise ModelIntegrityError(
                f"{path} is damaged: its fer-classic header lacks a valid '{name}' field. "
                "Copy it again from its source or refit it."
            )
    if not _plain(header["metadata"]):  # saved as plain JSON types, of a model's size; anything else is damage
        raise ModelIntegrityError(
            f"{path} is damaged: its metadata is not plain JSON data of a model's size (at most "
            f"{_MAX_METADATA_VALUES:,} values, {_MAX_METADATA_DEPTH} levels deep). Copy it again or refit it."
        )


#: Bounds of a header's metadata (a fitted model's holds about a hundred values, four levels deep).
#: Checked before anything serialises it (the signature's JSON): a stranger's pickle can name one list
#: at every level of a nesting (2**depth values from a few hundred bytes) or nest past Python's
#: recursion limit.
_MAX_METADATA_VALUES = 100_000
_MAX_METADATA_DEPTH = 32
_JSON_SCALARS = (str, int, float, bool, type(None))  # keys and leaves alike


def _plain(metadata) -> bool:
    """Whether ``metadata`` is JSON data within the bounds: walked without recursion, shared parts counted each time."""
    stack, seen = [(metadata, 0)], 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if depth > _MAX_METADATA_DEPTH:
            return False
        if isinstance(item, dict):
            if not all(isinstance(key, _JSON_SCALARS) for key in item):
                return False
            children = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        elif isinstance(item, _JSON_SCALARS):
            continue
        else:
            return False
        if seen + len(stack) + len(children) > _MAX_METADATA_VALUES:
            return False
        stack.extend((child, depth + 1) for child in children)
    try:  # within the bounds now: as the signature serialises it (keys of one dict must sort)
        json.dumps(metadata, sort_keys=True, allow_nan=True)
    except (TypeError, ValueError):
        return False
    return True


def check_digest(path: Path, recorded, actual: str) -> None:
    """Raise ModelIntegrityError when the payload's SHA-256 is not the recorded one."""
    if recorded != actual:
        raise ModelIntegrityError(
            f"{path} is corrupted: its model data has SHA-256 {actual[:16]}..., but the file's header "
            f"records {str(recorded)[:16]}.... Copy it again from its source or refit it."
        )


def model_problem(model) -> tuple[type[ModelFileError], str] | None:
    """What makes ``model`` (a FERModel) unusable as saved: ``(error type, description)``, or None.

    The pipeline must be a fitted classifier, its metadata hold a valid
    ``image_shape`` that its input agrees with (the pixel count, and the
    geometry its feature step learned), the classes it predicts and a
    recorded face cropper as a mapping of parameters.
    """
    pipeline, metadata = model.pipeline, model.metadata
    lacking = _metadata_problem(metadata)
    if lacking is not None:
        return ModelFileError, f"its metadata {lacking}"
    if not (hasattr(pipeline, "predict") and hasattr(pipeline, "classes_")):
        return ModelFileError, f"it holds a {type(pipeline).__name__}, not a fitted classifier"
    height, width = metadata["image_shape"]
    takes = getattr(pipeline, "n_features_in_", None)
    if isinstance(takes, int) and takes != height * width:
        return ModelIntegrityError, (f"its model takes {takes} pixel values per image, but its metadata records "
                                     f"{height}x{width} images ({height * width})")
    learned = _learned_geometry(pipeline)
    if learned is not None and learned != (height, width):
        return ModelIntegrityError, (f"its features were fitted on {learned[0]}x{learned[1]} images, but its "
                                     f"metadata records {height}x{width}")
    mistyped = metadata_type_problems(metadata)
    if mistyped:
        return ModelIntegrityError, f"its metadata's {'; '.join(mistyped)}"
    recorded = metadata.get("classes")
    # In classes_' order (sorted; canonical in an earlier version's file), so that either version reads it.
    if recorded is not None and recorded != [str(c) for c in pipeline.classes_]:
        return ModelIntegrityError, (f"its metadata records the classes {one_line(', '.join(map(str, recorded)))}, "
                                     f"but its model predicts {', '.join(map(str, pipeline.classes_))}")
    return None


#: Metadata keys fer-classic reads beyond the required ones, with the JSON type each holds where present
#: (None allowed): a stranger's file holding another type is refused at load naming the key, instead of an
#: AttributeError inside ``evaluate`` or ``inspect``.
_METADATA_TYPES: dict[str, type] = {
    **dict.fromkeys(("training", "metrics", "timings", "versions", "sizes", "hold_out", "search",
                     "pipeline_options", "preprocessing", "params", FACE_CROPPER_KEY), dict),
    **dict.fromkeys(("created", "features", "classifier", "backend", FACE_DETECTOR_DIGEST_KEY), str),
    "classes": list,
}
_TYPE_NAMES = {dict: "a mapping", str: "a string", list: "a list of class names"}


def metadata_type_problems(metadata) -> list[str]:
    """``"'training' is a str, not a mapping"`` for each key of ``metadata`` holding another type than it should.

    Class names must be strings. Keys fer-classic does not read are not checked.
    """
    metadata = metadata if isinstance(metadata, dict) else {}
    problems = []
    for key, kind in _METADATA_TYPES.items():
        value = metadata.get(key)
        wrong = value is not None and not isinstance(value, kind)
        if key == "classes" and isinstance(value, list):
            wrong = not all(isinstance(c, str) for c in value)
        if wrong:
            problems.append(f"'{key}' is {type(value).__name__} {value!r:.40}, not {_TYPE_NAMES[kind]}")
    cropper = metadata.get(FACE_CROPPER_KEY)
    if isinstance(cropper, dict) and cropper:
        problem = _cropper_problem(cropper, metadata.get("image_shape"))
        if problem is not None:
            problems.append(f"'{FACE_CROPPER_KEY}' {problem}")
    return problems


def _cropper_problem(params: dict, image_shape) -> str | None:
    """Why ``params`` make no FaceCropper for images of ``image_shape`` (its parameters as ``fit`` checks them).

    The detector file it names is not looked for: a relative path is found
    where a command runs, and ``predict`` says when it is missing.
    """
    from ..data._images import as_size
    from ..detection._cropper import FaceCropper

    try:
        cropper = FaceCropper.from_metadata(params)
        cropper._validate_params()
        shape = as_size(cropper.output_shape)
    except Exception as exc:  # whatever a stranger's parameters make FaceCropper raise
        return f"holds parameters FaceCropper refuses ({type(exc).__name__}: {exc})"
    if _valid_image_shape(image_shape) and shape != tuple(image_shape):
        return (f"makes {shape[0]}x{shape[1]} face crops, but the model takes {image_shape[0]}x{image_shape[1]} "
                "images")
    return None


def _learned_geometry(pipeline) -> tuple[int, int] | None:
    """The input geometry ``pipeline`` learned: its own ``image_shape_`` or its first step's that has one."""
    steps = getattr(pipeline, "estimator_", pipeline)  # FlipAugmented wraps the fitted pipeline
    for step in (pipeline, *(step for _, step in getattr(steps, "steps", []))):
        shape = getattr(step, "image_shape_", None)
        if shape is not None:
            return tuple(int(v) for v in shape)
    return None


def check_loaded(path: Path, model) -> None:
    """Raise ModelFileError unless ``model``'s pipeline is a fitted classifier agreeing with its metadata.

    A file whose checksum matches may still hold anything its writer put
    there (the checksum is not a signature): caught here, at load time,
    rather than as an attribute error inside ``predict`` or after ``evaluate``
    decoded a dataset. See :func:`model_problem`. A Keras extractor's
    network (cnn, vgg16, vgg19) is not rebuilt here: loading stays free of
    TensorFlow, and the first prediction rebuilds it (saved weights that do
    not fit it are then refused, naming this file and saying to refit).
    """
    _raise_problem(path, model_problem(model))
    from ..features._deep import _KerasExtractorMixin  # no TensorFlow import

    for estimator in list(_estimators(model.pipeline)):  # listed first: marking one changes its vars
        if isinstance(estimator, _KerasExtractorMixin) and "_keras_weights" in vars(estimator):
            estimator._loaded_from = str(path)  # for the message of a rebuild that fails


def check_fitted(path: Path, model) -> None:
    """Raise ModelIntegrityError when ``model`` (checked by :func:`check_loaded`) cannot predict.

    For files that load without a signature (skops): each estimator's
    parameters are checked as ``fit`` checks them and one image is predicted.
    A joblib file loads only signed here or trusted: a model valid when saved
    is not refused for a constraint a later scikit-learn tightened.
    """
    unusable = _fitted_problem(model)
    _raise_problem(path, None if unusable is None else (ModelIntegrityError, unusable))


def _raise_problem(path: Path, problem) -> None:
    if problem is not None:
        error, text = problem
        raise error(f"{path}: {text}; the file was damaged or edited, or not written by fer_classic.save_model "
                    "from a fitted model. Refit it with 'fer-classic fit'.")


def fill_new_parameters(model) -> None:
    """Give each fer-classic estimator of ``model`` the ``__init__`` parameters its file predates.

    A parameter added to a class after a model was saved is missing from the
    restored estimator (pickle and skops restore the saved attributes only),
    so ``get_params``, ``repr`` and the parameter checks would fail on it.
    The project's rule is that a parameter added later defaults to the old
    behaviour, so the signature's default is what the old model did. Only
    fer-classic's own classes: another library's defaults are its own to
    change, and a file lacking one of its parameters is left to the checks.
    """
    import inspect

    for estimator in list(_estimators(model.pipeline)):  # listed first: filling one changes its vars
        cls = type(estimator)
        if cls.__module__.split(".", 1)[0] != "fer_classic":
            continue
        state = vars(estimator)
        parameters = inspect.signature(cls.__init__).parameters
        if any(key not in parameters and not key.startswith("_") and not key.endswith("_") for key in state):
            # A public attribute that is neither a parameter nor fitted state: another class's state (an
            # edited file), not an older one of this class. Left to the checks, which name the file.
            continue
        for name, parameter in parameters.items():
            # A class attribute or property of that name is the class's own (a helper's __init__ may keep
            # its arguments under other names): only a missing instance attribute is filled.
            if (name != "self" and name not in state and not hasattr(cls, name)
                    and parameter.default is not parameter.empty
                    and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)):
                setattr(estimator, name, parameter.default)


def _estimators(obj, seen: set | None = None):
    """Every scikit-learn estimator reachable from ``obj``: its parameters and fitted attributes, depth first."""
    from sklearn.base import BaseEstimator

    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, BaseEstimator):
        yield obj
        children = vars(obj).values()
    elif isinstance(obj, (list, tuple)):
        children = obj
    elif isinstance(obj, dict):
        children = obj.values()
    else:
        return
    for child in children:
        if isinstance(child, (BaseEstimator, list, tuple, dict)):
            yield from _estimators(child, seen)


def _fitted_problem(model) -> str | None:
    """What keeps a loaded model from predicting, else None.

    A file's checksum is no signature: a skops schema edited (and its
    checksum recomputed) loads an estimator with parameters its ``fit``
    refuses, or another class's state. So each estimator's parameters are
    checked as ``fit`` checks them, and the model predicts one image of its
    geometry (milliseconds; the first real prediction would pay the same
    one-time setup), so that ``predict`` or ``evaluate`` do not fail later,
    after reading the data, with an error that names no file.
    """
    import numpy as np

    for estimator in _estimators(model.pipeline):
        if hasattr(estimator, "_parameter_constraints") and hasattr(estimator, "_validate_params"):
            try:
                estimator._validate_params()
            except Exception as exc:  # InvalidParameterError, or the AttributeError of another class's state
                return f"its {type(estimator).__name__} has invalid parameters ({type(exc).__name__}: {exc})"
    height, width = model.metadata["image_shape"]
    image = (np.add.outer(np.arange(height), np.arange(width)) * 255 // max(height + width - 2, 1)).astype(np.uint8)
    try:
        # NumPy's floating-point warnings of a crafted model's arithmetic are silenced by errstate, which is per
        # thread; no warnings filter: catch_warnings + simplefilter("ignore") swapped the process-wide filters,
        # silencing every thread's warnings while a model loaded (and concurrent loads could leave it so).
        with np.errstate(all="ignore"):
            model.predict_scores(image[None])
    except (ImportError, OSError, MemoryError):
        return None  # what this machine lacks (a dependency, weights, memory), said when it predicts
    except Exception as exc:  # noqa: BLE001 - any failure of a crafted or damaged model
        return f"it fails to predict one {height}x{width} image ({type(exc).__name__}: {exc})"
    return None


def _valid_image_shape(value) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value))


_VALIDATORS = {"image_shape": _valid_image_shape}


def missing_metadata(metadata) -> list[str]:
    """The keys of :data:`REQUIRED_METADATA` that ``metadata`` lacks or holds invalid values for."""
    metadata = metadata if isinstance(metadata, dict) else {}
    return [key for key in REQUIRED_METADATA if key not in metadata or not _VALIDATORS[key](metadata[key])]


def _metadata_problem(metadata) -> str | None:
    """``"lacks the key 'image_shape' (...)"`` for the first required key missing or invalid, else None."""
    for key in missing_metadata(metadata):
        state = "lacks" if key not in (metadata or {}) else f"has an invalid {metadata[key]!r} for"
        return f"{state} the key '{key}' ({REQUIRED_METADATA[key]})"
    return None


def check_metadata(path: Path, metadata) -> None:
    """Raise ModelFileError naming the file and the first required metadata key that is missing or invalid."""
    lacking = _metadata_problem(metadata)
    if lacking is not None:
        raise ModelFileError(
            f"{path}: its metadata {lacking}, which predicting with it needs; it was not written by "
            "fer_classic.save_model from a fitted FERModel. Refit it with 'fer-classic fit', or save it with "
            "FERModel.from_fitted(...)."
        )


def warn_versions(path: Path, metadata: dict) -> None:
    """Warn with VersionMismatchWarning when the file was written with other library versions."""
    saved = metadata.get("versions") or {}  # a mapping: load_model checked the type first
    installed = library_versions()
    differing = [
        f"{lib} {one_line(str(saved.get(lib)))} (installed {installed[lib]})"
        for lib in ("fer_classic", "scikit-learn")
        if saved.get(lib) != installed[lib]
    ]
    if differing:
        # A newer fer-classic's file may need what this one lacks: upgrading is the first remedy there.
        advice = ("It was written by a newer fer-classic: upgrade fer-classic (or refit the model with the "
                  "installed versions)." if _newer(saved.get("fer_classic"), __version__)
                  else "Refit the model with the installed versions to be sure.")
        warnings.warn(
            f"{path} was written with {', '.join(differing)}; predictions may differ. {advice}",
            VersionMismatchWarning,
            stacklevel=3,
        )


def _newer(saved, installed: str) -> bool:
    """Whether the version string ``saved`` is newer than ``installed``; False for what is no version."""
    from sklearn.utils.fixes import parse_version

    if not isinstance(saved, str):
        return False
    # parse_version makes what is no version a LegacyVersion, older than any version, with a DeprecationWarning
    # (silencing it took a process-wide warnings filter). The strict class of a version it parses raises instead.
    version = type(parse_version(installed))
    try:
        return version(saved) > version(installed)
    except (TypeError, ValueError):  # InvalidVersion (a ValueError): a damaged or edited file's text
        return False
