"""The one core that ``fit`` and ``search`` share: fit a pipeline, score it once, package and save it.

:func:`fer_classic.workflow.fit_model` and
:func:`fer_classic.model_selection.search_model` differ only in how they
choose the pipeline's parameters; from there on both call :func:`fit_score_save`.
"""

from __future__ import annotations

import math
import numbers
import os
import re
import time
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import ParameterGrid, StratifiedGroupKFold

from ._sklearn_compat import Interval, Real, check_parameter_constraints, validate_parameter_constraints
from .data import FaceDataset, duplicate_groups, load_dataset
from .data._duplicates import join_exact_copies
from .data._load import data_path  # noqa: F401 - where workflow and model_selection take it from
from .data._dataset import split_mask
from .data._images import CROP_POLICIES
from .estimators import compact_support_vectors
from .estimators._canonical import coded_class_weights
from .exceptions import DatasetError, FaceDetectorError, MissingDependencyError, MissingWeightsError
from .evaluation import classification_metrics
from .features import deep_metadata
from .labels import sort_labels
from .persistence import FERModel, start_save
from .preprocessing import FlipAugmented

__all__ = [
    "CROP_POLICIES", "Log", "check_stratified_folds", "compile_groups", "data_path", "fit_score_save", "hold_out",
    "hold_out_folds", "hold_out_record", "image_groups", "load_data", "make_face_cropper", "pipeline_options",
    "quiet", "split_train_test", "subject_groups", "timed", "training_cropper", "validated",
]

Log = Callable[[str], None]


def quiet(message: str) -> None:
    """Default logger: say nothing."""


def timed(timings: dict, key: str, func, *args, **kwargs):
    """Call ``func`` and add its seconds to ``timings[key]``."""
    start = time.perf_counter()
    result = func(*args, **kwargs)
    timings[key] = round(timings.get(key, 0.0) + time.perf_counter() - start, 3)
    return result


def compile_groups(pattern: str) -> re.Pattern:
    """The ``--groups`` regular expression, checked: it compiles and has a capturing group."""
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"--groups {pattern!r} is not a valid regular expression: {exc}.") from exc
    if regex.groups < 1:
        raise ValueError(f"--groups pattern {pattern!r} needs a capturing group, e.g. 'S(\\d+)_'.")
    return regex


def subject_groups(sources: np.ndarray, pattern: str) -> np.ndarray:
    """Subject id of each image from a regular expression's first group over its file name.

    Parameters
    ----------
    sources : ndarray of str
        The images' sources (file paths).
    pattern : str
        Regular expression with at least one group, searched in each file name.

    Returns
    -------
    ndarray of shape (n_images,)
        The first group's text for each image.

    Raises
    ------
    DatasetError
        If a file name does not match (the file is named).
    """
    regex = compile_groups(pattern)
    groups = []
    for source in sources:
        match = regex.search(Path(str(source)).name)
        if match is None or match.group(1) is None:  # an optional group left out names no subject either
            raise DatasetError(f"{source}: file name does not match the groups pattern {pattern!r}"
                               f"{'' if match is None else ' with its first group'}; fix --groups.")
        groups.append(match.group(1))
    return np.asarray(groups)


def image_groups(dataset: FaceDataset, pattern: str | None = None, *, log: Log = quiet,
                 join_copies: bool = True) -> tuple[np.ndarray, str]:
    """A group id per image, so that no split puts related images on both sides; and how they were found.

    In order: the subject of each file name (``pattern``, ``--groups``); the
    dataset's own subjects (a labels file's subject column, CK+, JAFFE,
    KDEF; an image without one is its own group), either joined wherever a
    pixel-identical image is filed under two of them (``join_copies``: False
    only to recompute a hold-out drawn before that rule); else clusters of exact and
    near-duplicate images (pHash within
    :data:`fer_classic.data.DEFAULT_NEAR_THRESHOLD` bits, chains joined), so
    that sequence frames and copies never straddle a fold or the hold-out.

    Subjects that each name one image (:data:`PER_IMAGE_SUBJECTS` images or
    more, every subject given once: a per-row ``id`` column read as the
    subject, say) keep nothing together; the near-duplicate clusters are used
    instead, with a UserWarning naming the column where the dataset is a
    labels file.

    Returns
    -------
    groups : ndarray of shape (n_images,)
    grouping : str
        What the groups are, for the log and the model's metadata.
    """
    if pattern or ((dataset.subjects != "").any() and not _subjects_per_image(dataset)):
        if pattern:
            groups, source = subject_groups(dataset.sources, pattern), f"subjects from --groups {pattern!r}"
            subjects = len(np.unique(groups))
        else:
            groups = np.where(dataset.subjects != "", dataset.subjects.astype(str),
                              [f"#image{i}" for i in range(len(dataset))])
            source, subjects = "the dataset's subjects", len(np.unique(dataset.subjects[dataset.subjects != ""]))
        groups, joined = join_exact_copies(dataset.images, groups) if join_copies else (groups, 0)
        grouping = f"{source} ({subjects} subjects" + (
            f"; {joined} joined to another by a pixel-identical image in both)" if joined else ")")
    else:
        groups = duplicate_groups(dataset)  # memory bounded by the images, not their pairs
        clustered = len(groups) - len(np.unique(groups))
        grouping = (f"near-duplicate clusters ({clustered} of {len(groups)} images are copies or near copies of "
                    "another and are kept with it)")
    log(f"grouping images by {grouping}")
    return groups, grouping


#: From this many images with subjects on, subjects that each name one image are taken for no subjects
#: (a per-row id read as the subject) and the images are grouped by near-duplicate clusters instead.
PER_IMAGE_SUBJECTS = 10


def _subjects_per_image(dataset: FaceDataset) -> bool:
    """Whether ``dataset``'s subjects each name one image (and are many): then warn that they are not used."""
    named = dataset.subjects[dataset.subjects != ""].astype(str)
    if len(named) < PER_IMAGE_SUBJECTS or len(np.unique(named)) < len(named):
        return False
    column = _subject_column(dataset.name)
    where = f"its column {column!r}" if column else "its subjects"
    examples = ", ".join(repr(s) for s in named[:3].tolist())
    warnings.warn(f"{dataset.name}: {where} gives each of its {len(named)} images a subject of its own ({examples}, "
                  "...), which groups nothing: a per-row id rather than the person shown? The images are grouped by "
                  "near-duplicate clusters instead, so that copies of an image stay on one side. Give subjects that "
                  "repeat (one per person), --groups REGEX (subjects from the file names), or "
                  "load_dataset(..., columns={'subject': NAME}) naming the right column.", UserWarning, stacklevel=3)
    return True


def _subject_column(name: str) -> str | None:
    """The header of the subject column when ``name`` is a labels file with one such column, else None."""
    from .data._labels_file import COLUMN_SPELLINGS, _norm, read_header_fields

    try:
        _, header = read_header_fields(name)
    except (DatasetError, OSError, ValueError):  # not a labels file: a folder, a layout, a name
        return None
    found = [field for field in header if _norm(field) in COLUMN_SPELLINGS["subject"]]
    return found[0] if len(found) == 1 else None


#: ``test_size``: a share strictly between 0 and 1 (NaN refused).
_TEST_SIZE = {"test_size": [Interval(Real, 0, 1, closed="neither")]}


def hold_out_folds(test_size: float, caller: str = "hold_out") -> tuple[int, bool, float]:
    """The stratified, grouped folds a hold-out of about ``test_size`` is cut from.

    The hold-out is whole folds of :class:`~sklearn.model_selection.StratifiedGroupKFold`:
    one of ``folds`` when ``test_size`` is 0.5 or less, ``folds`` chosen so
    that ``1 / folds`` is the share nearest ``test_size`` (0.2: 5 folds, 20 %;
    0.3 or 0.4: 3 folds, 33 %; 0.45: 2 folds, 50 %); above 0.5, all folds but
    one, with ``1 - 1 / folds`` nearest (0.7: 3 folds, 67 %; 0.9: 10 folds, 90 %).

    Parameters
    ----------
    test_size : float
        In (0, 1).
    caller : str, default="hold_out"
        The function taking ``test_size``, for the message.

    Returns
    -------
    folds : int
    larger : bool
        Whether the hold-out is all folds but one.
    share : float
        The share of the groups held out, ``1 / folds`` or ``1 - 1 / folds``.

    Raises
    ------
    InvalidParameterError
        (a ValueError) If ``test_size`` is not a number strictly between 0 and 1.
    """
    validate_parameter_constraints(_TEST_SIZE, {"test_size": test_size}, caller)
    larger = test_size > 0.5
    small = 1 - test_size if larger else test_size
    fewer = max(2, int(min(1 / small, 1e9)))  # 1 / folds just above small, and just below:
    folds = min((fewer, fewer + 1), key=lambda k: abs(1 / k - small))
    return folds, larger, 1 - 1 / folds if larger else 1 / folds


def hold_out(
    data: FaceDataset, *, test_size: float = 0.2, random_state: int = 0, groups: str | None = None,
    log: Log = quiet, caller: str = "hold_out", join_copies: bool = True,
) -> tuple[FaceDataset, FaceDataset, bool, str | None, np.ndarray | None]:
    """Return ``(train, test, held_out, grouping, train_groups)``: :func:`split_train_test` and its groups.

    ``grouping`` says how images were grouped and ``train_groups`` are the
    training images' group ids (both None without a hold-out), so that
    cross-validation on ``train`` can reuse them instead of grouping again.

    The dataset's own ``train``/``test`` splits when it has both
    (``grouping`` None); otherwise a seeded hold-out of about ``test_size``
    of its train split, or of all its images when it has no split labels
    (whole folds, see :func:`hold_out_folds`), stratified by class and
    grouped by :func:`image_groups` (``held_out=True``): a subject, or a
    cluster of near-identical images, lies wholly on one side. Data with a
    test or val split but no train split is refused: nothing is trained on
    test images. ``log`` is told about the hold-out.

    ``caller``: the public function taking ``test_size``, for the message;
    ``join_copies``: as in :func:`image_groups`.

    Raises
    ------
    InvalidParameterError
        (a ValueError) If ``test_size`` is not strictly between 0 and 1,
        whether or not a hold-out is needed.
    DatasetError
        As :func:`split_train_test`.
    """
    folds, larger, share = hold_out_folds(test_size, caller)
    if not data.has_split("train") and (data.has_split("test") or data.has_split("val")):
        # Holding a share out of test or validation images would train the model on them.
        counts = _split_counts(data.splits, data.usages)
        raise DatasetError(f"{data.name} has no train split to fit on (its images: {counts}); fit and "
                           "search never train on test or validation images. Add training images (a train/ folder, or "
                           "rows whose split is train), or give a dataset without split labels to hold a test "
                           "share out of.")
    has_test = data.has_split("test")
    if data.has_split("train"):
        warn_left_out(data, stacklevel=2)
    if has_test:
        return data.select("train"), data.select("test"), False, None, None
    pool = data.select("train") if data.has_split("train") else data
    # By count, not identity: a folder of Training_* files has no split labels, and its usage selects every image.
    of = "its train split" if len(pool) < len(data) else "all its images"
    log(f"no test split in {data.name}: holding out a stratified, grouped {share:.0%} of {of} "
        f"(test_size={test_size}, seed {random_state})")
    ids, grouping = image_groups(pool, groups, log=log, join_copies=join_copies)
    what = f"a hold-out of {share:.0%} (test_size={test_size}: {folds - 1 if larger else 1} of {folds} folds)"
    if len(np.unique(ids)) < folds:
        raise DatasetError(f"{pool.name}: {grouping} is too few groups for {what}; "
                           "give more images or subjects, or a test split.")
    check_stratified_folds(pool.labels, folds, f"{pool.name}: {what}", "give more images, or a test split")
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=random_state)
    train_idx, test_idx = next(splitter.split(np.zeros(len(pool)), pool.labels, ids))
    if larger:  # all folds but one held out
        train_idx, test_idx = test_idx, train_idx
    train_idx, test_idx = np.sort(train_idx), np.sort(test_idx)
    return pool.subset(train_idx), pool.subset(test_idx), True, grouping, ids[train_idx]


def hold_out_record(test_size: float, groups: str | None, dedupe: bool = False) -> dict:
    """What a model records of the hold-out its fit made (metadata ``hold_out``), to recompute it later.

    With the model's ``random_state`` and the data it was fitted on, these
    give back the held-out images (:func:`fer_classic.workflow.held_out_images`).
    """
    # copies_joined: subjects sharing a pixel-identical image were one group (image_groups), which a
    # hold-out recorded without it was not.
    return {"test_size": float(test_size), "groups": groups, "dedupe": bool(dedupe), "copies_joined": True}


def _split_counts(splits: np.ndarray, usages: np.ndarray) -> str:
    """``"10 test, 3 val"``: how many images each split (or FER2013 usage, or none) holds, per image."""
    counts = Counter(split or usage or "no split" for split, usage in zip(splits.tolist(), usages.tolist()))
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))


def warn_left_out(data, *, stacklevel: int = 2) -> None:
    """Warn that the images of ``data`` (with a train split) in neither train nor test are left out.

    ``data`` is a FaceDataset or a listing of files (``name``, ``splits``,
    ``usages``): e.g. a val/ folder's images, or CSV rows with an empty Usage, are said
    to be left out, not silently dropped, whether or not a test is held out of train.
    """
    test = split_mask(data.splits, data.usages, "test")
    used = split_mask(data.splits, data.usages, "train") | test
    if not used.all():
        counts = _split_counts(data.splits[~used], data.usages[~used])
        warnings.warn(f"{data.name}: {int((~used).sum())} images in neither the train nor the test split "
                      f"({counts}) are left out; give them a train or test split to use them"
                      f"{'' if test.any() else ' (the test images are held out of the train split)'}.",
                      UserWarning, stacklevel=stacklevel + 1)


def check_stratified_folds(labels, folds: int, what: str, fix: str) -> None:
    """Raise DatasetError, before any fit, when ``labels`` cannot be cut into ``folds`` stratified folds.

    scikit-learn refuses when even the largest class has fewer images than
    folds, in its own words ("n_splits=5 cannot be greater than..."); here
    ``what`` names the user's option (``"--cv 5"``) or step, and ``fix`` says
    what to change (``{largest}`` is replaced by the largest class's count;
    below 2 images the fix is to add images).
    """
    largest = int(np.unique(np.asarray(labels), return_counts=True)[1].max()) if len(labels) else 0
    if largest < folds:
        hint = "add images" if "{largest}" in fix and largest < 2 else fix.format(largest=largest)
        raise DatasetError(f"{what} needs a class with at least {folds} training images (the folds are "
                           f"stratified), but the largest has {largest}; {hint}.")


def split_train_test(
    data: FaceDataset, *, test_size: float = 0.2, random_state: int = 0, groups: str | None = None,
    log: Log = quiet,
) -> tuple[FaceDataset, FaceDataset, bool]:
    """Return ``(train, test, held_out)``.

    The dataset's own ``train``/``test`` splits when it has both; otherwise a
    seeded hold-out of about ``test_size`` (in (0, 1)) of its train split, or
    of all its images when it has no split labels at all, whole stratified
    folds (0.2: one of 5 folds; 0.3 or 0.4: one of 3, 33 %; 0.9: 9 of 10; see
    :func:`hold_out_folds`), stratified
    by class and grouped by :func:`image_groups` (``held_out=True``): a
    subject (``groups``, a regular expression over file names, or the
    dataset's subjects), or a cluster of near-identical images, lies wholly on
    one side. Images in neither the train nor the test split (``val``, none)
    are left out with a UserWarning that counts them.

    Parameters
    ----------
    data : FaceDataset
        The loaded dataset.
    test_size : float, default=0.2
        Share held out when the data has no test split, strictly between 0 and 1.
    random_state : int, default=0
        Seed of the hold-out.
    groups : str, optional
        Regular expression whose first group is the subject in each file name;
        None: the dataset's subjects, else clusters of near-identical images.
    log : callable, optional
        Receives progress messages.

    Returns
    -------
    train : FaceDataset
        The training images.
    test : FaceDataset
        The test images.
    held_out : bool
        True when ``test`` was held out of the training data, False when it is the data's own test split.

    Raises
    ------
    InvalidParameterError
        (a ValueError) If ``test_size`` is not strictly between 0 and 1.
    DatasetError
        If the data has a test or val split but no train split (its test
        images are never trained on), or a hold-out is needed and the images
        form too few groups, or even the largest class has too few images
        for a stratified ``test_size``.
    """
    return hold_out(data, test_size=test_size, random_state=random_state, groups=groups, log=log,
                    caller="split_train_test")[:3]


def make_face_cropper(size, *, crop: str = "auto", margin: float = 0.0, align: bool = False):
    """The fitted FaceCropper ``fit`` and ``search`` load images through and record in the model.

    ``crop`` is one of :data:`CROP_POLICIES`, FaceCropper's ``detect``.

    Raises
    ------
    FaceDetectorError
        If ``crop`` is not one of :data:`CROP_POLICIES` or ``margin`` is out
        of range (checked before any data is read).
    """
    from .data._images import CropSpec, as_size

    if crop not in CROP_POLICIES:
        raise FaceDetectorError(f"crop (--crop) must be one of {', '.join(CROP_POLICIES)}; got {crop!r}.")
    # A CropSpec, as the command line's early decoding (data._prefetch) describes this cropper.
    return CropSpec(CROP_POLICIES[crop], margin, align).cropper(as_size(size))


def training_cropper(data, size, *, crop: str = "auto", margin: float = 0.0, align: bool = False):
    """The cropper ``fit`` and ``search`` load ``data`` through and record, or None for a FaceDataset.

    A FaceDataset's images are already the model's inputs (of their own
    geometry): nothing crops them again, and the model records the policy
    they were read with (:meth:`~fer_classic.persistence.FERModel.from_fitted`:
    the dataset's ``face_cropper``, else whole images or the default crop). Face crops given
    as such (the generated faces, fer2013.csv: :func:`~fer_classic.data._load.takes_crops`)
    are framed as the default crop frames a photo: ``--crop detect``,
    ``--margin`` and ``--align`` do not apply to them, are warned of, and the
    model records the default. The options are checked either way, before any
    data is read.
    """
    from .data._load import is_generated, takes_crops

    cropper = make_face_cropper(size, crop=crop, margin=margin, align=align)
    unused = [f"--margin {margin}"] * bool(margin) + ["--align"] * bool(align)
    if crop == "none" and unused:  # nothing is searched: no box to widen, no eyes to level
        verb = "do" if len(unused) > 1 else "does"
        warnings.warn(f"--crop none takes each image whole: {' and '.join(unused)} {verb} nothing with it.",
                      UserWarning, stacklevel=2)
    elif not isinstance(data, FaceDataset) and takes_crops(data):
        unused = ["--crop detect"] * (crop == "detect") + unused
        if unused:
            # Recorded, they cut photos unlike the training images at predict time (a wider or levelled face).
            what = "the generated faces" if is_generated(data) else str(data)
            warnings.warn(f"{' and '.join(unused)} {'do' if len(unused) > 1 else 'does'} not apply to {what}, "
                          "whose images are face crops already: they are trained on as given, and the model "
                          "records the default crop, which frames photos as they are framed.", UserWarning,
                          stacklevel=2)
            cropper = make_face_cropper(size, crop="none" if crop == "none" else "auto")
    return None if isinstance(data, FaceDataset) else cropper


def load_data(data, size, label_map=None, n_jobs=None, cropper=None, pipeline=None) -> FaceDataset:
    """``data`` itself when it is a FaceDataset, else :func:`fer_classic.load_dataset` of it.

    ``cropper`` (a FaceCropper or None) cuts each image file as
    :func:`fer_classic.load_dataset` describes; a FaceDataset is used as
    given (its images are already the model's inputs). ``pipeline``, the
    one the images go to next, has its compiled feature kernels loaded while
    they decode (:func:`fer_classic.features._base.warm_up`).
    """
    if isinstance(data, FaceDataset):
        return data
    from .data._images import as_size, while_decoding
    from .features._base import warm_up

    work = None if pipeline is None else (lambda: warm_up(pipeline, as_size(size)))
    with while_decoding(work):
        return load_dataset(data, size=size, label_map=label_map, n_jobs=n_jobs, cropper=cropper)


def pipeline_options(*, preprocess=None, flip: bool = False, mirror_kernel: bool = False, kernel_shift: int = 0,
                     block_scaling: bool = False, block_weights: Mapping | None = None,
                     sampler: str | None = None, features: str = "hog") -> dict:
    """The :func:`fer_classic.make_pipeline` options a model records (JSON-ready, None and no shift left out).

    ``block_weights`` are recorded as checked against ``features`` (lower-case
    names, floats).

    Raises
    ------
    ValueError
        If ``flip``, ``mirror_kernel`` or ``block_scaling`` is not a bool (as
        :func:`fer_classic.make_pipeline` refuses it: ``"no"`` turned it on),
        or ``block_weights`` are refused (:func:`fer_classic.pipeline.check_block_weights`).
    """
    from .pipeline import check_block_weights, check_flag

    options = {"preprocess": preprocess if preprocess is None or isinstance(preprocess, str) else repr(preprocess),
               "flip": check_flag("flip", flip), "mirror_kernel": check_flag("mirror_kernel", mirror_kernel),
               "kernel_shift": kernel_shift or None, "block_scaling": check_flag("block_scaling", block_scaling),
               "block_weights": check_block_weights(block_weights, features, block_scaling), "sampler": sampler}
    return {k: v for k, v in options.items() if v is not None}


def validated(estimator):
    """``estimator`` after checking the parameters of it and every estimator inside it.

    scikit-learn checks ``_parameter_constraints`` only when ``fit`` starts;
    this runs the same checks up front, so that ``--param C=abc`` fails
    before the data is loaded and the features are extracted.

    Raises
    ------
    InvalidParameterError
        (a ValueError) naming the estimator, the parameter and what it takes.
    """
    nested = [estimator, *estimator.get_params(deep=True).values()]
    for item in nested:
        if isinstance(item, BaseEstimator) and hasattr(item, "_parameter_constraints"):
            check_parameter_constraints(item)
    return estimator


def data_image_shape(data) -> tuple[int, int] | None:
    """The ``image_shape`` a pipeline is built with for ``data`` (``make_pipeline(image_shape=...)``).

    A FaceDataset's own geometry when its images are not square: each step
    would read such rows as one row of pixels. None otherwise (a path is
    loaded at a square ``--size``; the steps infer a square).
    """
    if isinstance(data, FaceDataset) and data.image_shape[0] != data.image_shape[1]:
        return tuple(data.image_shape)
    return None


def features_shape(data, size, preprocess) -> tuple[int, int] | None:
    """The geometry of the images the features see, or None where a preprocessing step may change it."""
    from .data._images import as_size
    from .preprocessing import keeps_image_size, make_preprocessing

    if preprocess is not None and not keeps_image_size(make_preprocessing(preprocess)):
        return None
    return tuple(data.image_shape) if isinstance(data, FaceDataset) else as_size(size)


def training_pipeline(features: str, clf: str, clf_params: Mapping | None, *, data, size, preprocess, options: dict,
                      random_state, log: Log = quiet, grid: Mapping | None = None, **kwargs):
    """``(make_pipeline(...), features_shape)`` as ``fit`` and ``search`` build it for ``data`` at ``size``.

    The geometry is known here (``--size``), so a ``combined-svm`` over several
    extractors gets one kernel per extractor (``blocks``, see
    :func:`fer_classic.pipeline.combined_blocks`), unless a search's ``grid``
    varies a step before the classifier (an extractor's width changes with
    its candidates: ``make_pipeline`` warns of one kernel over every column).
    ``kwargs`` go to :func:`fer_classic.make_pipeline` (``n_jobs``).
    """
    from .pipeline import combined_blocks, make_pipeline

    shape = features_shape(data, size, preprocess)
    params = dict(clf_params or {})
    widths_vary = any(not key.removeprefix("estimator__").startswith(("clf__", "sampler__")) for key in grid or {})
    blocks = combined_blocks(features, clf, params, shape, warn=not widths_vary)
    if blocks is not None and widths_vary:
        blocks = None
        warnings.warn(f"combined-svm over the extractors of {features!r}: the grid varies their parameters, so "
                      "their widths change between candidates and every kernel covers all their columns; keep the "
                      "extractors' parameters out of the grid to have one kernel per extractor.", UserWarning,
                      stacklevel=3)
    if blocks is not None:
        params["blocks"] = blocks
        log(f"combined-svm: one kernel per extractor of {features}, blocks={blocks}")
    with warnings.catch_warnings():
        # Warned above, with the geometry known: not again as unknown. A process-wide filter (not thread-safe
        # before Python 3.14: fits in threads may see it come and go), kept until make_pipeline can be told
        # not to warn of the blocks itself (it calls combined_blocks with warn=True).
        warnings.filterwarnings("ignore", message="combined-svm over the", category=UserWarning)
        pipeline = make_pipeline(features, clf, random_state=random_state, image_shape=data_image_shape(data),
                                 **options, **kwargs, **params)
    return pipeline, shape


def kernel_matrix_bytes(pipeline, n_rows: int) -> int:
    """Bytes of the training kernel matrix a pipeline's kernel SVM keeps for ``n_rows`` rows; 0 without one.

    ``8 n**2`` (float64) for :class:`~fer_classic.estimators.KernelSVC` and
    :class:`~fer_classic.estimators.CombinedKernelSVC`, ``12 n**2`` for
    :class:`~fer_classic.estimators.LocalSVC` (and its float32 copy);
    ``CombinedKernelSVC(weights="cv")`` with an int ``cv`` also keeps every
    block's float32 matrix and a fold's parts (``CombinedKernelSVC._cv_bytes``).
    Their own check (in ``fit``) adds the working memory, once the features are known.
    """
    from numbers import Integral

    from .estimators import CombinedKernelSVC, LocalSVC
    from .estimators._kernel_svc import _KernelSVCBase

    steps = [pipeline, *pipeline.get_params(deep=True).values()]
    if any(isinstance(step, LocalSVC) for step in steps):
        return 12 * n_rows * n_rows
    for step in steps:
        if isinstance(step, CombinedKernelSVC) and isinstance(step.weights, str) and (
                step.cv is None or isinstance(step.cv, Integral)):
            folds = 3 if step.cv is None else max(int(step.cv), 2)
            tested = -(-n_rows // folds)  # the largest test part of a stratified split, about
            n_blocks = 1 if step.blocks is None else len(step.blocks)  # without blocks: one kernel of all columns
            return CombinedKernelSVC._cv_bytes(n_rows, n_blocks, n_rows - n_rows // folds, tested)
    return 8 * n_rows * n_rows if any(isinstance(step, _KernelSVCBase) for step in steps) else 0


def require_feature_memory(features, shape, n_rows: int, *, flip: bool, mirror_kernel: bool,
                           kernel_shift: int, pipeline=None) -> None:
    """Refuse, before extracting, a feature matrix of the training images larger than the memory available.

    float64 features (the extractors' output), twice the rows with ``flip``;
    with ``mirror_kernel``, one float64 view while the others are written
    side by side in float32 (:class:`~fer_classic.preprocessing.MirrorViews`).
    With ``pipeline``, its kernel SVM's training kernel matrix comes on top
    (:func:`kernel_matrix_bytes`); alone where the widths are known only after
    a fit (SIFT and patch words, deep networks).
    """
    from ._resources import require_memory
    from .features._registry import feature_widths, parse_feature_names
    from .preprocessing import n_mirror_views

    rows = n_rows * (2 if flip and not mirror_kernel else 1)
    kernel = 0 if pipeline is None else kernel_matrix_bytes(pipeline, rows)
    matrix = f"{rows:,} x {rows:,} training kernel matrix"
    size = "" if shape is None else f"--size {shape[0]}" + (f"x{shape[1]}" if shape[0] != shape[1] else "")
    advice = "give a smaller --size or other --features." if not kernel else (
        "give fewer training images, a smaller --size or other --features, or a classifier whose memory does not "
        "grow with the square of the images (--clf svm --param backend=approx).")
    widths = feature_widths(features, shape) if shape is not None else [None]
    if None in widths:  # only a fit can tell (SIFT codebooks, deep networks): their own checks apply
        if kernel:
            require_memory(kernel, f"The {matrix} alone (the features of --features {features} come on top)",
                           advice)
        return
    width = sum(widths)
    if mirror_kernel:
        views = n_mirror_views(kernel_shift)
        needed, what = n_rows * width * (8 + 4 * views), f"{n_rows:,} x {views * width:,} float32"
    else:
        needed, what = rows * width * 8, f"{rows:,} x {width:,} float64"
    what = f"The {what} features"
    if "pca" in parse_feature_names(features):  # exact components: the pixels' covariance and eigh's copy of it
        pixels = int(np.prod(shape))
        needed, what = needed + 16 * pixels * pixels, f"{what} (and pca's {pixels:,} x {pixels:,} pixel covariance)"
    if kernel:
        needed, what = needed + kernel, f"{what} and the {matrix}"
    require_memory(needed, f"{what} of --features {features} at {size}", advice)


def require_mlp_memory(pipeline, features, shape) -> None:
    """Refuse, before loading, MLP layers whose weights (and Adam's two moments) exceed the memory available."""
    from sklearn.neural_network import MLPClassifier

    from ._resources import require_memory
    from .features._registry import feature_widths

    mlps = [step for step in pipeline.get_params(deep=True).values() if isinstance(step, MLPClassifier)]
    if not mlps:  # the widths cost a probe of every extractor
        return
    widths = feature_widths(features, shape) if shape is not None else [None]
    inputs = sum(widths) if None not in widths else 1  # unknown: the hidden layers alone, counted low
    for step in mlps:
        sizes = [int(n) for n in (step.hidden_layer_sizes if isinstance(step.hidden_layer_sizes, (list, tuple))
                                  else [step.hidden_layer_sizes]) if isinstance(n, numbers.Integral)]
        layers = [inputs, *sizes, 7]  # seven emotions out
        weights = sum(a * b for a, b in zip(layers[:-1], layers[1:]))
        require_memory(3 * 8 * weights, f"--param hidden_layer_sizes={list(sizes)} (MLP weights and Adam's "
                       f"moments, {weights:,} weights)", "give smaller layers (--param hidden_layer_sizes=...).",
                       ValueError)


def check_geometry(pipeline, data, size, grid: Mapping | None = None) -> None:
    """Raise ValueError, before any image is decoded, if a feature step cannot apply to the images' size.

    (HOG blocks larger than the image, say.) Checked for every candidate of
    ``grid`` (None: ``pipeline`` alone), naming the failing one. The size is
    ``data``'s own for a FaceDataset, else ``size``, the one the images are
    brought to. A pipeline whose preprocessing may change the size (a crop
    without resizing, a transformer of the user's) is left to its fit.
    """
    from .data._images import as_size
    from .preprocessing import keeps_image_size

    if any(name.rsplit("__", 1)[-1] == "preprocess" and step is not None and not keeps_image_size(step)
           for name, step in pipeline.get_params(deep=True).items()):
        return
    shape = data.image_shape if isinstance(data, FaceDataset) else as_size(size)
    for candidate in ParameterGrid(_varying(pipeline, grid, lambda owner, name: hasattr(owner, "_check_params"))):
        steps = clone(pipeline).set_params(**candidate).get_params(deep=True).values()
        try:
            for step in steps:
                if isinstance(step, BaseEstimator) and hasattr(step, "_check_params"):
                    step._check_params(tuple(getattr(step, "image_shape", None) or shape))
        except ValueError as exc:
            raise ValueError(f"{exc} (the candidate {candidate})" if candidate else str(exc)) from None


def _feature_split(pipeline) -> int | None:
    """Index after the ``features`` step, or None when the pipeline cannot be split (FlipAugmented)."""
    names = [name for name, _ in getattr(pipeline, "steps", [])]
    return names.index("features") + 1 if "features" in names and len(names) > names.index("features") + 1 else None


def check_candidates(pipeline, train: FaceDataset, grid: Mapping | None = None, folds: int | None = None,
                     splits: list[np.ndarray] | None = None, *, early_stopping_off: str | None = None) -> None:
    """Raise ValueError, before any features, for a candidate that cannot fit ``train``.

    ``train`` must hold two classes or more. Checked for every candidate of
    ``grid`` (a search's parameter grid; None: ``pipeline`` alone): a
    ``class_weight`` dict naming a label ``train`` lacks, a k-NN
    ``n_neighbors`` of None or above the rows the classifier can be fit on (which
    scikit-learn would only report when predicting), PCA components
    above the training rows or (on pixels) the pixels of an image, and a SMOTE or ADASYN sampler whose neighbours
    outnumber the other images of a class it oversamples (scikit-learn's
    "Expected n_neighbors <= n_samples_fit" after the features otherwise).
    ``folds``: a search's cross-validation folds, whose training parts hold
    fewer rows; ``splits``: the rows of ``train`` in each fold's training
    part, when known (grouped folds differ in size: the advice then says how
    many PCA components fit); ``early_stopping_off``: how the
    caller's user turns an MLP's early stopping off (None: fit's ``--param``; search gives its grid entry).
    """
    labels = sort_labels(set(train.classes))
    if len(labels) < 2:
        raise DatasetError(f"The training images of {train.name} hold only 1 class ({labels[0]!r}); a classifier "
                           "needs at least 2: add images of another class.")
    from sklearn.decomposition import PCA

    def matters(owner, name: str) -> bool:  # what _check_rows, _check_sampler and the class weights read
        return (name == "class_weight" or hasattr(owner, "kneighbors") or isinstance(owner, PCA)
                or hasattr(owner, "fit_resample") or name in ("early_stopping", "validation_fraction"))

    for candidate in ParameterGrid(_varying(pipeline, grid, matters)):
        model = clone(pipeline).set_params(**candidate)
        coded_class_weights(model, labels)
        _check_rows(model, train, folds, splits, early_stopping_off)
        _check_sampler(model, train, folds, splits)


def _varying(pipeline, grid: Mapping | None, matters) -> dict:
    """The part of ``grid`` whose parameters ``matters(owner estimator, name)`` a check: its candidates only.

    A search grid's full product can hold many thousands of candidates, most
    differing only in parameters a check does not read.
    """
    params = pipeline.get_params(deep=True)
    return {key: values for key, values in dict(grid or {}).items()
            if matters(params.get(key.rpartition("__")[0], pipeline), key.rpartition("__")[2])}


def _unwrap(pipeline) -> tuple[int, object]:
    """``(rows per image, the pipeline inside)``: 2 and the wrapped pipeline for FlipAugmented (--flip)."""
    return (2, pipeline.estimator) if isinstance(pipeline, FlipAugmented) else (1, pipeline)


def _fold_rows(n: int, folds: int | None) -> int:
    """The rows of ``n`` a stratified fold's training part holds at least.

    ``n - ceil(n / folds)``; all ``n`` without folds.
    """
    return n * (folds - 1) // folds if folds else n


def _fold_counts(train: FaceDataset, splits: list[np.ndarray] | None) -> list[dict]:
    """Images per class in each fold's training part (``splits``), or in all of ``train`` without them."""
    if splits is None:
        return [train.class_counts()]
    return [dict(zip(*(v.tolist() for v in np.unique(train.labels[rows], return_counts=True)))) for rows in splits]


def _check_rows(pipeline, train: FaceDataset, folds: int | None, splits: list[np.ndarray] | None = None,
                early_stopping_off: str | None = None) -> None:
    """k-NN neighbours and PCA components within the rows (and pixels) they are fit on.

    Never a false refusal: k-NN's neighbours are bounded by the smallest
    training part a ``folds``-fold split can have at most (``n - ceil(n /
    folds)``: the largest test part holds ``ceil(n / folds)`` rows or more),
    other counts are counted high.
    """
    from sklearn.decomposition import PCA

    mirrored, inner = _unwrap(pipeline)
    steps = list(pipeline.get_params(deep=True).values())
    fold_note = "" if folds is None else f" (a cross-validation fold holds about {_fold_rows(100, folds)} % of them)"
    counts = train.class_counts()
    if "sampler" in getattr(inner, "named_steps", {}):  # every class raised to the largest
        rows = mirrored * max(counts.values()) * len(counts)
        # Without the splits, counted high: a fold's largest class may be another.
        most = rows if splits is None else mirrored * min(max(c.values()) * len(c) for c in _fold_counts(train, splits))
    elif splits is not None:
        rows, most = mirrored * len(train), mirrored * min(len(part) for part in splits)
    else:  # some fold's training part holds at most _fold_rows (the others' test parts are no larger)
        rows, most = mirrored * len(train), mirrored * _fold_rows(len(train), folds)
    neighbours = [getattr(s, "n_neighbors", None) for s in steps if hasattr(s, "kneighbors")]
    if None in neighbours:  # scikit-learn fits it, then fails predicting (a TypeError, "a bug in fer-classic")
        raise ValueError("n_neighbors=None gives k-NN no number of neighbours to vote; give a number, e.g. "
                         "n_neighbors=5 (--param / --grid / --values).")
    neighbours = [k for k in neighbours if isinstance(k, int)]
    if any(k > most for k in neighbours):
        raise ValueError(
            f"n_neighbors={max(neighbours)} asks k-NN for more neighbours than the {rows} training rows it is fit "
            f"on{fold_note}; give n_neighbors={min(most, _fold_rows(rows, folds))} or less "
            "(--param / --grid / --values).")
    _check_early_stopping(steps, most, len(counts), fold_note, early_stopping_off or FIT_EARLY_STOPPING_OFF)
    rows = mirrored * len(train)  # PCA comes before any sampler
    components = [s.n_components for s in steps if isinstance(s, PCA) and isinstance(s.n_components, int)]
    if any(k > rows for k in components):
        k = max(components)
        images = -(-k // mirrored) if folds is None else -(-k * folds // ((folds - 1) * mirrored))
        # The number from the folds where they are cut (grouped folds are uneven); else the rows of a search
        # on these images without folds, and no number for folds not cut yet.
        fewer = (f'{mirrored * min(len(part) for part in splits)} or less, e.g. {{"pca.n_components": '
                 f"[{mirrored * min(len(part) for part in splits)}]}}" if splits is not None else
                 f"at most {rows} with --cv publictest, at most the training rows of its smallest fold with --cv K")
        raise ValueError(
            f"PCA keeps {k} components (--features pca), more than the {rows} training rows it would be fit "
            f"on{fold_note}; give at least {images} training images, fewer components (pca.n_components in a "
            f"search's --grid, {fewer}), or other features.")
    _check_eigenfaces([pipeline, *steps], tuple(train.image_shape))


#: How fit's user turns an MLP's early stopping off (a search's user gives a grid entry instead).
FIT_EARLY_STOPPING_OFF = "--param early_stopping=false"


def _check_early_stopping(steps: list, rows: int, classes: int, fold_note: str, remedy: str) -> None:
    """An MLP's early-stopping validation part (stratified: one row of each class at least) within ``rows``.

    scikit-learn holds out ``ceil(validation_fraction * rows)`` rows and
    stops with "The test_size = 4 should be greater or equal to the number
    of classes = 7", naming no option, when they are fewer than the classes. ``remedy``: how to turn early
    stopping off where the user is (:data:`FIT_EARLY_STOPPING_OFF`, search's grid entry).
    """
    from sklearn.neural_network import MLPClassifier

    for step in steps:
        if not (isinstance(step, MLPClassifier) and step.early_stopping is True
                and isinstance(step.validation_fraction, numbers.Real) and 0 < step.validation_fraction < 1):
            continue
        fraction = float(step.validation_fraction)
        held = math.ceil(fraction * rows)
        if held < classes or rows - held < classes:
            least = max(math.floor((classes - 1) / fraction) + 1, 2 * classes)
            raise ValueError(
                f"mlp's early stopping holds out validation_fraction={fraction:g} of the {rows} training rows it is "
                f"fit on{fold_note} ({held}) to validate on, fewer than one of each of the {classes} classes; give "
                f"at least {least} training rows, a larger validation_fraction, or early_stopping=False ({remedy}).")


def _check_eigenfaces(steps: list, shape: tuple[int, int]) -> None:
    """Refuse PCA right after the pixels ("eigenfaces") keeping more components than an image of ``shape`` has pixels.

    It sees one feature per pixel (before any crop: counted high).
    """
    from sklearn.decomposition import PCA

    from .features._pixels import PixelFeatures

    eigen = [after.n_components for owner in steps
             for (_, before), (_, after) in zip(getattr(owner, "steps", []), getattr(owner, "steps", [])[1:])
             if isinstance(before, PixelFeatures) and isinstance(after, PCA) and isinstance(after.n_components, int)]
    if any(k > shape[0] * shape[1] for k in eigen):
        k = max(eigen)
        side = math.isqrt(k - 1) + 1  # the smallest square image of k pixels or more
        raise ValueError(f"PCA keeps {k} components (--features pca), more than the {shape[0] * shape[1]} pixels of "
                         f"the {shape[0]}x{shape[1]} images it would be fit on; give images of at least {side}x{side} "
                         f"pixels (--size {side}), or other features.")


def check_before_loading(pipeline, shape: tuple[int, int] | None, grid: Mapping | None = None, *,
                         name: Callable[[str], str] = str) -> None:
    """Refuse, before any image is read, what the options alone decide would fail after loading.

    A Keras extractor (cnn, vgg16, vgg19) without TensorFlow, or with ``device='gpu'`` where
    TensorFlow sees no GPU; a cuML backend without cuML; ImageNet weights not in Keras' cache
    (or not Keras' file); and PCA components above the pixels of an image (``shape``; None: a
    preprocessing step may change it).

    Parameters
    ----------
    pipeline : Pipeline or FlipAugmented
    shape : (int, int) or None
    grid : mapping, optional
        A search's parameter grid (validated names and values): every
        candidate's device, backend and weights are checked, so that one that
        cannot run here is named before the others are fitted.
    name : callable, default=str
        The grid's parameter name as the message gives it (``features__device`` →
        ``cnn.device``).

    Raises
    ------
    MissingDependencyError
        If TensorFlow (or cuML for ``backend='cuml'``) is not installed; the message names the pip extra
        (and a grid's candidate).
    MissingWeightsError
        If ImageNet weights are not in Keras' cache (a grid's candidate is named).
    ValueError
        If a device, backend or weights cannot be used on this machine (a grid's candidate is named).
    """
    from .estimators import SVMClassifier
    from .features._deep import _KerasExtractorMixin

    def matters(owner, key: str) -> bool:  # what _check_runnable reads
        return ((isinstance(owner, SVMClassifier) and key == "backend")
                or (isinstance(owner, _KerasExtractorMixin) and key in ("device", "weights", "backbone")))

    candidates = list(ParameterGrid(_varying(pipeline, grid, matters)))
    failures = []
    for candidate in candidates:
        try:
            _check_runnable(clone(pipeline).set_params(**candidate) if candidate else pipeline)
        except (ValueError, MissingDependencyError, MissingWeightsError) as exc:
            if not candidate:
                raise
            failures.append((candidate, exc))
    if failures:
        candidate, exc = failures[0]
        if len(failures) == len(candidates) and len({str(e) for _, e in failures}) == 1:
            raise exc  # every candidate fails alike (weights, TensorFlow, cuML missing): no value of the grid to drop
        values = ", ".join(f"{name(key)}={value!r}" for key, value in candidate.items())
        # the error's own type (a missing package stays a MissingDependencyError), the candidate named
        raise type(exc)(f"--grid: the candidate {values} cannot run on this machine: {str(exc).rstrip('.')}. "
                        "Drop that value from the grid.") from None
    if shape is not None:
        _check_eigenfaces([pipeline, *pipeline.get_params(deep=True).values()], shape)


def _check_runnable(pipeline) -> None:
    """Raise when a step of ``pipeline`` cannot run on this machine (see :func:`check_before_loading`)."""
    from .features._deep import _KerasExtractorMixin, import_keras
    from .pipeline import _check_cuml

    _check_cuml(pipeline)  # make_pipeline's check: a candidate's set_params may have chosen cuML
    for step in [pipeline, *pipeline.get_params(deep=True).values()]:
        if isinstance(step, _KerasExtractorMixin):
            # TensorFlow now, not after loading and after the other extractors ran.
            tf, _ = import_keras(type(step).__name__)
            if step.device == "gpu":
                step._resolve_device(tf)  # ValueError where TensorFlow sees no GPU
            if type(step).__name__ == "DeepFeatures" and step.weights == "imagenet":
                from .features._deep import _imagenet_weights

                _imagenet_weights(step.backbone)  # in Keras' cache with Keras' MD5, or named now, before loading


def _check_sampler(pipeline, train: FaceDataset, folds: int | None = None,
                   splits: list[np.ndarray] | None = None, *, option: str = "--sampler") -> None:
    """SMOTE's or ADASYN's neighbours within every class it oversamples (in a fold's training part with ``folds``).

    ``option`` is the option the message names (a benchmark's ``--samplers``).

    Both draw new rows between a row of a class and its ``k`` nearest
    neighbours of the same class: every class below the largest (the
    samplers' default ``sampling_strategy``) needs ``k + 1`` rows or more.
    Stratified folds leave a class of ``n`` images at least ``n - ceil(n /
    folds)`` of them to train on.
    """
    mirrored, inner = _unwrap(pipeline)
    sampler = getattr(inner, "named_steps", {}).get("sampler")
    parameter = next((p for p in ("k_neighbors", "n_neighbors") if hasattr(sampler, p)), None)
    k = getattr(sampler, parameter, None) if parameter else None
    strategy = getattr(sampler, "sampling_strategy", None)
    if not isinstance(k, numbers.Integral) or strategy not in ("auto", "not majority"):
        return  # RandomOverSampler, a neighbours estimator of the user's, or classes of the user's choosing
    counts = train.class_counts()
    # The smallest class below the largest, in all of train (then _fold_rows of it) or in the fold's part given.
    smallest = [(n, label) for part in _fold_counts(train, splits)
                for label, n in part.items() if n < max(part.values())]
    if not smallest:
        return
    images, label = min(smallest)
    if splits is None:
        images = _fold_rows(images, folds)
    rows = mirrored * images
    if rows > k:
        return
    mirrors = f" ({images} and their mirror images)" if mirrored == 2 else ""
    if folds:
        mirrors += f" in a cross-validation fold's training part (of its {counts[label]}, with --cv {folds})"
    # The command line sets the sampler's neighbours only in a search's grid (fit's --param is the classifier's).
    smaller = (f", a smaller {parameter} ({parameter}={rows - 1} or less: sampler.{parameter} in a search's --grid, "
               f"set_params(sampler__{parameter}=...) in Python)" if rows > 1 else "")
    raise ValueError(
        f"sampler={type(sampler).__name__.lower()!r} ({option}) draws each new image of a class between one of its "
        f"images and its {parameter}={k} nearest neighbours in the class, so every class it oversamples needs at "
        f"least {k + 1} training images; the smallest, {label!r}, has {rows}{mirrors}. Give more images of "
        f"{label!r}{smaller}, or {option} random (sampler='random': repeats images).")


def fit_pipeline(pipeline, train: FaceDataset, timings: dict, log: Log, features: str, clf: str) -> None:
    """Fit ``pipeline`` on ``train``, timing the features and the classifier apart where it can."""
    check_candidates(pipeline, train)
    cut = _feature_split(pipeline)
    if cut is None:
        log(f"fitting '{features}' + '{clf}' on {len(train)} training images")
        timed(timings, "fit", pipeline.fit, train.X, train.y)
        return
    # Fitted in two parts only to report feature and classifier seconds apart.
    log(f"extracting '{features}' features of {len(train)} training images")
    head, tail = pipeline[:cut], pipeline[cut:]
    train_features = timed(timings, "features", head.fit_transform, train.X, train.y)
    if isinstance(train_features, np.ndarray) and len(train_features) > 1 and not np.ptp(train_features, axis=0).any():
        # Blank images (placeholders, a failed export) fitted without a word, every face then one class.
        warnings.warn(f"The '{features}' features of all {len(train)} training images are the same (blank or "
                      "constant images?): the classifier can learn nothing from them and will give every face one "
                      "class. Look at the data (fer-classic describe --data DATA).", UserWarning, stacklevel=3)
    log(f"fitting '{clf}' on {train_features.shape[0]} x {train_features.shape[1]} features")
    timed(timings, "fit", tail.fit, train_features, train.y)
    # With a memory, a slice's fitted steps may be cached copies held by the slice alone.
    pipeline.steps[:] = head.steps + tail.steps


def fit_score_save(
    pipeline,
    train: FaceDataset,
    test: FaceDataset,
    *,
    features: str,
    clf: str,
    source: str,
    timings: dict,
    log: Log = quiet,
    fitted: bool = False,
    out: str | os.PathLike | None = None,
    model_format: str | None = None,
    metrics_extra: Mapping | None = None,
    face_cropper=None,
    **metadata,
) -> tuple[FERModel, dict, Path | None]:
    """Fit ``pipeline`` on ``train`` (unless ``fitted``), score ``test`` once, wrap it as a FERModel, save it.

    Parameters
    ----------
    pipeline : Pipeline or FlipAugmented
        As :func:`fer_classic.make_pipeline` builds it.
    train, test : FaceDataset
    features, clf : str
        The names the pipeline was built from (recorded).
    source : str
        Where the data came from (recorded).
    timings : dict
        Seconds per stage; receives ``features``, ``fit``, ``predict`` and ``save``.
    log : callable, optional
        Receives progress messages.
    fitted : bool, default=False
        The pipeline is already fitted on ``train``: only score and package it.
    out, model_format : optional
        Where and how to save (see :func:`fer_classic.save_model`); None saves nothing.
    metrics_extra : mapping, optional
        Recorded with the test metrics (e.g. ``{"split": "PrivateTest"}``).
    face_cropper : FaceCropper, optional
        The cropper the training images were cut with: recorded under
        :data:`fer_classic.prediction.FACE_CROPPER_KEY` (as
        :func:`~fer_classic.prediction.with_face_cropper` does), so every
        command cuts images for the model the same way. None: the policy
        :meth:`~fer_classic.persistence.FERModel.from_fitted` reads from ``train``.
    **metadata
        More JSON-ready model metadata.

    Returns
    -------
    model : FERModel
    metrics : dict
        :func:`fer_classic.evaluation.classification_metrics` of ``test``.
    path : Path or None
    """
    if not fitted:
        fit_pipeline(pipeline, train, timings, log, features, clf)
    # Support vectors kept as codes their feature steps rebuild exactly (HOG cells, sparse SIFT votes).
    if timed(timings, "fit", compact_support_vectors, pipeline, train.X):
        log("support vectors kept as compact codes of their training images (rebuilt exactly when loaded)")
    head = pipeline[-1] if hasattr(pipeline, "steps") else getattr(pipeline, "estimator_", pipeline)
    head = head[-1] if hasattr(head, "steps") else head
    inner = getattr(head, "estimator_", None)
    backend = getattr(inner, "backend_", None)
    if backend:
        how = ", precomputed kernel matrix" if getattr(inner, "kernel_precomputed_", False) else ""
        log(f"'{clf}' fitted with backend {backend} ({inner.backend_reason_}{how})")
    deep = deep_metadata(pipeline)  # vgg16, vgg19, cnn: backbone, layer, weights source and hash
    # The cropper recorded (it also checks the crops are the model's geometry); None: what train was read with.
    model = FERModel.from_fitted(
        pipeline, train, features=features, clf=clf, source=source, timings=timings, face_cropper=face_cropper,
        **({"backend": backend} if backend else {}), **({"deep_features": deep} if deep else {}), **metadata,
    )
    # The file is started first: its compression runs while the test images are scored.
    started = time.perf_counter()
    saving = start_save(model, out, format=model_format) if out is not None else None
    started = time.perf_counter() - started
    predicted, _, scores, _ = model.predict_scores(test.images, timings=timings)
    metrics = classification_metrics(test.y, predicted, model.classes, scores=scores, groups=test.usages)
    model.metadata["timings"] = dict(timings)
    kept = ("accuracy", "f1_weighted", "f1_macro", "n", "accuracy_by_group")
    model.metadata["metrics"] = {**{k: metrics[k] for k in kept if k in metrics},
                                 **dict(metrics_extra or {})}
    if saving is None:
        return model, metrics, None
    path = timed(timings, "save", saving.finish)
    timings["save"] = round(timings["save"] + started, 3)
    return model, metrics, path
