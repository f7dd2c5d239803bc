"""The ``fer-classic`` command line: argument parsing and printing only.

Each command calls one function of :mod:`fer_classic.workflow`.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import warnings

import click

from ._version import __version__
from .evaluation import format_confusion_matrix, format_metrics
from .exceptions import FerClassicError
from .labels import parse_label_map
from .persistence import load_model
from .workflow import evaluate_model, fit_model, predict_images


def _parse_params(pairs: tuple[str, ...]) -> dict:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE (e.g. C=10).", param_hint="--param")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value  # plain strings such as class_weight=balanced
    return params


def _run(func, *args, **kwargs):
    """Call a library function; turn its documented errors into a clean CLI error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = lambda msg, cat, *a, **k: click.echo(f"warning: {msg}", err=True)
            return func(*args, **kwargs)
    except (FerClassicError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


def _seconds(timings: dict) -> str:
    return "  ".join(f"{k} {v:.2f}s" for k, v in timings.items())


_LABEL_MAP = click.option(
    "--label-map", default=None, metavar="MAP",
    help="Folder name to label for numbered class folders, e.g. '0=angry,1=disgust'.",
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
_NJOBS = click.option("--n-jobs", type=int, default=None, help="Workers (default: all cores where it helps).")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fer-classic")
def main() -> None:
    """Facial expression recognition with classical features and scikit-learn."""


@main.command()
@click.option("--data", default=None, metavar="PATH",
              help="Class folders or fer2013.csv[.gz]; default: the generated synthetic faces.")
@click.option("--features", default="hog", show_default=True, help="pixels, hog, lbp, pca, or joined with '+'.")
@click.option("--clf", default="svm", show_default=True, help="svm, linear-svm, logreg, knn, rf or mlp.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Classifier parameter (repeatable).")
@click.option("--out", default="fer_model.joblib", show_default=True, help="Model file to write.")
@click.option("--size", default=48, show_default=True, help="Image side in pixels (grayscale, square).")
@click.option("--seed", default=0, show_default=True, help="Seed of hold-out split and estimators.")
@_LABEL_MAP
@_NJOBS
@_JSON
def fit(data, features, clf, params, out, size, seed, label_map, n_jobs, as_json) -> None:
    """Fit a model on the train split, report test scores and save it."""
    log = (lambda m: None) if as_json else (lambda m: click.echo(m, err=True))
    result = _run(
        fit_model, data, features=features, clf=clf, clf_params=_parse_params(params), size=size,
        random_state=seed, label_map=parse_label_map(label_map) if label_map else None,
        n_jobs=n_jobs, out=out, log=log,
    )
    if as_json:
        click.echo(json.dumps(result.summary()))
        return
    held = " (held-out split of the training images)" if result.held_out else ""
    click.echo(f"train {result.n_train} images, test {result.n_test} images{held}")
    click.echo(f"seconds: {_seconds(result.timings)}")
    click.echo(format_metrics(result.metrics))
    click.echo(f"model saved to {result.path}")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--data", required=True, metavar="PATH", help="Class folders or fer2013.csv[.gz].")
@click.option("--split", default="test", show_default=True,
              help="train, test, val, PublicTest, PrivateTest, or 'all'.")
@_LABEL_MAP
@_NJOBS
@_JSON
def evaluate(model, data, split, label_map, n_jobs, as_json) -> None:
    """Score MODEL on a dataset split: metrics and confusion matrix."""
    loaded = _run(load_model, model)
    result = _run(
        evaluate_model, loaded, data, split=None if split == "all" else split,
        label_map=parse_label_map(label_map) if label_map else None, n_jobs=n_jobs,
    )
    if as_json:
        click.echo(json.dumps(result.summary()))
        return
    click.echo(f"{result.split}: {result.n_test} images; seconds: {_seconds(result.timings)}")
    click.echo(format_metrics(result.metrics))
    click.echo("")
    click.echo(format_confusion_matrix(result.metrics))


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("images", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
def predict(model, images, fmt) -> None:
    """Predict the expression of face IMAGES (files or folders)."""
    loaded = _run(load_model, model)
    results = _run(predict_images, loaded, images)
    classes = loaded.classes
    if fmt == "json":
        click.echo(json.dumps(results, indent=1))
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["source", "label", "score_kind", *classes, "error"])
        for r in results:
            scores = r.get("scores", {})
            writer.writerow([r["source"], r.get("label", ""), r.get("score_kind", ""),
                             *(scores.get(c, "") for c in classes), r.get("error", "")])
        click.echo(buffer.getvalue().rstrip("\n"))
    else:
        kind = next((r["score_kind"] for r in results if "score_kind" in r), "probability")
        click.echo(f"{'label':<10}" + "".join(f"{c[:8]:>9}" for c in classes) + f"  source   ({kind} per class)")
        for r in results:
            if "error" in r:
                click.echo(f"{'ERROR':<10}{r['error']}")
                continue
            click.echo(f"{r['label']:<10}" + "".join(f"{r['scores'][c]:>9.3f}" for c in classes)
                       + f"  {r['source']}")
    failed = sum("error" in r for r in results)
    if failed:
        click.echo(f"{failed} of {len(results)} files could not be read", err=True)
    if failed == len(results):
        sys.exit(1)
