"""Exact and near-duplicate images: pixel digests, a 64-bit DCT perceptual hash, and dedupe.

Exact duplicates are images whose decoded pixels are identical (same shape,
same bytes). Near duplicates are images whose perceptual hashes differ in at
most ``threshold`` of 64 bits (Hamming distance) without being pixel-identical:
re-encoded, slightly shifted, brightened or resized copies of one photo.

The perceptual hash is the classic DCT pHash: the image is converted to gray,
resized to 32x32 (area interpolation), transformed with an orthonormal 2-D
DCT-II; the 8x8 lowest frequencies (DC included) give one bit each: 1 where the
coefficient exceeds their median. Bit order is row-major over the 8x8 block,
most significant bit first.
"""

from __future__ import annotations

import copy
import hashlib
import shlex
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import fft, sparse
from scipy.sparse.csgraph import connected_components

from ..exceptions import DataLeakageWarning, ReportError
from ._dataset import FaceDataset, effective_splits
from ._images import list_sources, resize_gray

__all__ = [
    "DEFAULT_NEAR_THRESHOLD",
    "MAX_NEAR_PAIRS",
    "DuplicateReport",
    "dedupe",
    "duplicate_groups",
    "find_duplicates",
    "hamming_distance",
    "near_duplicate_pairs",
    "perceptual_hashes",
    "pixel_digest",
    "pixel_digests",
]

#: Default near-duplicate threshold: pHashes differing in at most this many of 64 bits.
#: A textured image's hash has 32 bits set (median split: distances are then even); an image
#: without texture (every pixel one level, whatever the level) has every coefficient but the mean
#: equal, 0 or 1 bit set, and is no near duplicate of anything (:func:`near_duplicate_pairs`).
#: Chosen by inspecting FER2013 (2,000-image sample, 2 million pairs): pairs at
#: distance 2-4 were all the same photo, at 6 mostly the same photo re-cropped
#: or re-toned, at 8 about half, at 10 and more different faces. On the whole
#: FER2013 folder, 7 of 10 randomly drawn train/test pairs at exactly distance 6
#: were the same photo: 6 favours recall; use 4 for fewer false matches. A JPEG
#: re-encode (quality 70) or +20 brightness moves a 48x48 face by at most 4-6
#: bits. A one-pixel shift moves it by up to 14 bits, so shifted crops are missed.
DEFAULT_NEAR_THRESHOLD = 6

#: Most near-duplicate pairs :func:`fer_classic.data.describe_dataset` lists (24 bytes each: 240 MB). FER2013
#: has a few thousand at the default threshold; at 64 (every pair) its 35,887 images would make 644 million
#: (15 GB), which ran the machine out of memory.
MAX_NEAR_PAIRS = 10_000_000

#: Which copy :func:`dedupe` keeps: the one in the earliest split of this order.
SPLIT_PRIORITY = ("train", "", "val", "test")

_HASH_SIDE = 32
_HASH_LOW = 8


def pixel_digest(image: np.ndarray) -> str:
    """Hex digest (BLAKE2b, 128-bit) of an image's decoded pixels, shape and dtype.

    Two images have the same digest exactly when they are pixel-identical.

    Parameters
    ----------
    image : ndarray
        Decoded pixels.

    Returns
    -------
    str
        32 hexadecimal digits.
    """
    image = np.ascontiguousarray(image)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{image.shape}{image.dtype.str}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def pixel_digests(images) -> list[str]:
    """:func:`pixel_digest` of every image: the one way copies are told apart (dedupe, describe, fit's checks)."""
    return [pixel_digest(image) for image in images]


def hash_thumbnail(image: np.ndarray) -> np.ndarray:
    """The 32x32 grayscale image the perceptual hash is computed from."""
    return resize_gray(np.asarray(image), (_HASH_SIDE, _HASH_SIDE))


def perceptual_hashes(images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """64-bit DCT perceptual hash (pHash) of each image.

    Parameters
    ----------
    images : ndarray of shape (n, height, width) or sequence of arrays
        Gray or color (BGR) images of any size and dtype.

    Returns
    -------
    ndarray of uint64, shape (n,)
    """
    if len(images) == 0:
        return np.zeros(0, dtype=np.uint64)
    hashes = np.empty(len(images), dtype=np.uint64)
    chunk = 4096
    for start in range(0, len(images), chunk):
        batch = images[start:start + chunk]
        thumbs = np.stack([hash_thumbnail(image) for image in batch]).astype(np.float64)
        coeffs = fft.dctn(thumbs, type=2, axes=(1, 2), norm="ortho")[:, :_HASH_LOW, :_HASH_LOW]
        coeffs = coeffs.reshape(len(thumbs), -1)
        bits = coeffs > np.median(coeffs, axis=1, keepdims=True)
        hashes[start:start + len(thumbs)] = np.packbits(bits, axis=1).view(">u8").ravel()
    return hashes


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    values = np.asarray(values)
    # Flat and contiguous first: a 0-d or strided array cannot be viewed as bytes.
    as_bytes = np.ascontiguousarray(values).reshape(-1).view(np.uint8).reshape(*values.shape, 8)
    return table[as_bytes].sum(axis=-1, dtype=np.uint8)


def hamming_distance(a, b) -> np.ndarray:
    """Number of differing bits between 64-bit hashes (broadcasts like ``a ^ b``).

    Parameters
    ----------
    a, b : int or array-like of uint64
        Hashes, as :func:`perceptual_hashes` gives them.

    Returns
    -------
    ndarray of int
        Differing bits, 0 to 64, of the broadcast shape.
    """
    return _popcount(np.bitwise_xor(np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)))


def near_duplicate_pairs(hashes: np.ndarray, threshold: int, *, block: int = 256, exclude=None,
                         max_pairs: int | None = None) -> np.ndarray:
    """All pairs ``i < j`` whose hashes differ in at most ``threshold`` bits.

    Brute force over all pairs in blocks (memory ``block * n`` words): about
    a few seconds for 36,000 images. Hashes of images without texture (at
    most 1 bit set: a blank image of any level) pair with nothing: their bits
    say nothing of a picture, and a black and a gray image are no copies
    (pixel-identical blanks are exact copies, found by their digests).

    Parameters
    ----------
    hashes : ndarray of uint64, shape (n,)
    threshold : int
        Largest Hamming distance counted, 0..64.
    exclude : array-like of int, shape (n,), optional
        A group id per image: pairs within one group are left out as they
        are found (:func:`find_duplicates` passes the exact-copy groups).
    max_pairs : int, optional
        Refuse to list more pairs than this (24 bytes each).

    Returns
    -------
    ndarray of shape (n_pairs, 3), dtype int64
        Columns ``i``, ``j``, distance; sorted by ``i`` then ``j``.

    Raises
    ------
    ValueError
        If ``threshold`` is not an int in 0..64.
    ReportError
        If more than ``max_pairs`` pairs are found (checked block by block,
        so the pairs held never exceed it by more than one block's).
    """
    _check_threshold(threshold)
    hashes = np.asarray(hashes, dtype=np.uint64)
    found, n_found = [], 0
    for stop, pairs in _pair_blocks(hashes, threshold, block, exclude):
        n_found += len(pairs)
        if max_pairs is not None and n_found > max_pairs:
            compared = f" (the first {stop:,} compared)" if stop < len(hashes) else ""
            # At 0 no lower threshold exists: the images share pHashes (video frames, say), whatever the threshold.
            lower = (f"Give a lower threshold (default {DEFAULT_NEAR_THRESHOLD}; at 64 every image pairs with every "
                     "other), or " if threshold else "At threshold 0 these are images sharing one pHash; ")
            raise ReportError(
                f"threshold (--threshold) {threshold}: more than {max_pairs:,} near-duplicate pairs among "
                f"{len(hashes):,} images{compared}; listing them would take more than "
                f"{max_pairs * 24 / 1e6:.3g} MB. "
                f"{lower}describe a subset of the images, or the loaded dataset with its copies dropped first: "
                "fer_classic.data.describe_dataset(fer_classic.data.dedupe(dataset, near=True, "
                f"threshold={threshold})) in Python (dedupe's memory grows with the images, not their pairs).")
        found.append(pairs)
    return np.concatenate(found) if found else np.zeros((0, 3), dtype=np.int64)


def _pair_blocks(hashes: np.ndarray, threshold: int, block: int, exclude=None):
    """``(stop, pairs)`` per block of rows: the pairs ``i, j, distance`` with ``i`` before ``stop``, ``i < j``."""
    exclude = None if exclude is None else np.asarray(exclude).ravel()
    blank = _popcount(hashes) <= 1  # no texture: every DCT coefficient but the mean equal
    for start in range(0, len(hashes), block):
        stop = min(start + block, len(hashes))
        distances = hamming_distance(hashes[start:stop, None], hashes[None, start:])
        rows, cols = np.nonzero(distances <= threshold)
        keep = cols > rows  # columns are offset by start: j = start + col, i = start + row
        keep &= ~blank[rows + start] & ~blank[cols + start]
        if exclude is not None:  # exact copies: all within any threshold, n^2/2 pairs of one image repeated
            keep &= exclude[rows + start] != exclude[cols + start]
        rows, cols = rows[keep], cols[keep]
        yield stop, np.column_stack([rows + start, cols + start, distances[rows, cols]]).astype(np.int64)


def duplicate_groups(dataset: FaceDataset, *, threshold: int = DEFAULT_NEAR_THRESHOLD) -> np.ndarray:
    """One id per image of ``dataset``: exact and near copies (in chains) share it.

    What :meth:`DuplicateReport.group_ids` gives, in memory that grows with
    the images, not with their pairs: the pairs of each block of rows are
    folded into a forest of at most one edge per image, and exact copies are
    compared once. (Thousands of near-identical video frames make millions
    of pairs, which the report would hold.) Used as the groups of
    hold-outs and cross-validation folds.

    Parameters
    ----------
    dataset : FaceDataset
        The loaded images.
    threshold : int, default=DEFAULT_NEAR_THRESHOLD
        Largest pHash Hamming distance (of 64 bits) of a near copy.

    Returns
    -------
    ndarray of int, shape (n_images,)
    """
    _check_threshold(threshold)
    digests = np.asarray(pixel_digests(dataset.images), dtype=str)
    if not len(digests):
        return np.zeros(0, dtype=np.int64)
    _, first, inverse = np.unique(digests, return_index=True, return_inverse=True)
    hashes = perceptual_hashes([dataset.images[i] for i in first])  # one per distinct image
    n = len(first)
    labels, forest = np.arange(n), np.zeros((0, 2), dtype=np.int64)
    for _, pairs in _pair_blocks(hashes, threshold, 64):  # 64 rows: pairs held at most 64 per image
        if len(pairs):
            labels = _components(n, np.concatenate([forest, pairs[:, :2]]))
            _, root = np.unique(labels, return_index=True)  # each component's first member
            linked = np.flatnonzero(root[labels] != np.arange(n))
            forest = np.column_stack([linked, root[labels][linked]])
    groups = labels[inverse.ravel()]
    # Numbered by each group's first image, as connected_components numbers them: the same ids as
    # DuplicateReport.group_ids, so hold-outs drawn from them (and recomputed later) do not move.
    _, first_image, ids = np.unique(groups, return_index=True, return_inverse=True)
    rank = np.empty(len(first_image), dtype=np.int64)
    rank[np.argsort(first_image)] = np.arange(len(first_image))
    return rank[ids.ravel()]


def _check_threshold(threshold) -> None:
    if not isinstance(threshold, (int, np.integer)) or isinstance(threshold, bool) or not 0 <= threshold <= 64:
        raise ValueError(
            f"threshold must be an int from 0 to 64 (bits of the 64-bit pHash that may differ; "
            f"default {DEFAULT_NEAR_THRESHOLD}); got {threshold!r}."
        )


def join_exact_copies(images, groups: np.ndarray) -> tuple[np.ndarray, int]:
    """``groups`` with the groups of pixel-identical images made one, and how many groups were joined.

    A subject grouping keeps a person on one side of a split, but a copy of
    an image filed under two subjects (re-saved, copied between folders) would
    still be on both. A joined group takes the name of its member with the
    most images (the first sorted of those); when nothing is joined,
    ``groups`` come back as they are, so the splits drawn from them do not move.

    Parameters
    ----------
    images : sequence of ndarray
        The dataset's images.
    groups : ndarray of shape (n_images,)
        A group name per image (its subject).

    Returns
    -------
    groups : ndarray of shape (n_images,)
    joined : int
        Groups merged into another.
    """
    names, group, sizes = np.unique(np.asarray(groups).astype(str), return_inverse=True, return_counts=True)
    group = group.ravel()
    _, copy = np.unique(pixel_digests(images), return_inverse=True)
    # Groups and distinct images are the nodes; each image joins its group to its pixels.
    component = _components(len(names) + len(images), np.column_stack([group, len(names) + copy.ravel()]))
    component = component[: len(names)]
    # Each component's name: its largest group's (a subject over an image without one, '#image7'), sorted first.
    order = np.lexsort((np.arange(len(names)), -sizes, component))
    kept, first = np.unique(component[order], return_index=True)
    merged = names[order[first]][np.searchsorted(kept, component)]
    joined = int(np.sum(merged != names))
    return (merged[group] if joined else np.asarray(groups)), joined


def _components(n: int, pairs: np.ndarray) -> np.ndarray:
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _groups(component: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(component, kind="stable")
    bounds = np.flatnonzero(np.diff(component[order])) + 1
    return sorted((g for g in np.split(order, bounds) if len(g) > 1), key=lambda g: g[0])


def _split_pairs(present: list[str]) -> list[tuple[str, str]]:
    ordered = sorted(present, key=lambda s: SPLIT_PRIORITY.index(s) if s in SPLIT_PRIORITY else 9)
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1:]]


@dataclass
class DuplicateReport:
    """Exact and near duplicates of a set of images.

    Attributes
    ----------
    exact_groups : list of ndarray
        Index arrays (two or more images each) of pixel-identical images, in input order.
    near_pairs : ndarray of shape (n_pairs, 3)
        ``i``, ``j``, Hamming distance of pHash pairs within ``threshold`` that
        are not pixel-identical.
    threshold : int
    splits, labels, sources : ndarray of shape (n_images,)
    """

    exact_groups: list
    near_pairs: np.ndarray
    threshold: int
    splits: np.ndarray
    labels: np.ndarray
    sources: np.ndarray
    # counts() once: leaked, leakage_message, format and summary each asked for it (3.6 s on 4,400 frames).
    _counts: dict | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n_images(self) -> int:
        """Images examined."""
        return len(self.splits)

    def near_groups(self) -> list[np.ndarray]:
        """Connected components of the near pairs (chains A~B~C form one group).

        Returns
        -------
        list of ndarray
            Image indices of each group; empty without near pairs.
        """
        if not len(self.near_pairs):
            return []
        return _groups(_components(self.n_images, self.near_pairs))

    def group_ids(self) -> np.ndarray:
        """One id per image: images that are exact or near copies of each other (in chains) share it.

        Used as ``groups`` for cross-validation and hold-outs, so that no copy
        of an image is trained on while another is scored.

        Returns
        -------
        ndarray of int, shape (n_images,)
            Group id of each image.
        """
        pairs = [self.near_pairs[:, :2].astype(np.int64)] if len(self.near_pairs) else []
        pairs += [np.column_stack([g[:-1], g[1:]]) for g in self.exact_groups]
        if not pairs:
            return np.arange(self.n_images)
        return _components(self.n_images, np.concatenate(pairs))

    def drop_mask(self, *, near: bool = False) -> np.ndarray:
        """Images :func:`dedupe` drops: every copy but one per group.

        The copy kept is the first (in input order) of the earliest split in
        ``train, unsplit, val, test``: test images duplicated in train go, the
        train copy stays.

        Parameters
        ----------
        near : bool, default=False
            Also drop near copies (groups of :meth:`group_ids`); default: exact copies only.

        Returns
        -------
        ndarray of bool, shape (n_images,)
            True for the images dropped.
        """
        groups = _groups(self.group_ids()) if near and len(self.near_pairs) else self.exact_groups
        return _drop_mask(groups, self.splits)

    def counts(self) -> dict:
        """Duplicate counts within each split and across each pair of splits.

        Returns
        -------
        dict
            ``exact`` and ``near``, each mapping a scope (``"within train"``,
            ``"across train/test"``...) to counts. Within a split: ``groups`` of
            copies, ``images`` in them and ``extra_copies`` (images minus groups)
            for exact; ``pairs`` and ``images`` for near. Across two splits A/B:
            ``groups``/``pairs`` shared, and ``A_images``/``B_images`` involved
            (for train/test, ``test_images`` is the leakage: test images also in train).
            Near ``A_images``/``B_images`` leave out images pixel-identical to
            an image of the other split, which exact counts already: the exact
            and near leakage are disjoint.
            ``exact_label_conflicts`` counts exact groups whose copies carry different labels.
            Computed at the first call (the report is not to be changed after), a copy returned.
        """
        if self._counts is None:
            self._counts = self._count()
        return copy.deepcopy(self._counts)

    def _count(self) -> dict:
        present = sorted(set(self.splits.tolist()), key=lambda s: SPLIT_PRIORITY.index(s)
                         if s in SPLIT_PRIORITY else 9)
        name = {s: s or "unsplit" for s in present}
        exact: dict[str, dict] = {}
        near: dict[str, dict] = {}
        for split in present:
            members = [g[self.splits[g] == split] for g in self.exact_groups]
            members = [m for m in members if len(m) > 1]
            images = int(sum(len(m) for m in members))
            exact[f"within {name[split]}"] = {"groups": len(members), "images": images,
                                              "extra_copies": images - len(members)}
            pairs = self.near_pairs[(self.splits[self.near_pairs[:, 0]] == split)
                                    & (self.splits[self.near_pairs[:, 1]] == split)] if len(self.near_pairs) else []
            near[f"within {name[split]}"] = {
                "pairs": int(len(pairs)),
                "images": int(len(np.unique(np.asarray(pairs)[:, :2]))) if len(pairs) else 0,
            }
        group_of = np.full(self.n_images, -1)
        for number, group in enumerate(self.exact_groups):
            group_of[group] = number

        def identical_to_one_in(split: str) -> np.ndarray:
            """Per image: whether a pixel-identical copy of it lies in ``split``."""
            has = np.array([(self.splits[g] == split).any() for g in self.exact_groups] + [False])
            return has[group_of]  # -1 (no exact copy) picks the trailing False

        for a, b in _split_pairs(present):
            scope = f"across {name[a]}/{name[b]}"
            exact_of = {a: identical_to_one_in(b), b: identical_to_one_in(a)}
            shared = [g for g in self.exact_groups if (self.splits[g] == a).any() and (self.splits[g] == b).any()]
            exact[scope] = {
                "groups": len(shared),
                f"{name[a]}_images": int(sum((self.splits[g] == a).sum() for g in shared)),
                f"{name[b]}_images": int(sum((self.splits[g] == b).sum() for g in shared)),
            }
            if len(self.near_pairs):
                si, sj = self.splits[self.near_pairs[:, 0]], self.splits[self.near_pairs[:, 1]]
                cross = self.near_pairs[((si == a) & (sj == b)) | ((si == b) & (sj == a))]
            else:
                cross = np.zeros((0, 3), dtype=np.int64)
            ends = cross[:, :2].ravel()
            near[scope] = {"pairs": int(len(cross))}
            for split in (a, b):  # near only: images identical to one of the other split are exact leakage
                mine = ends[(self.splits[ends] == split) & ~exact_of[split][ends]]
                near[scope][f"{name[split]}_images"] = int(len(np.unique(mine)))
        conflicts = sum(len(set(self.labels[g].tolist())) > 1 for g in self.exact_groups)
        return {"threshold": self.threshold, "exact": exact, "near": near,
                "exact_label_conflicts": int(conflicts)}

    def leaked(self, train: str = "train", test: str = "test") -> tuple[int, int]:
        """``(exact, near)``: numbers of ``test`` images with a copy in ``train``.

        ``near`` counts the test images near a training image and identical to
        none, so that ``exact + near`` images leak.

        Parameters
        ----------
        train : str, default="train"
            The training split.
        test : str, default="test"
            The split scored.

        Returns
        -------
        exact : int
            ``test`` images identical to a ``train`` image.
        near : int
            ``test`` images near one and identical to none.
        """
        counts = self.counts()
        scope = f"across {train}/{test}"
        return (counts["exact"].get(scope, {}).get(f"{test}_images", 0),
                counts["near"].get(scope, {}).get(f"{test}_images", 0))

    def rows(self) -> list[dict]:
        """One row per image in a duplicate group, for a CSV.

        Keys: ``kind`` (exact/near), ``group``, ``split``, ``label``, ``source``,
        ``hamming`` (near: smallest distance to another member; exact: 0) and
        ``dedupe`` (keep/drop: what :func:`dedupe` does with exact duplicates).

        Returns
        -------
        list of dict
            One dict per image, with the keys above.
        """
        drop = self.drop_mask()
        rows = []
        for number, group in enumerate(self.exact_groups, start=1):
            for i in group:
                rows.append({"kind": "exact", "group": number, "split": self.splits[i], "label": self.labels[i],
                             "source": self.sources[i], "hamming": 0, "dedupe": "drop" if drop[i] else "keep"})
        nearest = np.full(self.n_images, 65)
        for i, j, d in self.near_pairs:
            nearest[i] = min(nearest[i], d)
            nearest[j] = min(nearest[j], d)
        for number, group in enumerate(self.near_groups(), start=1):
            for i in group:
                rows.append({"kind": "near", "group": number, "split": self.splits[i], "label": self.labels[i],
                             "source": self.sources[i], "hamming": int(nearest[i]), "dedupe": ""})
        return rows


def find_duplicates(
    digests: Sequence[str],
    hashes: np.ndarray,
    *,
    splits: Sequence[str],
    labels: Sequence[str],
    sources: Sequence[str],
    threshold: int = DEFAULT_NEAR_THRESHOLD,
    max_pairs: int | None = None,
) -> DuplicateReport:
    """Group pixel-identical images and pair near-identical ones.

    Parameters
    ----------
    digests : sequence of str
        :func:`pixel_digest` of each image.
    hashes : ndarray of uint64
        :func:`perceptual_hashes` of each image.
    splits, labels, sources : sequence of str
        Per image.
    threshold : int, default=DEFAULT_NEAR_THRESHOLD
        Largest pHash Hamming distance (of 64 bits) of a near duplicate.
    max_pairs : int, optional
        Refuse (:class:`~fer_classic.exceptions.ReportError`) to list more
        near pairs than this; :func:`fer_classic.data.describe_dataset`
        passes :data:`MAX_NEAR_PAIRS`.

    Returns
    -------
    DuplicateReport
    """
    _check_threshold(threshold)
    digests = np.asarray(digests, dtype=object)
    n = len(digests)
    if not (len(hashes) == len(splits) == len(labels) == len(sources) == n):
        raise ValueError("digests, hashes, splits, labels and sources must have one entry per image.")
    _, inverse = np.unique(digests.astype(str), return_inverse=True)
    exact_groups = _groups(inverse.ravel())
    pairs = (near_duplicate_pairs(hashes, threshold, exclude=inverse, max_pairs=max_pairs) if n
             else np.zeros((0, 3), dtype=np.int64))
    return DuplicateReport(
        exact_groups=exact_groups, near_pairs=pairs, threshold=int(threshold),
        splits=np.asarray(splits, dtype=object), labels=np.asarray(labels, dtype=object),
        sources=np.asarray(sources, dtype=object),
    )


def duplicates_of(dataset: FaceDataset, *, threshold: int = DEFAULT_NEAR_THRESHOLD) -> DuplicateReport:
    """:func:`find_duplicates` over a FaceDataset's loaded (gray, resized) images.

    Splits are those ``fit`` uses (:func:`~fer_classic.data._dataset.effective_splits`):
    a flat folder of FER2013 ``Training_``/``PublicTest_`` files counts as train and test.

    Parameters
    ----------
    dataset : FaceDataset
        The loaded images.
    threshold : int, default=DEFAULT_NEAR_THRESHOLD
        Largest pHash Hamming distance (of 64 bits) of a near copy.

    Returns
    -------
    DuplicateReport
        Exact and near copies, by split.
    """
    return find_duplicates(
        pixel_digests(dataset.images), perceptual_hashes(dataset.images),
        splits=effective_splits(dataset.splits, dataset.usages), labels=dataset.labels, sources=dataset.sources,
        threshold=threshold,
    )


def dedupe(
    dataset: FaceDataset,
    *,
    near: bool = False,
    threshold: int = DEFAULT_NEAR_THRESHOLD,
) -> FaceDataset:
    """Return the dataset without duplicate copies, in memory; files on disk are untouched.

    Of every group of duplicates one image is kept: the first (in dataset
    order) of the earliest split in ``train, unsplit, val, test``. So test
    images that also occur in train are dropped from test, and repeated
    copies within a split are dropped down to one. An image's split is the
    one ``fit`` trains or scores it in: where the dataset has no split, a
    FER2013 usage (``Training_``/``PublicTest_`` file names) gives it.

    Parameters
    ----------
    dataset : FaceDataset
        The loaded images.
    near : bool, default=False
        Also treat near duplicates (pHash within ``threshold``) as copies;
        default: pixel-identical images only. Near groups are connected
        components, so chains of similar images count as one group.
    threshold : int, default=DEFAULT_NEAR_THRESHOLD
        With ``near``: largest pHash Hamming distance (of 64 bits) of a near copy.

    Returns
    -------
    FaceDataset
        A subset of ``dataset`` (same order, same ``skipped``).

    Notes
    -----
    Duplicates are found on the loaded images (grayscale, resized), which is
    what a model is trained on.
    """
    _check_threshold(threshold)
    # No near pairs listed (video frames by the thousand make millions): exact copies by digest,
    # near ones by duplicate_groups, whose memory grows with the images only.
    digests = np.asarray(pixel_digests(dataset.images), dtype=str)
    exact_groups = _groups(np.unique(digests, return_inverse=True)[1].ravel()) if len(digests) else []
    splits = effective_splits(dataset.splits, dataset.usages)
    groups = _groups(duplicate_groups(dataset, threshold=threshold)) if near else exact_groups
    drop = _drop_mask(groups, splits)
    # Only exact copies are checked: near duplicates of one subject may well show two expressions.
    mixed = [group for group in exact_groups if len(set(dataset.labels[group].tolist())) > 1]
    if mixed:
        warnings.warn(
            f"{len(mixed)} group(s) of pixel-identical copies carry different labels; each keeps the label of the "
            "copy kept (named first: the first of the earliest split in train, unsplit, val, test), and the others "
            "are dropped with their copies: "
            + list_sources([_conflict(group, drop, splits, dataset) for group in mixed])
            + ". Fix the labels if one of them is right.",
            UserWarning, stacklevel=2)
    return dataset.subset(~drop)


#: What a test image copying a training image does to each part a command scores (``warn_exact_copies``).
_COPY_EFFECTS = {
    "test": "the test score is inflated",
    "PrivateTest": "the test score is inflated",
    "PublicTest (validation)": "the validation scores, and so the parameters chosen, favour memorised images",
}


def warn_exact_copies(train: FaceDataset, scored: Mapping[str, FaceDataset], name: str, *, command: str = "fit",
                      stacklevel: int = 2) -> None:
    """Warn of scored images pixel-identical to training ones, and of identical copies that carry other labels.

    What ``fit`` (without ``--dedupe``) and ``search`` say of their data:
    ``describe`` lists such copies and :func:`dedupe` drops them, but a fit
    that used neither scored inflated and trained on contradicting labels
    without a word. Exact copies only (digests: 0.5 s for 36,000 images of
    48x48); near duplicates need ``describe``'s pHash comparison.

    Parameters
    ----------
    train : FaceDataset
        The training images.
    scored : mapping of str to FaceDataset
        Each part scored, by what it is (``"test"``, ``"PublicTest (validation)"``,
        ``"PrivateTest"``): one warning per part, saying what its copies do.
    name : str
        The data's name (its path), as ``describe --data`` takes it.
    command : {"fit", "search"}
        Chooses the remedy named: search has no ``--dedupe``.
    stacklevel : int, default=2
        Of the warnings.
    """
    dedupe_it = ("fit --dedupe (dedupe_data=True)" if command == "fit" else
                 f"{command} has no --dedupe: {command} on fer_classic.data.dedupe(dataset) in Python, which")
    # The data named: describe without --data describes the generated faces.
    listed = f"'fer-classic describe --data {shlex.quote(str(name))} --duplicates-csv FILE' (same --label-map) lists"
    train_digests = pixel_digests(train.images)
    first = dict(zip(reversed(train_digests), reversed(range(len(train)))))  # digest -> its first training image
    parts = [(what, part, pixel_digests(part.images)) for what, part in scored.items()]
    for what, part, digests in parts:
        leaked = [(i, first[d]) for i, d in enumerate(digests) if d in first]
        if leaked:
            warnings.warn(
                f"{name}: {len(leaked)} of the {len(part)} {what} images are pixel-identical to training images, "
                f"so {_COPY_EFFECTS.get(what, _COPY_EFFECTS['test'])}: "
                + list_sources([f"{part.sources[i]} = {train.sources[j]}" for i, j in leaked], limit=3)
                + f". {dedupe_it} leaves them out (in memory; the files are untouched); {listed} every copy.",
                DataLeakageWarning, stacklevel=stacklevel)
    every = [train, *(part for _, part, _ in parts)]
    labels = np.concatenate([np.asarray(d.labels, dtype=object) for d in every])
    sources = np.concatenate([np.asarray(d.sources, dtype=object) for d in every])
    digests = train_digests + [d for _, _, part_digests in parts for d in part_digests]
    copies = _groups(np.unique(digests, return_inverse=True)[1].ravel()) if len(labels) else []
    mixed = [group for group in copies if len(set(labels[group].tolist())) > 1]
    if mixed:
        shown = []
        for group in mixed:  # one copy of each label (three at most)
            first_of = {label: source for label, source in zip(labels[group][::-1], sources[group][::-1])}
            shown.append(" = ".join(f"{first_of[label]} ({label})" for label in list(dict.fromkeys(labels[group]))[:3]))
        warnings.warn(
            f"{name}: {len(mixed)} group(s) of pixel-identical images carry different labels, so the model "
            "learns (or is scored on) both labels of one face: " + list_sources(shown, limit=3)
            + f". Fix the labels of the wrong copies; {dedupe_it} keeps one copy of each; {listed} them.",
            UserWarning, stacklevel=stacklevel)


def _conflict(group: np.ndarray, drop: np.ndarray, splits: np.ndarray, dataset: FaceDataset) -> str:
    """``kept (label) = other (label)...``: the copy kept, then one copy of each other label (two at most)."""
    kept = group[~drop[group]]
    # With near=True a near copy outside the group may be kept instead: then the group's own pick is named.
    keeper = kept[0] if len(kept) else group[~_drop_mask([group], splits)[group]][0]
    shown, labels = [keeper], {dataset.labels[keeper]}
    for i in group:
        if dataset.labels[i] not in labels and len(shown) < 3:
            shown.append(i)
            labels.add(dataset.labels[i])
    return " = ".join(f"{dataset.sources[i]} ({dataset.labels[i]})" for i in shown)


def _drop_mask(groups: list[np.ndarray], splits: np.ndarray) -> np.ndarray:
    """Every image of ``groups`` but the one kept: the first of the earliest split in :data:`SPLIT_PRIORITY`."""
    drop = np.zeros(len(splits), dtype=bool)
    for group in groups:
        rank = [SPLIT_PRIORITY.index(s) if s in SPLIT_PRIORITY else 9 for s in splits[group]]
        keep = group[int(np.lexsort((group, rank))[0])]
        drop[group[group != keep]] = True
    return drop
