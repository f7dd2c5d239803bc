"""The canonical emotion vocabulary and the mapping of label spellings onto it.

The order in which fer-classic shows classes comes from :data:`CANONICAL_LABELS`,
never from the order in which files or rows were read (a classifier's
``classes_`` are sorted, as scikit-learn's scorers need them).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping

from .exceptions import LabelMergeWarning, UnknownLabelError, UnusedLabelMapWarning

__all__ = [
    "CANONICAL_LABELS",
    "FER2013_LABELS",
    "canonical_label",
    "display_order",
    "fer2013_label",
    "parse_label_map",
    "sort_labels",
]

#: The canonical vocabulary, in the order fer-classic shows classes (``FERModel.classes``, every report).
CANONICAL_LABELS: tuple[str, ...] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "sad",
    "surprise",
    "neutral",
    "contempt",
)

#: FER2013's ``emotion`` ids: position i is the label of id i (not alphabetical).
FER2013_LABELS: tuple[str, ...] = CANONICAL_LABELS[:7]

_ALIASES: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "mad": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "disgusting": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "neutrality": "neutral",
    # No "calm": RAVDESS keeps calm and neutral apart; a calm folder needs the user's --label-map calm=neutral.
    "contempt": "contempt",
    "contemptuous": "contempt",
}


_ZERO_FRACTION = re.compile(r"([+-]?\d+)\.0*")


def integral_text(text: str) -> str:
    """``"4.0"`` (an id as pandas writes a column read as floats) as ``"4"``; other text as it is.

    Only a zero fraction goes: ``"01"``, ``"1e1"`` or ``"+3"`` keep their spelling
    (label-map keys that differ stay apart).
    """
    match = _ZERO_FRACTION.fullmatch(text)
    return str(int(match.group(1))) if match else text


def _key(name: str) -> str:
    text = integral_text(str(name).strip())
    return text.lower().replace("-", "").replace("_", "").replace(" ", "")


def canonical_label(name: object, label_map: Mapping[str, str] | None = None) -> str:
    """Return the canonical name of a label spelling.

    Parameters
    ----------
    name : object
        A label as found in a folder name or file (``"Happiness"``, ``"anger"``,
        ``"3"``...). Case, surrounding spaces, ``-`` and ``_`` are ignored.
    label_map : mapping, optional
        User mapping tried first, for datasets whose folders are numbered
        (``{"0": "neutral", "1": "anger", ...}``). Its values may be any
        accepted spelling.

    Returns
    -------
    str
        One of :data:`CANONICAL_LABELS`.

    Raises
    ------
    UnknownLabelError
        If the label is neither in ``label_map`` nor a known spelling.
    """
    if label_map is not None:
        mapped = _lookup_map(name, label_map)
        if mapped is not None:
            name = mapped
    label = _ALIASES.get(_key(name))
    if label is None:
        if label_map:
            hint = f"add it to the label map as {str(name).strip()}=LABEL, LABEL the emotion its images show"
        elif _key(name).isdigit():
            # The map in full, and whose it is: a partial example (0=neutral,1=angry) copied for FER2013's
            # numbered folders swapped classes.
            fer2013 = ",".join(f"{i}={name}" for i, name in enumerate(FER2013_LABELS))
            hint = (f"pass a label map of your dataset's numbering (FER2013's is --label-map {fer2013}; "
                    "AffectNet's and RAF-DB's differ)")
        else:
            hint = "rename it or pass a label map"
        raise UnknownLabelError(
            f"Unknown emotion label {name!r}; known labels are "
            f"{', '.join(CANONICAL_LABELS)} (and spellings such as anger, happiness, "
            f"surprised); {hint}."
        )
    return label


def _lookup_map(name: object, label_map: Mapping[str, str]) -> str | None:
    for key, value in label_map.items():
        if _key(key) == _key(name):
            return value
    return None


def warn_unused_keys(label_map: Mapping[str, str] | None, names: Iterable[object], source: object,
                     stacklevel: int = 3) -> None:
    """UnusedLabelMapWarning when keys of ``label_map`` match none of ``names`` (the labels ``source`` holds).

    A key that matches nothing is most often a typo or a map meant for
    another dataset; its classes would then be read under their own names.
    """
    if not label_map:
        return
    found = {_key(name) for name in names}
    unused = [key for key in label_map if _key(key) not in found]
    if unused:
        shown = sorted({str(name).strip() for name in names})
        warnings.warn(
            f"Label map key(s) {', '.join(repr(k) for k in unused)} match no label in {source} "
            f"(it holds {', '.join(repr(n) for n in shown[:20])}{', ...' if len(shown) > 20 else ''}); "
            "check the spelling (--label-map KEY=LABEL, KEY as the folder name or label in the data).",
            UnusedLabelMapWarning,
            stacklevel=stacklevel,
        )


def fer2013_label(emotion_id: int) -> str:
    """Return the canonical label of a FER2013 ``emotion`` id (0=angry ... 6=neutral).

    Parameters
    ----------
    emotion_id : int
        0 to 6.

    Returns
    -------
    str
        The canonical label, e.g. ``"angry"`` for 0.

    Raises
    ------
    UnknownLabelError
        If ``emotion_id`` is outside 0..6.
    """
    if not 0 <= int(emotion_id) < len(FER2013_LABELS):
        raise UnknownLabelError(
            f"FER2013 emotion id {emotion_id!r} is outside 0..6 "
            f"({', '.join(f'{i}={n}' for i, n in enumerate(FER2013_LABELS))})."
        )
    return FER2013_LABELS[int(emotion_id)]


#: Each vocabulary label's position in :data:`CANONICAL_LABELS`.
_RANK = {name: i for i, name in enumerate(CANONICAL_LABELS)}


def sort_labels(labels: Iterable[object]) -> list:
    """Sort distinct labels: canonical names in vocabulary order, any others after.

    Labels outside the vocabulary (numbers in generic use, user classes) keep
    their natural sorted order after the canonical ones, so the result never
    depends on the order of the input.

    Parameters
    ----------
    labels : iterable
        Labels, repeated or not.

    Returns
    -------
    list
        The distinct labels, sorted.
    """
    distinct = set(labels)
    known = sorted((lab for lab in distinct if lab in _RANK), key=_RANK.__getitem__)
    others = sorted((lab for lab in distinct if lab not in _RANK), key=lambda v: (str(type(v)), v))
    return known + others


def display_order(classes: Iterable[object]) -> list[int]:
    """Positions of ``classes`` in the order fer-classic shows classes: the canonical order.

    The vocabulary's labels first (angry, disgust, fear, happy, sad, surprise,
    neutral), any others after in their order in ``classes``. For a fitted
    ``classes_`` (sorted, as scikit-learn sorts them) or the list a model file
    records (the same order) this is :func:`sort_labels`' order; the identity
    for a model saved by an earlier version, whose ``classes_`` were canonical.

    Parameters
    ----------
    classes : iterable
        Distinct class labels, e.g. a classifier's ``classes_``.

    Returns
    -------
    list of int
        Indices into ``classes``, in the order to show them.
    """
    names = [str(c) for c in classes]
    return sorted(range(len(names)), key=lambda i: _RANK.get(names[i], len(_RANK)))


def _known_labels() -> str:
    return f"{', '.join(CANONICAL_LABELS)} (or spellings such as anger, happiness, surprised)"


def _refuse_joined_pairs(entry: str, key: str) -> None:
    """Refuse ``0=happy;1=sad`` (or ``0=happy 1=sad``): read as the key ``0=happy;1``, ids 0 and 1 went unmapped."""
    pieces = re.split(r"[=;\s]+", key.strip())[1:] if "=" in key else []
    if ";" in key or any(_ALIASES.get(_key(piece)) for piece in pieces):
        pairs = ",".join(re.split(r"\s*;\s*|\s+(?=\S+=)", entry))
        raise UnknownLabelError(
            f"Label map entry {entry!r} holds several KEY=LABEL pairs; separate pairs with commas ({pairs!r}). "
            "A folder name holding ';' or '=LABEL' needs the library's mapping (label_map={...})."
        )


class _LabelMap(dict):
    """A label map :func:`parse_label_map` checked: keys distinct as labels, values canonical names."""


def parse_label_map(text: str | Mapping[str, str] | None) -> dict[str, str] | None:
    """Parse ``"0=neutral,1=anger"`` (or a mapping) into a map onto canonical names.

    A mapping is checked as the text is (every loader passes its
    ``label_map`` through here), and a parsed map is returned as it is.

    Pairs are separated by commas. An entry's last ``=`` ends its key
    (``"a=b=happy"`` maps the folder ``a=b``); a key holding ``,`` or ``;``,
    or ``=`` before a label (``a=happy b``), needs a mapping: in text such a
    key is pairs joined otherwise (``"0=happy;1=sad"``) and refused.

    Keys are folder names or CSV emotion ids, compared as labels are (case,
    spaces, ``-`` and ``_`` ignored). Entries mapping several keys onto one
    label merge those classes, which is allowed but warned about
    (:class:`~fer_classic.exceptions.LabelMergeWarning`, naming the entries).

    Parameters
    ----------
    text : str, mapping or None
        ``"KEY=LABEL,KEY=LABEL"``, or a mapping of keys to labels.

    Returns
    -------
    dict or None
        Key → canonical label; None for None.

    Raises
    ------
    UnknownLabelError
        If an entry is not ``KEY=LABEL``, its key is empty or repeated (``"Happy"``
        and ``"happy"`` too), its label is unknown or not a string (the entry and
        the allowed labels are named), or a text or mapping holds no entry at all
        (``""``, ``","``, ``{}``).
    TypeError
        If ``text`` is neither a string, a mapping nor None.
    """
    if text is None or isinstance(text, _LabelMap):  # parsed already (its merges warned once)
        return text
    if isinstance(text, Mapping):
        pairs = []
        for key, value in text.items():
            if not isinstance(value, str):  # {"0": 3} or {"0": None}: an id or nothing is no label name
                raise UnknownLabelError(
                    f"Label map entry {key!r}: {value!r} is not a label name (FER2013's ids are keys, not "
                    f"labels); map each key to one of: {_known_labels()}."
                )
            if not str(key).strip() or not value.strip():
                raise UnknownLabelError(f"Label map entry {key!r}: {value!r} has an empty key or label; "
                                        f"map each folder name or id to a label from: {_known_labels()}.")
            pairs.append((str(key), value.strip()))
        if not pairs:
            raise UnknownLabelError("The label map is empty; give KEY: LABEL entries, or no map (None).")
    elif isinstance(text, str):
        pairs = []
        for part in filter(str.strip, str(text).split(",")):
            key, sep, value = part.rpartition("=")  # labels hold no "=": a folder name may
            if not sep or not key.strip() or not value.strip():
                raise UnknownLabelError(
                    f"Label map entry {part.strip()!r} is not KEY=LABEL; write e.g. "
                    f"'0=angry,1=disgust', with labels from: {_known_labels()}."
                )
            _refuse_joined_pairs(part.strip(), key)
            pairs.append((key.strip(), value.strip()))
        if not pairs:  # "" or "," read as no map at all: the user asked for one
            raise UnknownLabelError(
                f"Label map {text!r} holds no KEY=LABEL entry; write e.g. '0=angry,1=disgust', or give no map."
            )
    else:
        raise TypeError(f"label_map must be a mapping such as {{'0': 'angry'}} or a string such as "
                        f"'0=angry,1=disgust'; got {type(text).__name__} (a list of pairs becomes a "
                        "mapping with dict(...)).")
    result = _LabelMap()
    seen: dict[str, str] = {}
    for key, value in pairs:
        entry = f"{key}={value}"
        if _key(key) in seen:
            raise UnknownLabelError(
                f"Label map key {key!r} is given twice ({seen[_key(key)]} and {entry}); "
                "give each folder name or id once."
            )
        seen[_key(key)] = entry
        label = _ALIASES.get(_key(value))
        if label is None:
            raise UnknownLabelError(
                f"Label map entry {entry!r}: unknown label {value!r}; allowed labels are {_known_labels()}."
            )
        result[key] = label
    by_label: dict[str, list[str]] = {}
    for key, label in result.items():
        by_label.setdefault(label, []).append(f"{key}={label}")
    merged = ["; ".join(entries) for entries in by_label.values() if len(entries) > 1]
    if merged:
        warnings.warn(
            f"Label map entries fold into one label and their classes are merged: {' | '.join(merged)}. "
            "Fix the map if they are different classes.",
            LabelMergeWarning,
            stacklevel=2,
        )
    return result
