"""The ``fer-classic`` command line: argument parsing and printing only.

Each command calls one function of :mod:`fer_classic.workflow`.
"""

from __future__ import annotations

import io
import json
import sys
import warnings

import click

from ._version import __version__
from .data import DEFAULT_NEAR_THRESHOLD
from .evaluation import format_confusion_matrix, format_metrics
from .exceptions import FerClassicError
from .labels import parse_label_map
from .persistence import format_model_info, inspect_model, load_model
from .prediction import format_rows_table, predict_paths, run_webcam, write_rows_csv
from .workflow import evaluate_model, fit_model
from .workflow import compare_model_files, describe_data


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
_FEATURES_HELP = ("pixels, hog, lbp, pca, sift, vgg16 / vgg19 (frozen ImageNet networks), cnn (a CNN trained "
                  "first), or joined with '+' (e.g. vgg16+hog); vgg16, vgg19 and cnn need fer-classic[deep].")
_NJOBS = click.option("--n-jobs", type=int, default=None, help="Workers (default: all cores where it helps).")
_TRUST = click.option(
    "--trust", is_flag=True,
    help="Load model files that could run code: joblib files not written by fer-classic on this machine, "
         "skops files with types outside scikit-learn, NumPy and fer-classic. Only for files you trust.",
)
_FORMAT = click.option(
    "--format", "model_format", type=click.Choice(["joblib", "skops"]), default=None,
    help="Model file format (default: by the --out suffix). skops files load without running code.",
)


def _out_path(ctx: click.Context, out: str, model_format: str | None) -> str:
    """The default --out with the suffix of an explicitly chosen --format."""
    if model_format and ctx.get_parameter_source("out") is click.core.ParameterSource.DEFAULT:
        return out.rsplit(".", 1)[0] + "." + model_format
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fer-classic")
def main() -> None:
    """Facial expression recognition with classical features and scikit-learn."""


@main.command()
@click.option("--data", default=None, metavar="PATH",
              help="Class folders or fer2013.csv[.gz]; default: the generated synthetic faces.")
@click.option("--features", default="hog", show_default=True, help=_FEATURES_HELP)
@click.option("--clf", default="svm", show_default=True, help="svm, linear-svm, logreg, knn, rf or mlp.")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Classifier parameter (repeatable).")
@click.option("--block-scaling", is_flag=True,
              help="Combined features (hog+sift): scale each extractor's block to the same total variance.")
@click.option("--out", default="fer_model.joblib", show_default=True, help="Model file to write.")
@click.option("--size", default=48, show_default=True, help="Image side in pixels (grayscale, square).")
@click.option("--seed", default=0, show_default=True, help="Seed of hold-out split and estimators.")
@click.option("--dedupe", "dedupe_data", is_flag=True,
              help="Drop pixel-identical copies first (test images also in train, repeats within a split); "
                   "in memory only, files are never changed.")
@_FORMAT
@_LABEL_MAP
@_NJOBS
@_JSON
@click.pass_context
def fit(ctx, data, features, clf, params, block_scaling, out, size, seed, dedupe_data, model_format, label_map,
        n_jobs, as_json) -> None:
    """Fit a model on the train split, report test scores and save it."""
    log = (lambda m: None) if as_json else (lambda m: click.echo(m, err=True))
    result = _run(
        fit_model, data, features=features, clf=clf, clf_params=_parse_params(params),
        block_scaling=block_scaling, size=size,
        random_state=seed, label_map=parse_label_map(label_map) if label_map else None,
        n_jobs=n_jobs, out=_out_path(ctx, out, model_format), model_format=model_format,
        dedupe_data=dedupe_data, log=log,
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
@click.option("--report", default=None, metavar="DIR",
              help="Write report.html (self-contained, plots embedded), metrics.json and predictions.csv "
                   "into DIR (needs matplotlib).")
@_LABEL_MAP
@_NJOBS
@_TRUST
@_JSON
def evaluate(model, data, split, report, label_map, n_jobs, trust, as_json) -> None:
    """Score MODEL on a dataset split: metrics and confusion matrix, optionally an HTML report."""
    loaded = _run(load_model, model, trusted=trust)
    result = _run(
        evaluate_model, loaded, data, split=None if split == "all" else split,
        label_map=parse_label_map(label_map) if label_map else None, n_jobs=n_jobs, report=report,
    )
    if as_json:
        click.echo(json.dumps(result.summary()))
        return
    click.echo(f"{result.split}: {result.n_test} images; seconds: {_seconds(result.timings)}")
    click.echo(format_metrics(result.metrics))
    click.echo("")
    click.echo(format_confusion_matrix(result.metrics))
    if result.report is not None:
        click.echo(f"report written to {result.report.html} (with {result.report.metrics_json.name}, "
                   f"{result.report.predictions_csv.name})")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--annotate", default=None, metavar="OUT",
              help="Write copies with face boxes and labels drawn: a file (image, or .avi/.mp4 video) for one "
                   "input, else a folder.")
@click.option("--every", default=1, show_default=True, type=click.IntRange(min=1),
              help="Videos: analyse every Nth frame.")
@click.option("--timeline", default=None, metavar="FILE.csv",
              help="Videos: write per-frame emotions with face tracks and smoothed labels as CSV.")
@click.option("--webcam", type=click.IntRange(min=0), is_flag=False, flag_value=0, default=None, metavar="[INDEX]",
              help="Live window of camera INDEX (default 0) instead of files. Needs OpenCV with GUI support "
                   "and a display (pip install opencv-python): it cannot run headless.")
@click.option("--detect", type=click.Choice(["auto", "always", "never"]), default=None,
              help="Face search: 'auto' (default) takes images up to twice the model's side (48x48 models: "
                   "96x96) as face crops already and searches larger ones; 'never' treats every image as a face crop.")
@click.option("--faces", type=click.Choice(["all", "largest"]), default=None,
              help="Predict every face found (default) or only the largest.")
@click.option("--yunet", "yunet_model", default=None, metavar="FILE.onnx",
              help="Find faces with OpenCV's YuNet DNN from this model file instead of the Haar cascade.")
@_TRUST
def predict(model, inputs, fmt, annotate, every, timeline, webcam, detect, faces, yunet_model, trust) -> None:
    """Predict the expression of every face in INPUT files: images, folders (searched recursively) and videos.

    Photos are searched for faces, which are cropped the way the model's
    training images were; an image without a face gives a 'no face' result,
    an unreadable file is reported and skipped. The exit code is non-zero
    only when no input could be read.
    """
    loaded = _run(load_model, model, trusted=trust)
    params = {"detect": {"always": True, "never": False}.get(detect, detect), "faces": faces}
    if yunet_model:
        params.update(detector="yunet", detector_model=yunet_model)
    params = {k: v for k, v in params.items() if v is not None}
    if webcam is not None:
        if inputs:
            raise click.UsageError("--webcam reads the camera; give no INPUT files with it.")
        frames = _run(run_webcam, loaded, webcam, every=every, cropper_params=params)
        click.echo(f"{frames} frames shown", err=True)
        return
    if not inputs:
        raise click.UsageError("Give INPUT files, folders or videos (or --webcam).")
    result = _run(predict_paths, loaded, inputs, every=every, annotate=annotate, timeline=timeline,
                  cropper_params=params)
    if fmt == "json":
        click.echo(json.dumps(result.summary(), indent=1))
    elif fmt == "csv":
        buffer = io.StringIO()
        write_rows_csv(result.rows, result.classes, buffer)
        click.echo(buffer.getvalue().rstrip("\n"))
    else:
        click.echo(format_rows_table(result.rows, result.classes, result.tracks))
    for path in result.annotated:
        click.echo(f"annotated: {path}", err=True)
    if result.timeline is not None:
        click.echo(f"timeline written to {result.timeline}", err=True)
    if result.failed:
        click.echo(f"{result.failed} of {result.n_inputs} files could not be read", err=True)
    if result.failed == result.n_inputs:
        sys.exit(1)


@main.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--data", required=True, metavar="PATH", help="Class folders or fer2013.csv[.gz].")
@click.option("--split", default="test", show_default=True,
              help="train, test, val, PublicTest, PrivateTest, or 'all'.")
@click.option("--out", default=None, metavar="FILE.csv", help="Also write the table as CSV.")
@_LABEL_MAP
@_NJOBS
@_TRUST
@_JSON
def compare(models, data, split, out, label_map, n_jobs, trust, as_json) -> None:
    """Score several MODELS on the same images, side by side, with McNemar's test between the best two."""
    result = _run(
        compare_model_files, models, data, split=None if split == "all" else split, out=out,
        label_map=parse_label_map(label_map) if label_map else None, n_jobs=n_jobs, trusted=trust,
    )
    click.echo(json.dumps(result.summary()) if as_json else result.format())
    if out and not as_json:
        click.echo(f"table written to {out}")


@main.command()
@click.option("--data", default=None, metavar="PATH",
              help="Class folders or fer2013.csv[.gz]; default: the generated synthetic faces.")
@click.option("--threshold", default=DEFAULT_NEAR_THRESHOLD, show_default=True, type=click.IntRange(0, 64),
              help="Near duplicates: largest Hamming distance between 64-bit DCT pHashes.")
@click.option("--duplicates-csv", default=None, metavar="FILE",
              help="Write every duplicate image (kind, group, split, label, source, hamming, dedupe action).")
@_LABEL_MAP
@_NJOBS
@_JSON
def describe(data, threshold, duplicates_csv, label_map, n_jobs, as_json) -> None:
    """Describe a dataset: class counts, sizes, modes, unreadable files, duplicates, train/test leakage.

    Files are only read, never changed.
    """
    result = _run(
        describe_data, data, threshold=threshold, duplicates_csv=duplicates_csv,
        label_map=parse_label_map(label_map) if label_map else None, n_jobs=n_jobs,
        warn=False,  # the printed description carries the leakage warning once
    )
    click.echo(json.dumps(result.summary()) if as_json else result.format())
    if duplicates_csv and not as_json:
        click.echo(f"duplicates listed in {duplicates_csv}")


@main.command()
@click.option("--data", default=None, metavar="PATH",
              help="Class folders or fer2013.csv[.gz]; default: the generated synthetic faces.")
@click.option("--features", default="hog", show_default=True, help=_FEATURES_HELP)
@click.option("--clf", default="svm", show_default=True, help="svm, linear-svm, logreg, knn, rf or mlp.")
@click.option("--block-scaling", is_flag=True,
              help="Combined features (hog+sift): scale each extractor's block to the same total variance.")
@click.option("--grid", default="default", show_default=True, metavar="default|FILE",
              help="Built-in grid, or a JSON/YAML file mapping parameters (clf.C, hog.orientations) to lists.")
@click.option("--cv", default="5", show_default=True,
              help="Number of stratified folds on train, or 'publictest' (FER2013's protocol).")
@click.option("--groups", default=None, metavar="REGEX",
              help="Subject id from file names (first group), e.g. 'S(\\d+)_': folds keep subjects apart.")
@click.option("--backend", type=click.Choice(["loky", "dask", "ray"]), default="loky", show_default=True,
              help="joblib backend running the candidates.")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler / Ray address.")
@click.option("--out", default="fer_search_model.joblib", show_default=True, help="Best model file to write.")
@click.option("--results", default="cv_results.csv", show_default=True, help="CSV of all candidates, ranked.")
@click.option("--seed", default=0, show_default=True, help="Seed of folds and estimators.")
@_FORMAT
@_NJOBS
@_JSON
@click.pass_context
def search(ctx, data, features, clf, block_scaling, grid, cv, groups, backend, scheduler, out, results, seed,
           model_format, n_jobs, as_json) -> None:
    """Grid-search a pipeline, refit the best, score it and save it."""
    from .model_selection import search_model

    log = (lambda m: None) if as_json else (lambda m: click.echo(m, err=True))
    result = _run(
        search_model, data, features=features, clf=clf, block_scaling=block_scaling, grid=grid, cv=cv,
        groups=groups,
        random_state=seed, n_jobs=n_jobs, backend=backend, scheduler=scheduler,
        out=_out_path(ctx, out, model_format), model_format=model_format,
        results_csv=results, verbose=0 if as_json else 2, log=log,
    )
    summary = result.summary()
    if as_json:
        click.echo(json.dumps(summary))
        return
    click.echo(f"{'rank':>4}  {'cv score':>8}  params")
    for row in summary["ranking"]:
        click.echo(f"{row['rank']:>4}  {row['score']:>8.4f}  {row['params']}")
    click.echo(f"seconds: {_seconds(result.timings)}")
    click.echo(f"best model on {result.test_split}:")
    click.echo(format_metrics(result.metrics))
    click.echo(f"model saved to {result.path}; all candidates in {results}")


@main.command("report-search")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--data", default=None, metavar="PATH", help="The dataset searched (its train split is used).")
@click.option("--out", "out_dir", default="search_report", show_default=True, help="Folder for the plots and curves.json.")
@click.option("--param", default=None, help="Parameter of the validation curve (default: the first one searched).")
@click.option("--values", default=None, metavar="V1,V2,...", help="Its values (default: the searched ones).")
@click.option("--cv", default=3, show_default=True, help="Cross-validation folds.")
@_NJOBS
@_TRUST
def report_search_command(model, data, out_dir, param, values, cv, n_jobs, trust) -> None:
    """Learning curve and validation curve of a model saved by 'search'."""
    from .model_selection import report_search

    loaded = _run(load_model, model, trusted=trust)
    parsed = [json.loads(v) if v.strip()[:1].isdigit() or v.strip()[:1] in "-[" else v.strip()
              for v in values.split(",")] if values else None
    summary = _run(report_search, loaded, data, out_dir, param=param, values=parsed, cv=cv, n_jobs=n_jobs)
    for name, path in summary["files"].items():
        click.echo(f"{name}: {path}")


@main.command("inspect")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--trust-type", "trust_types", multiple=True, metavar="TYPE",
              help="skops: a type you have checked and trust (repeatable).")
@_JSON
def inspect_command(model, trust_types, as_json) -> None:
    """Show what MODEL holds (metadata, checksum, origin, types to trust) without running code from it."""
    info = _run(inspect_model, model, trusted_types=trust_types)
    if as_json:
        click.echo(json.dumps(info, indent=1))
        return
    click.echo(format_model_info(info))
