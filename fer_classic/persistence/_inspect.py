"""``inspect``: what a model file holds, read without running code from it, and its text."""

from __future__ import annotations

import os
from collections.abc import Iterable

from .._display import megabytes, one_line
from ._header import metadata_type_problems, missing_metadata, model_path
from ._joblib_format import joblib_info
from ._model import shown_classes
from ._skops_format import is_zip, skops_info
from ._trust import is_trusted, trusted_names, warn_unused_trust

__all__ = ["component_sizes", "format_model_info", "inspect_model"]


# Arrays of at least this many bytes are listed one by one in the sizes.
_LISTED_BYTES = 2**20
# Compressed sizes are estimated from this many evenly spaced pieces of this many bytes of each array,
# compressed as joblib files are (``compress=3``: zlib level 3); smaller arrays are compressed whole.
_SAMPLES, _SAMPLE_BYTES = 8, 2**17
_ZLIB_LEVEL = 3


def component_sizes(pipeline) -> dict:
    """Bytes of the arrays each step of ``pipeline`` holds, and the largest arrays by name.

    Recorded in a saved model's metadata (``sizes``), so that ``inspect``
    shows what makes a file large without loading it. An array shared by two
    steps (the steps that rebuild compact support vectors) counts once, for
    the first.

    Parameters
    ----------
    pipeline : estimator
        A fitted pipeline; a single estimator counts as one step ``"model"``.

    Returns
    -------
    dict
        ``{"steps": {step: bytes}, "arrays": {"step.attr.attr": bytes},
        "compressed": {"steps": ..., "arrays": ...}}``: arrays of 1 MiB and
        more, largest first; ``compressed`` holds the same sizes after
        zlib's level-3 compression (what a ``.joblib`` or ``.skops`` file
        holds: both are written with it), estimated from samples of each
        array (within about 1 % on FER2013 models).
    """
    import numpy as np

    seen: dict[int, object] = {}  # holds what it saw: a freed temporary's id may come again
    arrays: dict[str, tuple[int, int]] = {}

    def walk(obj, where: str, depth: int = 0) -> tuple[int, int]:
        """(bytes, compressed bytes) of the arrays in ``obj``."""
        if id(obj) in seen or depth > 12:
            return 0, 0
        seen[id(obj)] = obj
        if isinstance(obj, np.ndarray):
            if obj.dtype == object:
                return _total(walk(item, where, depth + 1) for item in obj.ravel())
            size = int(obj.nbytes), _compressed_bytes(obj)
            if obj.nbytes >= _LISTED_BYTES:
                arrays[where] = size
            return size
        if isinstance(obj, dict):
            return _total(walk(v, f"{where}.{k}", depth + 1) for k, v in obj.items())
        if isinstance(obj, (list, tuple)):
            return _total(walk(v, where, depth + 1) for v in obj)
        if isinstance(obj, (str, bytes, int, float, type)) or not hasattr(obj, "__getstate__"):
            return 0, 0
        try:
            state = obj.__getstate__()  # what a pickle of it holds (compact models drop their float64 copy)
        except Exception:  # an object that cannot say (a live network, a lock): not counted
            return 0, 0
        return walk(state, where, depth + 1) if isinstance(state, dict) else (0, 0)

    steps = getattr(pipeline, "steps", None) or [("model", pipeline)]
    totals = {name: walk(step, name) for name, step in steps}
    listed = sorted(arrays.items(), key=lambda kv: -kv[1][0])
    return {
        "steps": {name: size for name, (size, _) in totals.items()},
        "arrays": {where: size for where, (size, _) in listed},
        "compressed": {"steps": {name: packed for name, (_, packed) in totals.items()},
                       "arrays": {where: packed for where, (_, packed) in listed}},
    }


def _total(sizes) -> tuple[int, int]:
    raw = packed = 0
    for size, compressed in sizes:
        raw, packed = raw + size, packed + compressed
    return raw, packed


def _compressed_bytes(array) -> int:
    """Bytes of ``array`` compressed as in a joblib file, estimated from evenly spaced pieces of it."""
    import zlib

    import numpy as np

    data = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    if len(data) <= _SAMPLES * _SAMPLE_BYTES:
        return len(zlib.compress(data, _ZLIB_LEVEL))
    starts = np.linspace(0, len(data) - _SAMPLE_BYTES, _SAMPLES).astype(int)
    sampled = sum(len(zlib.compress(data[s : s + _SAMPLE_BYTES], _ZLIB_LEVEL)) for s in starts)
    return round(sampled * len(data) / (_SAMPLES * _SAMPLE_BYTES))


def inspect_model(path: str | os.PathLike, *, trusted_types: Iterable[str] = ()) -> dict:
    """What a model file holds, read without running any code from it.

    Parameters
    ----------
    path : path
        A ``.joblib`` or ``.skops`` model file.
    trusted_types : str or iterable of str, default=()
        skops only: names the caller has checked and trusts, left out of
        ``types_needing_trust``; one string is one name.

    Returns
    -------
    dict
        ``path``, ``file_format`` (joblib, skops, or joblib-unsigned for older or
        foreign pickles), ``format_version``, ``metadata`` (None when it is
        inside a pickle; as the file holds it: its ``classes`` are the
        pipeline's ``classes_``, which scikit-learn sorts), ``classes`` (those
        names in the order every table, report and score column shows them,
        :attr:`~fer_classic.persistence.FERModel.classes`; None without
        metadata or recorded classes), ``payload_sha256``, ``integrity`` (``ok``),
        ``signed`` (False for a file saved without a signature; absent for
        joblib-unsigned files), ``signed_here`` (written by this user on this machine),
        ``missing_metadata`` (required keys that loading will refuse the file
        for lacking), ``malformed_metadata`` (keys whose values loading
        refuses as of another type), and for skops files ``untrusted_types`` (every type and
        function beyond skops' defaults) and ``types_needing_trust`` (those
        neither on fer-classic's list of trusted names nor in ``trusted_types``).

    Raises
    ------
    ModelFileError, ModelIntegrityError, IncompatibleModelError
        As :func:`load_model`.
    """
    path = model_path(path)
    trusted_types = trusted_names(trusted_types)
    info = skops_info(path, trusted_types=trusted_types) if is_zip(path) else joblib_info(path)
    warn_unused_trust({path: info.get("untrusted_types")}, trusted_types)
    metadata = info["metadata"]
    missing = [] if metadata is None else missing_metadata(metadata)
    malformed = [] if metadata is None else metadata_type_problems(metadata)
    recorded = None if metadata is None else metadata.get("classes")
    classes = None if recorded is None else shown_classes(_items(recorded))
    return {"path": str(path), **info, "classes": classes, "missing_metadata": missing,
            "malformed_metadata": malformed}


def format_model_info(info: dict) -> str:
    """Text of :func:`inspect_model`'s result, for the ``inspect`` command.

    Parameters
    ----------
    info : dict
        What :func:`inspect_model` returned.

    Returns
    -------
    str
        One ``name  value`` line per item (file, format, integrity, origin, metadata...).
    """
    lines = [
        f"file           {info['path']}",
        f"format         {info['file_format']} (fer-classic format version {info['format_version']})",
        f"integrity      {info['integrity']}"
        + (f" (sha256 {info['payload_sha256']})" if info["payload_sha256"] else ""),
        "origin         " + ("written by fer-classic for this user on this machine" if info["signed_here"]
                             else "unsigned: saved where no signing key could be stored, or not by save_model"
                             if info.get("signed") is False else "not signed here: from elsewhere or older"),
    ]
    if "note" in info:
        lines.append(f"note           {info['note']}")
    # A stranger's file may hold any JSON in any key: what is not of the type written is shown as it is.
    metadata = _mapping(info.get("metadata"))
    training, metrics = _mapping(metadata.get("training")), _mapping(metadata.get("metrics"))
    rows = [
        ("classes", ", ".join(shown_classes(_items(metadata.get("classes"))))),
        ("image shape", "x".join(map(str, _items(metadata.get("image_shape"))))),
        ("features", metadata.get("features")),
        ("classifier", metadata.get("classifier")),
        ("backend", metadata.get("backend")),
        # What --param, --preprocess, --sampler... made of the model: the classifier's parameters as fitted
        # and the pipeline options that are on (a user checks here that an option was applied).
        ("parameters", ", ".join(f"{k}={v}" for k, v in _mapping(metadata.get("params")).items())),
        ("options", ", ".join(f"{k}={v}" if v is not True else k
                              for k, v in _mapping(metadata.get("pipeline_options")).items() if v)),
        # How every later command cuts images for the model (fit --crop): with none, photos are taken whole.
        ("cropper", _cropper_text(metadata.get("face_cropper"))),
        ("best of search", ", ".join(f"{k}={v}" for k, v in
                                     _mapping(_mapping(metadata.get("search")).get("best_params")).items())),
        ("trained on", f"{training.get('source')} ({training.get('n_train')} images, "
                       f"fingerprint {training.get('fingerprint')})" if training else None),
        # fit --dedupe: the metrics are of a test set without the copies of training images (evaluate drops them too).
        ("dedupe", "yes: duplicate copies dropped before the fit; the metrics leave out test copies of training "
                   "images" if metadata.get("dedupe") is True else None),
        ("metrics", ", ".join(_metric_text(k, v) for k, v in metrics.items())),
        ("versions", ", ".join(f"{k} {v}" for k, v in _mapping(metadata.get("versions")).items())),
        ("created", metadata.get("created")),
    ]
    lines += [f"{name:<15}{value}" for name, value in rows if value]
    lines.append(f"{'file size':<15}{megabytes(os.path.getsize(info['path']))}")
    sizes = _mapping(metadata.get("sizes"))
    # Both formats compress their arrays with zlib level 3 (older files: no figures).
    packed = _mapping(sizes.get("compressed"))
    if _mapping(sizes.get("steps")):
        lines.append(_step_sizes("in memory", sizes["steps"], "arrays, before compression"))
    if _mapping(packed.get("steps")):
        lines.append(_step_sizes("in the file", packed["steps"], "arrays compressed, estimated"))
    for where, n in _mapping(sizes.get("arrays")).items():
        in_file = _mapping(packed.get("arrays")).get(where)
        lines.append(f"{'':<15}{where}: {megabytes(n)}"
                     + (f", {megabytes(in_file)} in the file" if in_file is not None else ""))
    if info.get("missing_metadata"):
        lines.append(f"{'missing':<15}{', '.join(info['missing_metadata'])} (loading refuses the file: "
                     "predicting needs it)")
    if info.get("malformed_metadata"):
        lines.append(f"{'malformed':<15}{'; '.join(info['malformed_metadata'])} (loading refuses the file)")
    if "untrusted_types" in info:
        lines.append(f"{'skops types':<15}{len(info['untrusted_types'])} beyond skops' defaults: "
                     + (", ".join(info["untrusted_types"]) or "none"))
        needing = info["types_needing_trust"]
        # The names the caller trusted (trusted_types, --trust-type) are neither on the list nor still needing it.
        given = [name for name in info["untrusted_types"] if not is_trusted(name) and name not in needing]
        if needing:
            text = (", ".join(needing) + " (not on fer-classic's list of trusted names; load with "
                    "--trust-type NAME for each, or --trust; trusted_types=[...] or trusted=True in Python)")
        elif given:
            text = (f"nothing more: you trusted {', '.join(given)}; every other type and function it names is on "
                    "fer-classic's list of trusted names")
        else:
            text = "nothing: every type and function it names is on fer-classic's list of trusted names"
        lines.append(f"{'needs trust':<15}{text}")
    # Each line escaped whole: any value from the file (names and paths too) prints on its own line, unchanged.
    return "\n".join(one_line(line) for line in lines)


def _cropper_text(cropper) -> str | None:
    """The recorded face cropper as ``fit --crop`` set it; None where the model records none."""
    if not isinstance(cropper, dict):
        return None
    detect = cropper.get("detect")
    from ..data._images import CROP_POLICIES  # here: it imports OpenCV, which inspect needs for nothing else

    # FaceCropper's ``detect`` as the ``fit --crop`` policy that records it.
    policies = {value: policy for policy, value in CROP_POLICIES.items()}
    policy = policies.get(detect) if isinstance(detect, (bool, str)) else None
    if policy is None:  # a stranger's value, shown as it is
        return f"detect={detect!r}"
    if policy == "none":
        return "--crop none: every image resized whole"
    details = [f"margin {cropper.get('margin', 0.0)}"] + (["align"] if cropper.get("align") is True else [])
    details += [f"detector {cropper['detector']}"] if cropper.get("detector") else []
    return f"--crop {policy} ({', '.join(details)})"


def _metric_text(name: str, value) -> str:
    """One metric as text; anything a stranger's file holds instead of numbers is shown as it is."""
    if name == "accuracy_by_group" and isinstance(value, dict):  # e.g. FER2013's PublicTest and PrivateTest
        try:
            return ", ".join(f"{group} accuracy {part['accuracy']:.4f} (n={part['n']})"
                             for group, part in value.items())
        except (KeyError, TypeError, ValueError):
            pass
    return f"{name} {value:.4f}" if isinstance(value, float) else f"{name} {value}"


def _step_sizes(label: str, steps: dict, note: str) -> str:
    return f"{label:<15}" + ", ".join(f"{name} {megabytes(n)}" for name, n in steps.items()) + f" ({note})"


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def _items(value) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]
