"""Decoding a class folder ahead of the command that loads it (``fit``, ``search``).

The command line's ``fit`` spends about a second importing scikit-learn and
SciPy before it reads its first image; on two cores, the forked decoders
(NumPy, OpenCV and Pillow only) can run meanwhile. :func:`decoding_ahead`
starts them; the command's own :func:`fer_classic.load_dataset` of the same
folder, size and face cropper takes the decoded images over
(:func:`fer_classic.data._images.prefetch_images`), and anything else it
would have done (errors, warnings, skipped files) is unchanged.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from ..labels import parse_label_map
from ._folder import scan_folder
from ._images import CROP_POLICIES, CropSpec, as_size, cancel_prefetch, prefetch_images
from ._load import recognise_format

__all__ = ["decoding_ahead"]


def _start(data, size, label_map, n_jobs, crop, margin, align) -> bool:
    if not isinstance(data, (str, os.PathLike)) or crop not in CROP_POLICIES:
        return False
    root = Path(data)
    if not root.is_dir() or recognise_format(root) != "folder":
        return False
    label_map = parse_label_map(label_map)
    # The scan warns as the load's own scan will (the command line shows each text once): a catch_warnings
    # here, process-wide, put back a state it had saved from another thread after that thread had changed it.
    _, paths, *_ = scan_folder(root, label_map)
    return prefetch_images(paths, as_size(size), CropSpec(CROP_POLICIES[crop], margin, align), n_jobs)


@contextlib.contextmanager
def decoding_ahead(
    data, *, size: int = 48, label_map: Mapping[str, str] | str | None = None, n_jobs: int | None = None,
    crop: str = "auto", margin: float = 0.0, align: bool = False,
) -> Iterator[bool]:
    """Start decoding ``data``'s images when it is a class-folder tree; yields whether it started.

    The arguments are those of ``fit_model``. A load of ``data`` in the block
    with the same ``size``, ``n_jobs`` and face cropper (``crop``, ``margin``,
    ``align``, as :func:`fer_classic._training.make_face_cropper` builds it)
    takes the decoded images over; decoding nobody took over is dropped when
    the block ends. Anything unusual (another kind of dataset, a label or an
    option the load will refuse) starts nothing: the load reports it, in
    its own words. The folder's scan warns as the load's own scan does (no
    warnings filter of its own: that state is process-wide); the command
    line holds its warnings state over the block, which shows each text once.
    """
    try:
        started = _start(data, size, label_map, n_jobs, crop, margin, align)
    except Exception:  # noqa: BLE001 - only a head start: the load in the block reports what is wrong
        started = False
    try:
        yield started
    finally:
        cancel_prefetch()
