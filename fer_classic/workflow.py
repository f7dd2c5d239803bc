"""The library functions behind each CLI command: fit, evaluate, predict, compare, describe."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ._fileio import check_outputs, folder_outputs, path_items
from ._resources import capped_n_jobs
from ._training import (
    Log,
    check_before_loading,
    require_feature_memory,
    require_mlp_memory,
    check_geometry,
    compile_groups,
    training_cropper,
    training_pipeline,
    data_path,
    fit_score_save,
    load_data,
    pipeline_options,
    quiet,
    hold_out,
    hold_out_folds,
    hold_out_record,
    split_train_test,
    timed,
    validated,
    warn_left_out,
)
from .data import DEFAULT_NEAR_THRESHOLD, DatasetDescription, FaceDataset, dedupe, describe_dataset
from .data._duplicates import warn_exact_copies
from .evaluation import (
    HELD_OUT,
    REPORT_FILES,
    Comparison,
    Report,
    classification_metrics,
    compare_models,
    metrics_summary,
    require_matplotlib,
    training_images_scored,
    warn_class_mismatch,
    warn_training_images,
    write_report,
)
from .evaluation._metrics import held_out_test
from .exceptions import DatasetError, EmptyClassError
from .persistence import FERModel, model_format as file_format
from .persistence._model import check_fer_model
from .pipeline import pipeline_keyword
from .prediction._model import loading_cropper

__all__ = [
    "FitResult",
    "EvaluateResult",
    "compare_model_files",
    "describe_data",
    "fit_model",
    "evaluate_model",
    "held_out_images",
    "split_train_test",
]


@dataclass
class FitResult:
    """What :func:`fit_model` produced.

    Attributes
    ----------
    model : FERModel
        The fitted model (trained on the train split only).
    metrics : dict
        Test scores, as :func:`fer_classic.evaluation.classification_metrics` returns them.
    timings : dict
        Seconds per stage (loading, fitting, scoring...).
    n_train : int
        Number of training images.
    n_test : int
        Number of test images scored.
    held_out : bool
        True when the test images were held out of the training data (it had no test split).
    path : Path or None, default=None
        Where the model was saved; None when it was not.
    """

    model: FERModel
    metrics: dict
    timings: dict
    n_train: int
    n_test: int
    held_out: bool
    path: Path | None = None

    def summary(self) -> dict:
        """Flat, JSON-ready summary (metrics, sizes, seconds, model path): ``fit --json``.

        Returns
        -------
        dict
            Test scores, ``n_train``, ``n_test``, ``held_out_test``, ``seconds``, ``classes``, ``model``,
            ``backend``, ``per_class`` and ``confusion_matrix``.
        """
        return {
            **metrics_summary(self.metrics),  # the test-score keys of search's and evaluate's summaries
            "n_train": self.n_train,
            "n_test": self.n_test,
            "held_out_test": self.held_out,
            "seconds": self.timings,
            "classes": self.model.classes,
            "model": str(self.path) if self.path else None,
            "backend": self.model.metadata.get("backend"),
            "per_class": self.metrics["per_class"],
            "confusion_matrix": self.metrics["confusion_matrix"],
        }


@dataclass
class EvaluateResult:
    """What :func:`evaluate_model` produced.

    Attributes
    ----------
    metrics : dict
        Scores, as :func:`fer_classic.evaluation.classification_metrics` returns them.
    timings : dict
        Seconds per stage (loading, predicting...).
    split : str
        The split scored (``"all"`` when every image was).
    n_test : int
        Number of images scored.
    skipped : list, default=[]
        Files that were not scored (undecodable, or no face found).
    report : Report or None, default=None
        The report written with ``report=``; None without one.
    """

    metrics: dict
    timings: dict
    split: str
    n_test: int
    skipped: list = field(default_factory=list)
    report: Report | None = None

    def summary(self) -> dict:
        """Flat, JSON-ready summary: ``evaluate --json``.

        Returns
        -------
        dict
            Scores, ``report``, ``n_test``, ``split``, ``seconds``, ``per_class``, ``classes``,
            ``confusion_matrix`` and ``skipped_files`` (a count).
        """
        return {
            **metrics_summary(self.metrics),  # the test-score keys of fit's and search's summaries
            "report": str(self.report.html) if self.report else None,
            "n_test": self.n_test,
            "split": self.split,
            "seconds": self.timings,
            "per_class": self.metrics["per_class"],
            "classes": self.metrics["classes"],
            "confusion_matrix": self.metrics["confusion_matrix"],
            "skipped_files": len(self.skipped),
        }


#: make_pipeline's own keywords, which are no classifier parameters: fit_model's argument and fit's option that
#: set each (None: nothing sets it; the third item says why). Passed in clf_params they clashed with that argument
#: (a TypeError), or changed the pipeline without the model recording it (preprocess, sampler) or cached it in an
#: unchecked folder (memory).
_PIPELINE_KEYWORDS = {
    "features": ("features", "--features"), "clf": ("clf", "--clf"), "preprocess": ("preprocess", "--preprocess"),
    "flip": ("flip", "--flip"), "mirror_kernel": ("mirror_kernel", "--mirror-kernel"),
    "kernel_shift": ("kernel_shift", "--kernel-shift"), "block_scaling": ("block_scaling", "--block-scaling"),
    "block_weights": ("block_weights", "--block-weight"),
    "sampler": ("sampler", "--sampler"), "random_state": ("random_state", "--seed"), "n_jobs": ("n_jobs", "--n-jobs"),
    "views": ("mirror_kernel", "--mirror-kernel"), "memory": (None, None, "{fit} caches nothing"),
    "image_shape": (None, None, "{fit} takes the images' geometry from the data ({size})"),
}


def _check_clf_params(clf_params: Mapping | None, *, command_line: bool = False) -> None:
    """Refuse a classifier parameter that is a pipeline option, in fit_model's words or (``command_line``) fit's."""
    # By the key's last part, as make_pipeline checks it: local-svm's estimator__views is the mirror kernel too.
    for key in clf_params or {}:
        name = pipeline_keyword(key)
        if name is None:
            continue
        argument, option, *why = _PIPELINE_KEYWORDS[name]
        what = "is a pipeline option" if name == key else f"sets {name}, a pipeline option"
        if why:
            fix = why[0].format(fit="fit" if command_line else "fit_model",
                                size="--size" if command_line else "size=") + "; leave it out"
        else:
            fix = f"use {option} instead" if command_line else f"give fit_model's {argument}= instead"
        given = f"--param {key}=..." if command_line else f"clf_params {key!r}"
        raise ValueError(f"{given} {what}, not a classifier parameter; {fix}.")


def _warn_unused_groups(groups: str | None, name: str) -> None:
    """Warn that ``groups`` does nothing in a fit on data with its own test split (it was ignored without a word)."""
    if groups is not None:
        warnings.warn(f"groups={groups!r} (--groups) does nothing here: {name} has its own test split, so fit holds "
                      "no images out to keep subjects apart; it groups a hold-out (data without a test split) and "
                      "search's folds. Leave it out.", UserWarning, stacklevel=3)


def fit_model(
    data: str | os.PathLike | FaceDataset | None = None,
    *,
    features: str = "hog",
    clf: str = "svm",
    clf_params: Mapping | None = None,
    block_scaling: bool = False,
    block_weights: Mapping[str, float] | None = None,
    preprocess: str | None = None,
    flip: bool = False,
    mirror_kernel: bool = False,
    kernel_shift: int = 0,
    sampler: str | None = None,
    size: int = 48,
    random_state: int = 0,
    test_size: float = 0.2,
    groups: str | None = None,
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
    out: str | os.PathLike | None = None,
    model_format: str | None = None,
    dedupe_data: bool = False,
    crop: str = "auto",
    margin: float = 0.0,
    align: bool = False,
    backend: str = "local",
    scheduler: str | None = None,
    feature_store: str | os.PathLike | None = None,
    chunk_size: int = 4096,
    log: Log = quiet,
) -> FitResult:
    """Load data, fit ``features → scaler → clf`` on the train split, score it on test, save it.

    Parameters
    ----------
    data : path, FaceDataset or None
        Any input :func:`fer_classic.load_dataset` takes; None is the generated default.
    features, clf : str
        See :func:`fer_classic.make_pipeline`.
    clf_params : mapping, optional
        Classifier parameters (e.g. ``{"C": 10}``). The pipeline's own options
        (``n_jobs``, ``random_state``, ``flip``, ``preprocess``, ``memory``...)
        are refused here, naming the argument that sets each.
    block_scaling : bool, default=False
        Standardise each feature block on its own.
    block_weights : mapping, optional
        With ``block_scaling``: extractor name → weight of its block, as for
        :func:`fer_classic.make_pipeline`; recorded in the model's metadata.
    preprocess : str, optional
        Preprocessing name(s), e.g. ``"crop+clahe"``; None: none.
    flip : bool, default=False
        Also train on mirror images.
    mirror_kernel : bool, default=False
        Average the kernel over mirror images (kernel classifiers).
    kernel_shift : int, default=0
        With ``mirror_kernel``: also shifted views, by this many pixels.
    sampler : {"smote", "adasyn", "random"}, optional
        Oversample minority classes; None: no resampling.

        These six are pipeline options, see :func:`fer_classic.make_pipeline`;
        they are recorded in the model's metadata (``pipeline_options``).
    size : int, default=48
        Image geometry (square, grayscale).
    random_state : int, default=0
        Seed of the hold-out split and randomised estimators.
    test_size : float, default=0.2
        Share of the images held out when the data has no test split (of
        its train split, or of all its images when it has no split labels;
        data with a test or val split but no train split is refused),
        strictly between 0 and 1 (checked before any loading). The hold-out
        is whole stratified, grouped folds, so the share is the nearest of
        1/2, 1/3, 1/4... (0.2: 20 %; 0.3 or 0.4: 33 %) or, above 0.5, of
        1/2, 2/3, 3/4... (0.9: 90 %); see
        :func:`fer_classic._training.hold_out_folds`. The log says the share.
    groups : str, optional
        Regular expression whose first group is the subject in each file name:
        the hold-out keeps each subject on one side. Without it the dataset's
        subjects, else clusters of near-duplicate images, are kept together
        (see :func:`fer_classic._training.image_groups`).
    label_map : mapping, optional
        Folder name → label for numbered class folders.
    n_jobs : int, optional
        Workers for decoding, features and estimators; None (default) or -1:
        all cores (the fitted model keeps the value, and predicts with it).
    out : path, optional
        Where to save the model (atomically); None saves nothing.
    model_format : {"joblib", "skops"}, optional
        File format of ``out`` (default: by its suffix, see :func:`fer_classic.save_model`);
        one that the ``.joblib`` / ``.skops`` suffix of ``out`` contradicts is a
        ValueError before any work.
    dedupe_data : bool, default=False
        Drop pixel-identical copies first (in memory, see
        :func:`fer_classic.data.dedupe`): test images that also occur in train,
        and repeated copies within a split. Files are never changed.
    crop : {"auto", "detect", "none"}, default="auto"
        How each image file becomes a training image, through
        ``FaceCropper(output_shape=(size, size), detect=..., margin=margin,
        align=align)`` (see :func:`fer_classic.load_dataset`): ``auto``
        searches for a face only in images larger than twice ``size`` (face
        crops such as FER2013 are taken as they are), ``detect`` searches
        every image, ``none`` resizes every whole image. Images without a face
        are skipped. The cropper is recorded in the model, so ``evaluate``,
        ``compare``, ``report`` and ``predict`` cut images the same way.
    margin : float, default=0.0
        Added to each side of a found face's box (fraction of its size).
    align : bool, default=False
        Rotate found faces so the eyes are level.
    backend : {"local", "dask", "ray"}, default="local"
        ``dask``, ``ray``: the training files are decoded and their features
        extracted by the workers of ``scheduler``, in chunks of
        ``chunk_size`` paths, and the classifier's sums (approximate SVM or
        ridge) are accumulated there (see :mod:`fer_classic._distributed`); the client never holds
        the training images. Needs a class-folder tree with train and test
        splits, stateless features and ``clf="svm"`` with
        ``clf_params={"backend": "approx"}`` (or ``clf="ridge"``); gives the
        model a local fit gives.
    scheduler : str, optional
        Dask scheduler address (``tcp://host:8786``) or Ray address
        (``auto``, ``host:6379``, ``ray://host:10001``); None starts a local
        in-process Dask cluster or a local Ray instance (a Ray session this
        process already holds is used).
    feature_store : path, optional
        With ``backend="local"``: fit out of core, the features going chunk by
        chunk to a memory-mapped array under this folder (resumable, keyed by
        the extractor's parameters and the files' fingerprint, see
        :class:`fer_classic.features._store.FeatureStore`) and the scaler
        and approximate SVM fitted from it in blocks. Same requirements as
        ``dask``.
    chunk_size : int, default=4096
        Files per chunk of the two above.
    log : callable, optional
        Receives progress messages.

    Returns
    -------
    FitResult
        Model, test metrics, seconds per stage (load, features, fit, predict, save).
    """
    # Outputs, the groups pattern and the pipeline (its parameters) are checked before any long work.
    hold_out_folds(test_size, "fit_model")
    _check_clf_params(clf_params)
    if groups is not None:
        compile_groups(groups)
    # Each against the data and one against the other (--out DIR --feature-store DIR: the model saved
    # over the store's folder after the whole fit).
    check_outputs({"--out": out, "--feature-store": feature_store}, input_trees={"--data": data_path(data)},
                  dirs=("--feature-store",), models=("--out",), make_parents=True)
    if out is not None:  # --format against --out's suffix now: the file is written after the work
        file_format(out, model_format)
    options = pipeline_options(preprocess=preprocess, flip=flip, mirror_kernel=mirror_kernel,
                               kernel_shift=kernel_shift, block_scaling=block_scaling,
                               block_weights=block_weights, sampler=sampler, features=features)
    # None means all cores here, as for decoding: scikit-learn's None (one core) would leave the
    # local SVMs, k-NN, the forest and the feature threads on one of them.
    pipeline, shape = training_pipeline(features, clf, clf_params, data=data, size=size, preprocess=preprocess,
                                        options=options, random_state=random_state, log=log,
                                        n_jobs=-1 if n_jobs is None else capped_n_jobs(n_jobs))
    pipeline = validated(pipeline)
    check_geometry(pipeline, data, size)
    require_mlp_memory(pipeline, features, shape)
    cropper = training_cropper(data, size, crop=crop, margin=margin, align=align)
    chunked = _chunked_fit(backend, scheduler, feature_store, chunk_size, dedupe_data, pipeline, features, clf,
                           options, data)
    # After the options' own refusals: a --feature-store fit of vgg16 was told of its weights first.
    check_before_loading(pipeline, shape)
    if chunked is not None:
        from ._distributed import fit_chunked, open_feature_store
        from .data._folder import warn_skipped

        # Chunks of paths: the training images are decoded where their features are computed.
        timings: dict[str, float] = {}
        chunk_size = chunked  # checked: an int (numpy's too)
        listing = timed(timings, "load", _split_listing, data, label_map)
        warn_left_out(listing)
        train_files, test_files = listing.select("train"), listing.select("test")
        _warn_unused_groups(groups, listing.name)  # a chunked fit's data has its own test split
        # What the listing alone decides: before the test split is decoded and the store opened.
        _refuse_from_listing(pipeline, train_files, test_files, listing.name)
        store = None
        if feature_store is not None:  # an existing store of another --chunk-size, or a damaged one: now
            store = open_feature_store(pipeline, train_files, size=(size, size), cropper=cropper,
                                       feature_store=feature_store, chunk_size=chunk_size)
        test = timed(timings, "load", _load_listed, test_files, size, n_jobs, cropper)
        train = fit_chunked(pipeline, train_files, size=(size, size), cropper=cropper, backend=backend,
                            scheduler=scheduler, store=store, chunk_size=chunk_size,
                            timings=timings, log=log)
        # Of every listed file, as a local load counts them (val's too, left out undecoded here).
        warn_skipped(listing.name, len(listing), [*test.skipped, *train.skipped])
        model, metrics, path = fit_score_save(
            pipeline, train, test, features=features, clf=clf, source=str(data), timings=timings, log=log,
            fitted=True, out=out, model_format=model_format, random_state=random_state, held_out_test=False,
            block_scaling=block_scaling, pipeline_options=options, face_cropper=cropper,
            chunked_fit={"backend": backend, "chunk_size": chunk_size, "skipped": len(train.skipped),
                         **({"scheduler": scheduler} if scheduler else {})},
        )
        return FitResult(model, metrics, timings, len(train), len(test), False, path)
    timings: dict[str, float] = {}
    dataset = timed(timings, "load", load_data, data, size, label_map, n_jobs, cropper, pipeline)
    log(f"loaded {dataset!r} in {timings['load']:.1f} s")
    if dedupe_data:
        before, had_test = len(dataset), dataset.has_split("test")
        dataset = timed(timings, "dedupe", dedupe, dataset)
        log(f"dedupe: dropped {before - len(dataset)} duplicate copies (in memory; files untouched)")
        if had_test and not dataset.has_split("test"):  # else only a log line said "no test split"
            warnings.warn(f"{dataset.name}: --dedupe dropped every test image (each copies a training image); the "
                          f"test score comes from a share of train held out instead (test_size={test_size}).",
                          UserWarning, stacklevel=2)
    # Timed: grouping a folder's images by near-duplicates and splitting them took 88 of a 151 s fit on 102k
    # images, none of it in the printed seconds.
    train, test, held_out, grouping, _ = timed(timings, "hold-out", hold_out, dataset, test_size=test_size,
                                               random_state=random_state, groups=groups, log=log)
    if not held_out:
        del timings["hold-out"]  # the data's own test split: nothing was held out
        _warn_unused_groups(groups, dataset.name)
    if not dedupe_data:  # dedupe dropped the copies and warned of mixed labels
        warn_exact_copies(train, {"test": test}, dataset.name, stacklevel=3)
    _refuse_unseen_classes(train.classes, test.classes, dataset.name)
    require_feature_memory(features, shape, len(train), flip=flip, mirror_kernel=mirror_kernel,
                           kernel_shift=kernel_shift, pipeline=pipeline)
    model, metrics, path = fit_score_save(
        pipeline, train, test, features=features, clf=clf, source=dataset.name, timings=timings, log=log,
        out=out, model_format=model_format, random_state=random_state, held_out_test=held_out,
        block_scaling=block_scaling, pipeline_options=options, **({"grouping": grouping} if grouping else {}),
        **({"hold_out": hold_out_record(test_size, groups, dedupe_data)} if held_out else {}),
        # Its test score leaves out the copies dedupe dropped: evaluate on this data drops them too.
        **({"dedupe": True} if dedupe_data else {}),
        face_cropper=cropper,
    )
    return FitResult(model, metrics, timings, len(train), len(test), held_out, path)


def _refuse_unseen_classes(train_classes, test_classes, name: str) -> None:
    """EmptyClassError when test images have a class no training image has: the model could never predict it."""
    unseen = sorted(set(test_classes) - set(train_classes))
    if unseen:
        raise EmptyClassError(
            f"Test images of class(es) {unseen} have no training images in {name}; "
            "add training images or remove those classes."
        )


def _refuse_from_listing(pipeline, train_files, test_files, name: str) -> None:
    """The chunked fit's checks of the classes, made on the listed files' labels before any file is decoded.

    A local fit makes them on the decoded images; the listed labels are the
    same, as a listed class folder that gives no image is refused when decoded
    (:func:`~fer_classic.data._folder.refuse_undecoded_folders`): test classes
    without training files, fewer than two training classes, ``class_weight``
    keys that are no training class.
    """
    from .estimators._canonical import coded_class_weights
    from .labels import sort_labels

    listed = sort_labels(set(train_files.labels.tolist()))
    _refuse_unseen_classes(listed, set(test_files.labels.tolist()), name)
    if len(listed) < 2:
        raise EmptyClassError(f"{name}: the training files hold only class {listed[0]!r}; need 2.")
    coded_class_weights(pipeline, listed)


def _chunked_fit(backend, scheduler, feature_store, chunk_size, dedupe_data, pipeline, features, clf, options,
                 data) -> int | None:
    """The checked ``chunk_size`` when ``fit_model`` fits chunk by chunk (``--backend dask/ray``,
    ``--feature-store``), else None; the options checked."""
    from ._distributed import check_backend, check_chunk_size, check_chunked, check_scheduler

    check_backend(backend, scheduler)  # a missing Dask or Ray is named before anything is read
    if backend != "local" and feature_store is not None:
        raise ValueError(f"--feature-store is the out-of-core fit on this machine (--backend local); with "
                         f"--backend {backend} the workers hold the features.")
    if backend == "local" and feature_store is None:
        return None
    chunk_size = check_chunk_size(chunk_size)
    if dedupe_data:
        raise ValueError("--dedupe compares the decoded images in memory; it is not available with "
                         "--backend dask/ray or --feature-store.")
    check_chunked(pipeline, features=features, clf=clf, options=options, data=data)
    check_scheduler(backend, scheduler)  # before the test split is decoded here
    return chunk_size


def _split_listing(data, label_map):
    """The class-folder tree's files, which must come with a test split (the hold-out groups by pixels)."""
    from ._distributed import list_images

    listing = list_images(data, label_map)
    if not ({"train", "test"} <= set(listing.splits.tolist())):
        raise DatasetError(f"--data {data}: --backend dask/ray and --feature-store need train/ and test/ split "
                           "folders (a hold-out would group the images by their pixels, in memory).")
    return listing


def _load_listed(listing, size, n_jobs, cropper) -> FaceDataset:
    """The listed files decoded into a FaceDataset, as :func:`fer_classic.load_dataset` decodes them."""
    import numpy as np

    from .data._folder import refuse_undecoded_folders
    from .data._images import read_images

    images, ok, skipped, _ = read_images([Path(p) for p in listing.paths], (size, size), n_jobs, cropper=cropper)
    refuse_undecoded_folders(listing.folders, ok, skipped)  # as a local load refuses such a folder
    return FaceDataset(images, listing.labels[ok], listing.splits[ok], listing.usages[ok],
                       np.asarray(listing.paths[ok], dtype=object), listing.name, tuple(skipped))


def evaluate_model(
    model: FERModel,
    data: str | os.PathLike | FaceDataset,
    *,
    split: str | None = "test",
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
    report: str | os.PathLike | None = None,
    backend: str = "local",
    scheduler: str | None = None,
    chunk_size: int = 4096,
) -> EvaluateResult:
    """Score a model on one split of a dataset (loaded at the model's geometry).

    Image files are cut with the face cropper the model records, exactly as
    ``predict`` cuts photos (see :func:`fer_classic.prediction.loading_cropper`);
    models that record none (fitted before ``--crop``) get each whole image
    resized, as they were trained. Images without a face are skipped and
    listed in ``skipped``. A model fitted with ``dedupe_data=True``
    (``fit --dedupe``, metadata ``dedupe``) scored on the data it was fitted
    on has the same copies dropped first (:func:`fer_classic.data.dedupe`),
    with a UserWarning counting those of the split, so that its scores are
    the ones fit recorded.

    Parameters
    ----------
    model : FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model`` (a
        TypeError otherwise, before any image is read).
    data : path or FaceDataset
        Any input :func:`fer_classic.load_dataset` takes (loaded at the model's geometry).
    split : str or None, default="test"
        ``train``/``test``/``val`` or a FER2013 usage (``PublicTest``,
        ``PrivateTest``); None uses every image; ``"held-out"``
        (:data:`fer_classic.evaluation.HELD_OUT`) the images the model's fit
        held out of ``data`` (see :func:`held_out_images`). A split that
        includes the model's own training images (``data`` is the one it
        was fitted on: ``train``, or every image of data it held a share out
        of) is scored with a DataLeakageWarning that says so.
    label_map : mapping or str, optional
        As in :func:`fer_classic.load_dataset`.
    n_jobs : int, optional
        Decoding threads, as in :func:`fer_classic.load_dataset`.
    report : path, optional
        Folder to write ``report.html``, ``metrics.json`` and ``predictions.csv``
        into (see :func:`fer_classic.evaluation.write_report`); the metrics
        then include ROC-AUC.
    backend : {"local", "dask", "ray"}, default="local"
        ``dask``, ``ray``: the files (of a class-folder tree) are decoded
        and predicted on the workers of ``scheduler`` in chunks of
        ``chunk_size`` paths; the client receives one label per image. Not
        with ``report``, nor with ``split="held-out"``.
    scheduler : str, optional
        Dask scheduler or Ray address, as in :func:`fit_model`; None starts a
        local in-process Dask cluster or a local Ray instance.
    chunk_size : int, default=4096
        Files per chunk with ``backend="dask"`` or ``"ray"``.

    Returns
    -------
    EvaluateResult
        ``metrics``, ``timings``, ``split``, ``n_test``, ``skipped`` and ``report`` (with ``report=``).

    Raises
    ------
    TypeError
        If ``model`` is not a FERModel.
    DatasetError
        If ``data`` has no image in ``split``; for ``split="test"`` on the
        data the model held its test out of (score ``"held-out"``); for
        ``"held-out"``, if the model held nothing out, records no hold-out, or
        the recomputed training images differ from its own.
    ValueError
        For ``split="held-out"`` with ``backend`` dask or ray.

    Warns
    -----
    DataLeakageWarning
        When the images scored include the model's own training images.
    UserWarning
        When a ``--dedupe`` model's data holds copies fit left out (dropped
        here too; with ``backend`` dask or ray they are scored, and the
        warning says so).
    """
    check_fer_model(model, "evaluate_model")
    check_outputs({"--report": report, **folder_outputs("--report", report, REPORT_FILES)},
                  input_trees={"--data": data_path(data)}, dirs=("--report",), make_parents=True)
    if report is not None:
        require_matplotlib("evaluate --report")  # before the images are loaded
    on_workers = backend != "local" or scheduler is not None
    timings: dict[str, float] = {}
    if on_workers:
        from ._distributed import check_backend, check_chunk_size, list_images

        if split == HELD_OUT:
            raise ValueError(f"--split {HELD_OUT} recomputes the model's hold-out from the decoded images in memory; "
                             f"it is not available with --backend {backend}.")
        check_backend(backend, scheduler)
        chunk_size = check_chunk_size(chunk_size)
        if report is not None:
            raise ValueError(f"--report draws from the images in memory; it is not available with --backend "
                             f"{backend}.")
        dataset = list_images(data, label_map)  # the files' splits and usages, read by the workers later
    else:
        dataset = timed(timings, "load", load_data, data, model.image_shape, label_map, n_jobs,
                        loading_cropper(model), model.pipeline)
    name = split or "all"
    if split == HELD_OUT:  # the held-out images, as the one split "test" of the dataset scored (named HELD_OUT)
        dataset, split = timed(timings, "hold-out", _recompute_held_out, model, dataset), "test"
    else:  # one road for every backend: the same refusal and warning whoever decodes the images
        dataset = _as_deduped(model, dataset, split, on_workers)
        note = " with --backend local (the workers do not recompute it)" if on_workers else ""
        _check_split(model, dataset, split, held_out_note=note)
        warn_training_images(model, dataset, split, held_out_note=note)
    subset = dataset.select(split) if split else dataset
    if on_workers:
        return _evaluate_on_workers(model, subset, name=name, timings=timings, backend=backend, scheduler=scheduler,
                                    chunk_size=chunk_size)
    warn_class_mismatch(model.classes, subset.y)
    if report is not None:
        written = write_report(model, dataset, report, split=split, split_name=name)
        timings.update(written.timings)
        return EvaluateResult(written.metrics, timings, name, written.n, list(dataset.skipped), written)
    predicted, _, scores, _ = model.predict_scores(subset.images, timings=timings)
    # The scores give the ROC-AUC, as the report's metrics have it: one set of numbers whichever output is asked.
    metrics = classification_metrics(subset.y, predicted, model.classes, scores=scores, groups=subset.usages)
    return EvaluateResult(metrics, timings, name, len(subset), list(dataset.skipped))


def _as_deduped(model: FERModel, dataset, split: str | None, on_workers: bool):
    """``dataset`` as a ``fit --dedupe`` of it scored it: without the copies dedupe drops, with a warning.

    Only for the data ``model`` was fitted on (its recorded source, or a copy
    with its training fingerprint): fit's recorded metrics left those copies
    (test images copying training images, repeats within a split) out, and
    scoring them would neither reproduce its numbers nor be free of leakage.
    Other data, and models fitted without ``--dedupe``, are scored as given.
    An image listing (``--backend dask/ray``) cannot be compared pixel by
    pixel: it is scored whole, with a warning saying so.
    """
    from .evaluation._metrics import deduped_as_fit

    what = f"images of split {split!r}" if split else "images"
    if on_workers:
        if model.metadata.get("dedupe") is True and training_images_scored(model, dataset, None):
            warnings.warn(f"The model was fitted on {dataset.name} with --dedupe, so fit's recorded metrics left "
                          f"out the {what} that copy training images; the workers score every listed image, those "
                          "copies included: evaluate with --backend local to leave them out as fit did.",
                          UserWarning, stacklevel=3)
        return dataset
    found = deduped_as_fit(model, dataset, split)
    if found is None:
        return dataset
    deduped, dropped, scored = found
    if dropped:
        warnings.warn(f"The model was fitted on {dataset.name} with --dedupe: {dropped} of the {scored} "
                      f"{what} copy a training image or one another (pixel-identical) and fit's recorded metrics "
                      "left them out; they are left out here too (fer_classic.data.dedupe), so the scores are "
                      "fit's.", UserWarning, stacklevel=3)
    return deduped


def held_out_images(
    model: FERModel,
    data: str | os.PathLike | FaceDataset,
    *,
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
) -> FaceDataset:
    """The images ``model``'s fit held out of ``data`` as its test, recomputed (``evaluate --split held-out``).

    ``data`` is loaded as :func:`evaluate_model` loads it (the model's
    geometry and face cropper); the hold-out is recomputed from what the
    model records (``random_state`` and ``hold_out``: ``test_size``,
    ``groups``, ``dedupe``) and checked: its training part must have the
    fingerprint of the images the model was trained on.

    Parameters
    ----------
    model : FERModel
        A model fitted with a hold-out (``fit_model`` on data without a test split).
    data : path or FaceDataset
        The data the model was fitted on.
    label_map : mapping or str, optional
        As in :func:`fer_classic.load_dataset`.
    n_jobs : int, optional
        Decoding threads, as in :func:`fer_classic.load_dataset`.

    Returns
    -------
    FaceDataset
        The held-out images, all in split ``"test"``.

    Raises
    ------
    DatasetError
        If the model held nothing out (it was scored on its data's own test
        split), does not record its hold-out (fitted by an older
        fer-classic), or the recomputed training images are not the model's
        (other data, or changed files).
    """
    check_fer_model(model, "held_out_images")
    dataset = load_data(data, model.image_shape, label_map, n_jobs, loading_cropper(model), model.pipeline)
    return _recompute_held_out(model, dataset)


def _recompute_held_out(model: FERModel, dataset: FaceDataset) -> FaceDataset:
    """:func:`held_out_images` of a loaded dataset."""
    import numpy as np

    metadata = model.metadata
    source = (metadata.get("training") or {}).get("source")
    what = f"--split {HELD_OUT} (the images the model's fit held out of {dataset.name})"
    if not held_out_test(metadata):
        fitted = f"it was fitted on the train split of {source} and scored on its test split"
        if training_images_scored(model, dataset, None):
            # A copy may call its test split "val"; rows without a split ("") are no --split value.
            others = sorted({str(s) for s in dataset.splits} - {"train", ""})
            score = ("score --split test" if dataset.has_split("test") else
                     f"{dataset.name} holds no test split: score --split {others[0]}" if others else
                     f"{dataset.name} holds no test split: score the model on data it was not trained on")
            raise DatasetError(f"{what}: the model held nothing out: {fitted}; {score}.")
        # Other data (fer200.csv for a model of ds/): "--split test" named a split this data may not have.
        raise DatasetError(f"{what}: {dataset.name} is not the model's data ({fitted}), so the model held none of its "
                           "images out and was trained on none: score all of them (--split all) or one of its splits.")
    recorded = metadata.get("hold_out")
    if not isinstance(recorded, Mapping) or "test_size" not in recorded:
        raise DatasetError(f"{what}: the model does not record its hold-out's test_size (it was fitted by an older "
                           "fer-classic), so its held-out images cannot be recomputed; score it on data it was not "
                           "trained on.")
    seed = metadata.get("random_state", 0)
    redo = f"test_size={recorded['test_size']}, seed {seed}" + (
        f", --groups {recorded['groups']!r}" if recorded.get("groups") else "")
    if recorded.get("dedupe"):
        dataset = dedupe(dataset)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the images left out were counted when it was fitted
            train, test, _, _, _ = hold_out(dataset, test_size=recorded["test_size"], random_state=seed,
                                            groups=recorded.get("groups"),
                                            join_copies=recorded.get("copies_joined") is True)
    except DatasetError as exc:
        raise DatasetError(f"{what}: recomputing the hold-out ({redo}): {exc}") from None
    if train.fingerprint() != (metadata.get("training") or {}).get("fingerprint"):
        raise DatasetError(f"{what}: the hold-out recomputed ({redo}) does not give back the images the model was "
                           f"trained on (their fingerprint differs): {dataset.name} is not the data it was fitted on "
                           f"({source}), or its files changed; score it on data it was not trained on.")
    return test.with_splits(np.full(len(test), "test", dtype=object))


def _check_split(model: FERModel, dataset, split: str | None, *, held_out_note: str = "") -> None:
    """Raise DatasetError when ``dataset`` has no ``split`` and is the data ``model`` held its test out of.

    ``dataset`` is a FaceDataset or, for ``--backend dask/ray``, the listing
    of its files (``name``, ``splits``, ``usages``). The error says to score
    the held-out images (``--split held-out``), not every image: ``--split
    all`` would score the training images too. Other datasets without the
    split get :meth:`FaceDataset.select`'s error.
    """
    from .data._dataset import split_mask

    if split is None or split_mask(dataset.splits, dataset.usages, split).any() or not held_out_test(model.metadata):
        return
    if not training_images_scored(model, dataset, None):
        return
    n_train = model.metadata["training"].get("n_train")
    trained = f"its {n_train} training images" if n_train is not None else "its training images"
    how = (f"score the images it held out with --split {HELD_OUT}{held_out_note}" if model.metadata.get("hold_out") else
           "its held-out images cannot be recomputed (an older model records no test_size): score it on data it "
           "was not trained on")
    raise DatasetError(f"Dataset {dataset.name!r} has no images in split {split!r}: it is the data the model was "
                       f"fitted on, holding out part of it as the test; {how} (--split all would also score "
                       f"{trained}).")


def _evaluate_on_workers(model, subset, *, name, timings, backend, scheduler, chunk_size) -> EvaluateResult:
    """:func:`evaluate_model` of listed files (checked there), decoded and predicted on Dask or Ray workers."""
    from ._distributed import evaluate_chunked
    from .data._folder import refuse_undecoded_folders, warn_skipped

    true, predicted, scores, skipped, decoded = timed(
        timings, "predict", evaluate_chunked, model, subset, cropper=loading_cropper(model), backend=backend,
        scheduler=scheduler, chunk_size=chunk_size)
    # What a local load refuses and warns, for the files the workers decoded.
    refuse_undecoded_folders(subset.folders, decoded, skipped)
    warn_skipped(subset.name, len(subset), skipped, stacklevel=3)
    warn_class_mismatch(model.classes, true)
    # The decoded files' usages: the per-usage accuracy (FER2013's PublicTest, PrivateTest) the local backend gives.
    metrics = classification_metrics(true, predicted, model.classes, scores=scores, groups=subset.usages[decoded])
    return EvaluateResult(metrics, timings, name, len(true), list(skipped))


def compare_model_files(
    models: str | os.PathLike | Iterable[str | os.PathLike],
    data: str | os.PathLike | FaceDataset,
    *,
    split: str | None = "test",
    out: str | os.PathLike | None = None,
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
    trusted: bool = False,
    trusted_types: Iterable[str] = (),
) -> Comparison:
    """Load model files, score them side by side, McNemar-test the best two, optionally write a CSV.

    Parameters
    ----------
    models : path or iterable of path
        Model files written by :func:`fit_model`; rows are named by file name,
        or where file names repeat, by the fewest trailing folders that tell
        those files apart (``ca/m.joblib``, ``cb/m.joblib``). One path (a str
        or os.PathLike) is one model.
    data : path or FaceDataset
        Any input :func:`fer_classic.load_dataset` takes; every model is scored on the same images.
    split : str or None, default="test"
        As in :func:`evaluate_model`; None scores every image.
    out : path, optional
        CSV file for the table (one row per model, McNemar result in the last columns).
    label_map : mapping or str, optional
        As in :func:`fer_classic.load_dataset`.
    n_jobs : int, optional
        As in :func:`fer_classic.load_dataset`.
    trusted : bool, default=False
        As in :func:`fer_classic.load_model`.
    trusted_types : iterable of str, default=()
        As in :func:`fer_classic.load_model`.

    Returns
    -------
    Comparison
        The scores side by side (see :func:`fer_classic.evaluation.compare_models`).
    """
    from .evaluation._compare import path_names

    paths = [Path(p) for p in path_items(models)]
    check_outputs({"--out": out}, inputs={"MODEL": paths}, input_trees={"--data": data_path(data)},
                  text=("--out",), make_parents=True)
    from .persistence._files import load_model_naming
    from .persistence._trust import trusted_names, warn_unused_trust

    trusted_types = trusted_names(trusted_types)
    loaded = [load_model_naming(p, trusted=trusted, trusted_types=trusted_types) for p in paths]
    # Once for all the models: a name one of them needs is no "did nothing" for the others.
    warn_unused_trust({p: named for p, (_, named) in zip(paths, loaded)}, trusted_types)
    comparison = compare_models(
        [model for model, _ in loaded], data, names=path_names(paths),
        split=split, label_map=label_map, n_jobs=n_jobs,
    )
    if out is not None:
        comparison.to_csv(out)
    return comparison


def describe_data(
    data: str | os.PathLike | FaceDataset | None = None,
    *,
    threshold: int = DEFAULT_NEAR_THRESHOLD,
    duplicates_csv: str | os.PathLike | None = None,
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
    warn: bool = True,
) -> DatasetDescription:
    """Describe a dataset (see :func:`fer_classic.data.describe_dataset`), optionally listing duplicates.

    Parameters
    ----------
    data : path, FaceDataset or None
        Any input :func:`fer_classic.load_dataset` takes; None is the generated default.
    threshold : int, default=DEFAULT_NEAR_THRESHOLD
        Near-duplicate pHash Hamming distance (of 64 bits).
    duplicates_csv : path, optional
        Write one row per duplicate image (kind, group, split, label, source,
        hamming, dedupe action). The dataset is only read.
    label_map : mapping or str, optional
        As in :func:`fer_classic.load_dataset`.
    n_jobs : int, optional
        As in :func:`fer_classic.load_dataset`.
    warn : bool, default=True
        Issue a :class:`~fer_classic.exceptions.DataLeakageWarning` when test
        images occur in train (the description's text says so either way).

    Returns
    -------
    DatasetDescription
        Counts per split and class, image statistics and duplicates.
    """
    check_outputs({"--duplicates-csv": duplicates_csv}, input_trees={"--data": data_path(data)},
                  text=("--duplicates-csv",), make_parents=True)
    description = describe_dataset(data, threshold=threshold, label_map=label_map, n_jobs=n_jobs, warn=warn)
    if duplicates_csv is not None:
        description.write_duplicates_csv(duplicates_csv)
    return description
