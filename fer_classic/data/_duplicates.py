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

    Through a banded hash index (exact: see :func:`_indexed_pair_blocks`) up to
    threshold 12, else by comparing all pairs in blocks (memory ``block * n``
    words): 0.25 s for 32,000 images at the default threshold, 4 s for 128,000
    (the brute force: 3 s and 54-94 s). Hashes of images without texture (at
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
    """``(stop, pairs)`` per block of rows: the pairs ``i, j, distance`` with ``i`` before ``stop``, ``i < j``.

    The banded index (:func:`_indexed_pair_blocks`) where it is faster, else the brute force
    (:func:`_brute_pair_blocks`); both give the same blocks, pair for pair.
    """
    hashes = np.asarray(hashes, dtype=np.uint64)
    # Measured on FER2013 pHashes (AMD EPYC, 2 shared cores): below ~2,000 hashes both take milliseconds and
    # the brute force needs no index; above 12 bits, bands of 4-5 bits hold n/16-n/32 hashes each and the
    # index compares more pairs than the brute force (the index also falls back by itself: _INDEX_SHARE).
    # The index numbers exclude's groups through np.unique, the brute force compares them with !=: they agree on
    # integer ids (the documented kind), not on NaN (unequal to itself) or None beside strings (unordered).
    integral = exclude is None or np.asarray(exclude).dtype.kind in "iub"
    if threshold <= _MAX_INDEXED_THRESHOLD and len(hashes) >= _MIN_INDEXED_HASHES and integral:
        return _indexed_pair_blocks(hashes, threshold, block, exclude)
    return _brute_pair_blocks(hashes, threshold, block, exclude)


#: Largest threshold searched with the banded index (32,000 FER2013 pHashes: 0.015 s at 0, 0.2 s at 6,
#: 1.4 s at 10, 2.8 s at 12, 24 s at 14 without the fallback; the brute force 3 s at any threshold).
_MAX_INDEXED_THRESHOLD = 12
#: Fewest hashes searched with the banded index (2,000 pHashes: 0.01 s either way).
_MIN_INDEXED_HASHES = 2048
#: The index falls back to the brute force where its candidates (images sharing a band value with a row's,
#: summed over rows and bands) exceed this share of the n^2/2 pairs: a candidate costs about as much
#: as a pair of the brute force (measured), and hashes all within a few bits (a static video's frames)
#: share every band: up to (threshold + 1) n^2 candidates.
_INDEX_SHARE = 1.0
#: Most candidate images (summed over bands) examined at once by the banded index: about 8 int64 arrays of this.
_INDEX_BUDGET = 1 << 21


def _brute_pair_blocks(hashes: np.ndarray, threshold: int, block: int, exclude=None):
    """:func:`_pair_blocks` by comparing every pair: n^2/2 distances, ``block * n`` at a time."""
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


def _bands(threshold: int) -> list[tuple[int, int]]:
    """``(shift, mask)`` of ``threshold + 1`` disjoint runs of bits covering the 64 (widths differing by 1 at most)."""
    n_bands = threshold + 1
    widths = [64 // n_bands + (k < 64 % n_bands) for k in range(n_bands)]
    shifts = 64 - np.cumsum(widths)
    return [(int(shift), (1 << width) - 1) for shift, width in zip(shifts, widths)]


def _expand(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(owner, position)`` of every ``position`` in the ranges ``lo[k]:hi[k]``, owner ``k``, in order."""
    counts = hi - lo
    owner = np.repeat(np.arange(len(lo)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(counts.sum()) - (starts - lo)[owner]


def _indexed_pair_blocks(hashes: np.ndarray, threshold: int, block: int, exclude=None):
    """:func:`_pair_blocks` through a banded (multi-index) hash table: exact, near-linear on real images.

    Pigeonhole: hashes within ``threshold`` bits agree on at least one of ``threshold + 1`` disjoint
    bands of bits, so only hashes sharing a band's value are compared; a pair is taken from the first
    band it agrees on, so no pair is found twice. Identical hashes are indexed once, and images of one
    ``exclude`` group with one hash (exact copies) are one unit never paired within itself: a
    thousand copies cost one entry, not their half a million pairs. Blank hashes are left out, as in
    the brute force. The pairs come out sorted by ``i`` then ``j`` in the brute force's blocks.
    """
    n = len(hashes)
    threshold = int(threshold)
    group = (np.arange(n) if exclude is None
             else np.unique(np.asarray(exclude).ravel(), return_inverse=True)[1].ravel())
    live = np.flatnonzero(_popcount(hashes) > 1)  # blank hashes pair with nothing
    # Images sorted by hash, then group, then index: a hash's units (one group each) and a unit's images are runs.
    order = live[np.lexsort((live, group[live], hashes[live]))]
    sorted_hashes, sorted_groups = hashes[order], group[order]
    new_hash = np.ones(len(order), dtype=bool)
    new_hash[1:] = sorted_hashes[1:] != sorted_hashes[:-1]
    new_unit = new_hash.copy()
    new_unit[1:] |= sorted_groups[1:] != sorted_groups[:-1]
    unit_of = np.cumsum(new_unit) - 1
    unit_start = np.append(np.flatnonzero(new_unit), len(order))  # images of unit u: order[unit_start[u]:...[u + 1]]
    hash_unit = np.append(unit_of[new_hash], unit_of[-1] + 1 if len(order) else 0)  # units of hash h: run
    hash_image = np.append(np.flatnonzero(new_hash), len(order))
    unique = sorted_hashes[new_hash]
    hash_id = np.full(n, -1)
    hash_id[order] = np.cumsum(new_hash) - 1
    unit_id = np.full(n, -1)
    unit_id[order] = unit_of
    unit_key = unit_of * n + order  # ascending: the images of a unit after a given index are found by searchsorted

    # Per band: each hash's bucket (its band value's rank), and the hashes sorted by bucket then last image,
    # so a row finds the hashes of its bucket with an image after its own (j > i) in one range.
    last_image = np.maximum.reduceat(order, hash_image[:-1]) if len(order) else np.zeros(0, dtype=np.int64)
    bands = []
    upper = np.zeros(len(unique), dtype=np.int64)  # hashes and images in a hash's buckets, summed over bands
    for shift, mask in _bands(threshold):
        bucket = np.unique((unique >> np.uint64(shift)) & np.uint64(mask), return_inverse=True)[1].ravel()
        by_key = np.lexsort((last_image, bucket))
        keys = bucket[by_key] * n + last_image[by_key]
        bucket_end = np.searchsorted(keys, (bucket + 1) * n)
        upper += (np.bincount(bucket) + np.bincount(bucket, weights=np.diff(hash_image)).astype(np.int64))[bucket]
        bands.append((np.uint64(mask << shift), bucket, keys, bucket_end, by_key, unique[by_key]))

    # A row's work: the hashes of its buckets, their units and images; less its own unit's images (copies of
    # it, in its buckets in every band), which are never listed: a bound on its candidates and pairs.
    work = upper[hash_id[live]] - len(bands) * np.diff(unit_start)[unit_id[live]]
    if work.sum() > _INDEX_SHARE * n * n / 2:  # buckets too full to gain on the brute force (see _INDEX_SHARE)
        yield from _brute_pair_blocks(hashes, threshold, block, exclude)
        return

    # Rows in chunks of whole blocks, as many as the budget allows (one at least): memory stays bounded
    # even where a bucket is large (near-identical video frames: each one's pairs are listed anyway).
    work = np.cumsum(np.bincount(live + 1, weights=work, minlength=n + 1)).astype(np.int64)
    starts = list(range(0, n, block))
    k = 0
    while k < len(starts):
        end = k + 1
        while end < len(starts) and work[min(starts[end] + block, n)] - work[starts[k]] <= _INDEX_BUDGET:
            end += 1
        first, last = starts[k], min(starts[end - 1] + block, n)
        pairs = _indexed_pairs(live[np.searchsorted(live, first):np.searchsorted(live, last)], threshold,
                               hashes, group, unique, hash_id, unit_id, hash_unit, unit_start, unit_key, order, bands)
        bounds = np.searchsorted(pairs[:, 0], [min(s + block, n) for s in starts[k:end]])
        for stop, pairs_of_block in zip(starts[k:end], np.split(pairs, bounds[:-1])):
            yield min(stop + block, n), pairs_of_block
        k = end


def _indexed_pairs(rows, threshold, hashes, group, unique, hash_id, unit_id, hash_unit, unit_start, unit_key,
                   order, bands) -> np.ndarray:
    """The pairs ``i, j, distance`` (``i`` of ``rows``, ``i < j``) of :func:`_indexed_pair_blocks`, sorted."""
    n = len(hashes)
    mine = hash_id[rows]
    found_row, found_hash, found_distance = [], [], []
    for k, (_, bucket, keys, bucket_end, by_key, sorted_unique) in enumerate(bands):
        lo = np.searchsorted(keys, bucket[mine] * n + rows, side="right")
        counts = bucket_end[mine] - lo
        ends = np.cumsum(counts)
        # Every candidate as a position in the band's order; rows are looked up for the few near ones only.
        position = np.arange(ends[-1] if len(ends) else 0) + np.repeat(lo - (ends - counts), counts)
        xor = np.repeat(unique[mine], counts) ^ sorted_unique[position]
        distance = _popcount(xor)
        hit = np.flatnonzero(distance <= threshold)
        keep = np.ones(len(hit), dtype=bool)
        for mask, *_ in bands[:k]:  # found in the first band the two agree on only: listed once
            keep &= (xor[hit] & mask) != 0
        hit = hit[keep]
        found_row.append(np.searchsorted(ends, hit, side="right"))
        found_hash.append(by_key[position[hit]])
        found_distance.append(distance[hit])
    owner, other, distance = (np.concatenate(found_row), np.concatenate(found_hash),
                              np.concatenate(found_distance))
    # Hashes to units: every unit of the near hash but the row's own (its exact copies).
    owner_of_unit, position = _expand(hash_unit[other], hash_unit[other + 1])
    owner, distance = owner[owner_of_unit], distance[owner_of_unit]
    keep = position != unit_id[rows[owner]]
    owner, unit, distance = owner[keep], position[keep], distance[keep]
    # Units to images: those after the row's image (i < j).
    i = rows[owner]
    lo = np.searchsorted(unit_key, unit * n + i, side="right")
    owner_of_image, position = _expand(lo, unit_start[unit + 1])
    i, j, distance = i[owner_of_image], order[position], distance[owner_of_image]
    apart = group[i] != group[j]  # one group, other hashes: left out as the brute force leaves them
    i, j, distance = i[apart], j[apart], distance[apart]
    ranked = np.lexsort((j, i))
    return np.column_stack([i[ranked], j[ranked], distance[ranked]]).astype(np.int64)


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
    held, n_held = [], 0
    for stop, pairs in _pair_blocks(hashes, threshold, 64):  # 64 rows: a block's pairs at most 64 per image
        if len(pairs):
            held.append(pairs[:, :2])
            n_held += len(pairs)
        # Folded once some n pairs are held, not per block: each fold is O(n), and with the banded index
        # most blocks have a pair or two (n/64 folds made the grouping quadratic again).
        if held and (n_held >= max(n, 1 << 16) or stop == n):
            labels = _components(n, np.concatenate([forest, *held]))
            _, root = np.unique(labels, return_index=True)  # each component's first member
            linked = np.flatnonzero(root[labels] != np.arange(n))
            forest = np.column_stack([linked, root[labels][linked]])
            held, n_held = [], 0
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
