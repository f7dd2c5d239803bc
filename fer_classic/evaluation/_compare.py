"""Several models side by side on the same images, with a paired test between the best two."""

from __future__ import annotations

import io
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._display import one_line
from .._fileio import atomic_write_text, csv_writer
from ..exceptions import ReportError
from ..persistence._model import check_fer_model
from ._metrics import (
    HELD_OUT,
    classification_metrics,
    deduped_as_fit,
    warn_class_mismatch,
    warn_training_images,
)
from ._significance import mcnemar_test

__all__ = ["COMPARE_COLUMNS", "Comparison", "compare_models"]

#: Columns of the comparison table, in order.
COMPARE_COLUMNS = (
    "model", "features", "classifier", "n", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
    "balanced_accuracy", "f1_weighted", "f1_macro", "fit_seconds", "predict_seconds",
)


@dataclass
class Comparison:
    """Scores of several models on one split.

    Attributes
    ----------
    rows : list of dict
        One per model, keys :data:`COMPARE_COLUMNS`, best accuracy first.
    mcnemar : dict or None
        ``model_a`` and ``model_b`` (the two best by accuracy) and
        :func:`mcnemar_test`'s result; None with fewer than two models.
    split : str
    data : str
        Dataset name.
    """

    rows: list
    mcnemar: dict | None
    split: str
    data: str

    def summary(self) -> dict:
        """JSON-ready form.

        Returns
        -------
        dict
            ``data``, ``split``, ``models`` (one dict per row) and ``mcnemar`` (or None).
        """
        return {"data": self.data, "split": self.split, "models": self.rows, "mcnemar": self.mcnemar}

    def format(self) -> str:
        """The table and the test as text.

        Returns
        -------
        str
            The dataset and split, one line per model, and McNemar's verdict.
        """
        names = [one_line(r["model"]) for r in self.rows]  # file names: a newline split the row
        width = max(12, *(len(name) + 2 for name in names))
        head = (f"{'model':<{width}}{'features':>10}{'clf':>8}{'n':>7}{'accuracy':>10}{'95% CI':>16}"
                f"{'bal acc':>9}{'f1 w':>8}{'f1 mac':>8}{'fit s':>9}{'pred s':>9}")
        lines = [f"{one_line(self.data)} [{self.split}]", head]
        for name, r in zip(names, self.rows):
            fit = "n/a" if r["fit_seconds"] is None else f"{r['fit_seconds']:.1f}"
            lines.append(
                f"{name:<{width}}{str(r['features'])[:9]:>10}{str(r['classifier'])[:7]:>8}{r['n']:>7}"
                f"{r['accuracy']:>10.4f}{r['accuracy_ci_low']:>8.3f}-{r['accuracy_ci_high']:<7.3f}"
                f"{r['balanced_accuracy']:>9.4f}{r['f1_weighted']:>8.4f}{r['f1_macro']:>8.4f}{fit:>9}"
                f"{r['predict_seconds']:>9.2f}"
            )
        if self.mcnemar:
            m = self.mcnemar
            verdict = "differ significantly" if m["p_value"] < 0.05 else "do not differ significantly"
            lines += ["", f"McNemar ({m['method']}) {one_line(m['model_a'])} vs {one_line(m['model_b'])}: "
                          f"only A right {m['b']}, "
                          f"only B right {m['c']}, statistic {m['statistic']:.3f}, p = {m['p_value']:.4g} "
                          f"-> they {verdict} at the 5% level"]
        return "\n".join(lines)

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the table (one row per model) with the McNemar result in the last columns.

        A model file name that is not valid UTF-8 is written with its
        undecodable bytes as ``\\xNN`` (:func:`fer_classic._fileio.csv_writer`).

        Parameters
        ----------
        path : path
            The CSV file (written atomically).

        Returns
        -------
        Path
            The path written.
        """
        extra = ("mcnemar_vs", "mcnemar_method", "mcnemar_statistic", "mcnemar_p_value")
        buffer = io.StringIO(newline="")
        writer = csv_writer(buffer)
        writer.writerow([*COMPARE_COLUMNS, *extra])
        for r in self.rows:
            m = self.mcnemar
            other = None
            if m and r["model"] in (m["model_a"], m["model_b"]):
                other = m["model_b"] if r["model"] == m["model_a"] else m["model_a"]
            tail = [other, m["method"], m["statistic"], m["p_value"]] if other else ["", "", "", ""]
            writer.writerow([("" if r[c] is None else r[c]) for c in COMPARE_COLUMNS] + tail)
        return atomic_write_text(path, buffer.getvalue())


def _unique_names(names: list[str]) -> list[str]:
    """The names, each repeat given the first free ``#2``, ``#3``... suffix.

    A suffix is checked against every name given as well as those taken, so that
    ``["a", "a", "a#2"]`` becomes ``["a", "a#3", "a#2"]``, not two rows called ``a#2``.
    """
    given, taken = set(names), set()
    out = []
    for name in names:
        unique, k = name, 1
        # A suffixed name that another model was given is that model's: skip it too.
        while unique in taken or (k > 1 and unique in given):
            k += 1
            unique = f"{name}#{k}"
        taken.add(unique)
        out.append(unique)
    return out


def path_names(paths: Sequence[str | os.PathLike]) -> list[str]:
    """Row names for model files: the file name, or where file names repeat, the shortest path end telling them apart.

    ``["ca/m.joblib", "cb/m.joblib", "x.joblib"]`` gives ``ca/m.joblib``, ``cb/m.joblib``,
    ``x.joblib`` (with the platform's separator). Paths are made absolute first, so
    ``m.joblib`` and ``../other/m.joblib`` are told apart too; one file given twice keeps
    its file name (:func:`compare_models` then adds ``#2``).
    """
    parts = [Path(os.path.abspath(p)).parts for p in paths]
    names = []
    for p in parts:
        others = {q for q in parts if q[-1] == p[-1] and q != p}  # other files of this name
        # The fewest trailing parts no other such file ends with (a file given twice is not "other").
        depth = next((k for k in range(1, len(p) + 1) if all(q[-k:] != p[-k:] for q in others)), len(p))
        names.append(str(Path(*p[-depth:])))
    return names


def _check_same_images(first: str, expected, name: str, got) -> None:
    """Refuse a model that scored other images than the first model (None: ``name`` is the first)."""
    if expected is None or (len(expected) == len(got) and np.array_equal(expected, got)):
        return
    first, name = one_line(first), one_line(name)
    if len(expected) != len(got):
        detail = f"{len(expected)} images for the first, {len(got)} for the second"
    else:
        i = int(np.flatnonzero(np.asarray(expected) != np.asarray(got))[0])
        detail = f"image {i + 1} is {one_line(str(expected[i]))} for the first, {one_line(str(got[i]))} for the second"
    raise ReportError(
        f"Models {first} and {name} were scored on different images ({detail}): their geometries or face "
        "croppers read the dataset differently (a cropper skips images without a face), and McNemar's test "
        "pairs the models image by image. Compare models of one image size and one --crop policy."
    )


def _warn_deduped_fit(model, dataset, split: str | None, name: str) -> None:
    """Warn that a ``fit --dedupe`` model scored on its own data is scored on the copies its fit left out.

    ``evaluate`` leaves them out to give fit's numbers; ``compare`` scores every model on the same images.
    """
    found = deduped_as_fit(model, dataset, split)
    if found is not None and found[1]:
        warnings.warn(f"Model {name} was fitted on {dataset.name} with --dedupe: {found[1]} of the {found[2]} "
                      "images scored copy a training image or one another (pixel-identical), which its recorded "
                      "metrics left out; compare scores them, as every model scores the same images (evaluate "
                      "leaves them out and gives fit's numbers).", UserWarning, stacklevel=3)


def compare_models(
    models: Mapping[str, object] | Sequence,
    data,
    *,
    names: Sequence[str] | None = None,
    split: str | None = "test",
    label_map: Mapping[str, str] | None = None,
    n_jobs: int | None = None,
    mcnemar_method: str = "auto",
    random_state: int | None = 0,
) -> Comparison:
    """Score several models on the same images; test the best two against each other.

    Parameters
    ----------
    models : mapping of name to FERModel, or sequence of FERModel
        From :func:`fer_classic.load_model` or ``fit_model(...).model`` (model
        files go to :func:`fer_classic.workflow.compare_model_files`). Names
        label the rows (a sequence is named ``model1``, ``model2``...).
    data : path or FaceDataset
        A path is loaded once per image geometry and face cropper the models
        use: each model scores images cut with the cropper it records, as
        ``predict`` cuts photos (models recording none get whole images
        resized, see :func:`fer_classic.prediction.loading_cropper`). A
        FaceDataset must have every model's geometry and is used as given.
    names : sequence of str, optional
        Row names for a sequence of models. A repeated name gets the first
        of ``#2``, ``#3``... that no other model has or was given, so row names
        are unique (``["a", "a", "a#2"]`` gives ``a``, ``a#3``, ``a#2``).
    split : str or None, default="test"
        Split to score; None: every image. A model whose training images
        are among them (``data`` is the one it was fitted on) is named in a
        DataLeakageWarning (see :func:`~fer_classic.evaluation.warn_training_images`).
    label_map : mapping or str, optional
        As in :func:`fer_classic.load_dataset`.
    n_jobs : int, optional
        As in :func:`fer_classic.load_dataset`.
    mcnemar_method : {"auto", "exact", "chi2"}, default="auto"
        See :func:`mcnemar_test`.
    random_state : int or None, default=0
        Seed of the accuracy intervals.

    Returns
    -------
    Comparison
        ``fit_seconds`` comes from each model's metadata (None if absent);
        ``predict_seconds`` is measured here (features and classifier).
        McNemar's test pairs the models image by image, so every model must
        score the same images in the same order.

    Raises
    ------
    TypeError
        If a model is not a FERModel (a path, say), before any image is read.
    ReportError
        If no model is given, a FaceDataset does not match a model's geometry,
        two models scored different images (their face croppers skipped
        different files), or ``split`` is ``"held-out"`` (each model holds out its own images: use
        :func:`fer_classic.evaluate_model` per model).
    """
    import json

    from ..data import FaceDataset, load_dataset
    from ..prediction._model import loading_cropper

    if isinstance(models, Mapping):
        names, fitted = [str(k) for k in models], list(models.values())
    else:
        fitted = list(models)
        names = [f"model{i + 1}" for i in range(len(fitted))] if names is None else [str(n) for n in names]
    if len(names) != len(fitted):
        raise ValueError(f"names has {len(names)} entries for {len(fitted)} models.")
    for key, model in zip(list(models) if isinstance(models, Mapping) else range(len(fitted)), fitted):
        check_fer_model(model, "compare_models", f"models[{key!r}]",
                        files="fer_classic.workflow.compare_model_files(paths, data)")
    names = _unique_names(names)
    if not fitted:
        raise ReportError("compare_models needs at least one model; give two or more to compare.")
    if mcnemar_method not in ("auto", "exact", "chi2"):
        raise ValueError(f"mcnemar_method must be auto, exact or chi2; got {mcnemar_method!r}.")
    if split == HELD_OUT:
        raise ReportError(f"--split {HELD_OUT} is the images one model's fit held out, a set of its own; compare "
                          f"scores every model on the same images: give a split they share, or score each model "
                          f"with evaluate --split {HELD_OUT}.")
    class_sets = {name: tuple(model.classes) for name, model in zip(names, fitted)}
    if len(set(map(frozenset, class_sets.values()))) > 1:
        from ..exceptions import ClassMismatchWarning

        listed = "; ".join(f"{name}: {', '.join(classes)}" for name, classes in class_sets.items())
        warnings.warn(f"The models predict different classes ({listed}): their scores are not comparable "
                      "class for class.", ClassMismatchWarning, stacklevel=2)
    loaded: dict[tuple, object] = {}
    # Kept by position, not by name: the McNemar pair is taken from the same models as its rows.
    rows, correct, first_sources = [], [], None
    for name, model in zip(names, fitted):
        shape = tuple(model.image_shape)
        cropper = loading_cropper(model)
        # Models cutting faces differently need their own load: one per geometry and cropper.
        key = (shape, None if cropper is None else json.dumps(cropper.to_metadata(), sort_keys=True))
        if key not in loaded:
            if isinstance(data, FaceDataset):
                if tuple(data.image_shape) != shape:
                    raise ReportError(
                        f"Model {name} takes {shape[0]}x{shape[1]} images but dataset {data.name!r} holds "
                        f"{data.image_shape[0]}x{data.image_shape[1]}; pass the dataset's path instead so it "
                        "is loaded at each model's size."
                    )
                dataset = data
            else:
                dataset = load_dataset(data, size=shape, label_map=label_map, n_jobs=n_jobs, cropper=cropper)
            loaded[key] = dataset, dataset.select(split) if split else dataset
        dataset, subset = loaded[key]
        # Before predicting: McNemar pairs the models image by image, so each must score the same images.
        _check_same_images(names[0], first_sources, name, subset.sources)
        first_sources = subset.sources if first_sources is None else first_sources
        warn_training_images(model, dataset, split, name=f"Model {name}")
        _warn_deduped_fit(model, dataset, split, name)
        warn_class_mismatch(model.classes, subset.y, model=f"Model {name}")
        # One image first, untimed: the process's one-time costs (compiled kernels loaded, imports)
        # would otherwise go to whichever model comes first.
        model.predict(subset.images[:1])
        start = time.perf_counter()
        predicted = model.predict(subset.images)
        seconds = time.perf_counter() - start
        metrics = classification_metrics(subset.y, predicted, model.classes, random_state=random_state)
        correct.append(np.asarray(predicted) == subset.y)
        fit_seconds = model.metadata.get("timings", {}).get("fit")
        rows.append({
            "model": name,
            "features": model.metadata.get("features"),
            "classifier": model.metadata.get("classifier"),
            "n": metrics["n"],
            "accuracy": round(metrics["accuracy"], 6),
            "accuracy_ci_low": round(metrics["accuracy_ci"][0], 6),
            "accuracy_ci_high": round(metrics["accuracy_ci"][1], 6),
            "balanced_accuracy": round(metrics["balanced_accuracy"], 6),
            "f1_weighted": round(metrics["f1_weighted"], 6),
            "f1_macro": round(metrics["f1_macro"], 6),
            "fit_seconds": None if fit_seconds is None else float(fit_seconds),
            "predict_seconds": round(seconds, 3),
        })
    order = sorted(range(len(rows)), key=lambda i: (-rows[i]["accuracy"], -rows[i]["f1_macro"]))
    rows = [rows[i] for i in order]
    mcnemar = None
    if len(rows) >= 2:
        mcnemar = {"model_a": rows[0]["model"], "model_b": rows[1]["model"],
                   **mcnemar_test(correct[order[0]], correct[order[1]], method=mcnemar_method)}
    name = data.name if isinstance(data, FaceDataset) else str(data)
    return Comparison(rows, mcnemar, split or "all", name)
