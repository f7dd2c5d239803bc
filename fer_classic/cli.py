"""The ``fer-classic`` command line: argument parsing and printing only.

Each command calls one function of :mod:`fer_classic.workflow` (or
:mod:`fer_classic.model_selection`, :mod:`fer_classic.prediction`,
:mod:`fer_classic.persistence`). Everything beyond click is imported inside
the commands, so that ``fer-classic --help`` starts in a fraction of a second.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import gc
import json
import os
import signal
import sys
import threading
import warnings

import click

from ._display import one_line
from ._json import output_json, unique_keys
from ._version import __version__

#: ``fer_classic.data.DEFAULT_NEAR_THRESHOLD``, repeated here so that --help imports
#: no NumPy (tests/test_cli.py checks they agree).
_NEAR_THRESHOLD = 6
# True while run() keeps the garbage collector off for a command's imports (see _resume_collector).
_COLLECTOR_PAUSED = False


#: json keeps the last of a key given twice, silently (grid files refuse it too).
_UNIQUE_KEYS = unique_keys(lambda key: click.BadParameter(f"{key!r} is given twice in one JSON object; give each "
                                                          "key once."))


def _load_json(text: str):
    """``json.loads`` with unique keys; JSON nested too deeply for Python's parser is a usage error."""
    try:
        return json.loads(text, object_pairs_hook=_UNIQUE_KEYS)
    except RecursionError:  # raised in the option's callback, outside _run's guard: it was a traceback
        raise click.BadParameter(f"{text[:20]!r}... nests lists or objects too deeply (thousands of levels) to be "
                                 "a parameter value.") from None


def _parse_value(value: str):
    try:
        return _load_json(value)
    except json.JSONDecodeError as exc:
        if value[:1] in ("{", "["):  # meant as JSON: say where it breaks, not that a string is no dict
            raise click.BadParameter(f"{value!r} is not valid JSON ({exc.msg} at character {exc.pos + 1}); "
                                     'quote names with double quotes, e.g. \'class_weight={"happy": 2}\'.') from None
    try:
        return float(value)  # inf, nan, 1e3 (JSON has no inf)
    except ValueError:
        return value  # plain strings such as class_weight=balanced


#: Python's spellings of JSON's constants: taken as text by _parse_value, which the estimators then refuse.
_PYTHON_CONSTANTS = {"None": "null", "True": "true", "False": "false"}


def _json_spelling(value) -> str | None:
    """The JSON that a Python spelling of a value means (``'None'`` → ``null``, ``'(5,)'`` or ``'5,3'`` → a list),
    or None when ``value`` is no such text."""
    if not isinstance(value, str):
        return None
    if value.strip() in _PYTHON_CONSTANTS:
        return _PYTHON_CONSTANTS[value.strip()]
    import ast

    try:
        parsed = ast.literal_eval(value.strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return json.dumps(parsed) if isinstance(parsed, tuple) else None  # JSON writes a tuple as a list


def _json_advice(params: dict, message: str) -> str:
    """" --param values are JSON: write max_depth=null." for each value of ``params`` spelled as in Python that
    the error ``message`` refuses (scikit-learn's "The 'max_depth' parameter ... or None. Got 'None' instead.")
    and whose JSON it allows (None, a bool or an array-like among what it lists); "" if none."""
    allowed = message.partition(" Got ")[0]
    takes = {"null": "None" in allowed, "true": "bool" in allowed, "false": "bool" in allowed}
    fixes = [f"{key}={spelled}" for key, value in params.items()
             if (spelled := _json_spelling(value)) is not None and repr(value) in message and f"'{key}'" in message
             and takes.get(spelled, "array-like" in allowed or "list" in allowed)]
    return f" --param values are JSON: write {', '.join(fixes)}." if fixes else ""


def _values_option(ctx, param, text: str | None) -> list | None:
    """``report-search --values``: a JSON list (for values holding commas, such as dicts), or ``V1,V2,...``."""
    if not text:  # absent (or empty, as before): the searched values
        return None
    if not text.strip().startswith("["):
        try:
            return [_parse_value(value.strip()) for value in text.split(",")]
        except click.BadParameter as exc:  # a dict cut at its commas
            raise click.BadParameter(f"{exc.message.split(';')[0]}; values holding commas (dicts) go in a JSON "
                                     "list, e.g. '[{\"happy\": 2, \"sad\": 1}, \"balanced\"]'.") from None
    try:
        values = _load_json(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{text!r} is not a valid JSON list ({exc.msg} at character {exc.pos + 1}).") from None
    if not isinstance(values, list) or not values:
        raise click.BadParameter(f"{text!r}: give a non-empty JSON list, e.g. '[{{\"happy\": 2, \"sad\": 1}}, "
                                 "\"balanced\"]'.")
    return values


def _params_option(ctx, param, pairs: tuple[str, ...]) -> dict:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not NAME=VALUE (e.g. C=10).")
        if key.strip() in params:
            raise click.BadParameter(f"{key.strip()} is given twice; give each parameter once.")
        params[key.strip()] = _parse_value(value.strip())
    return params


def _block_weights_option(ctx, param, pairs: tuple[str, ...]) -> dict[str, float] | None:
    """``--block-weight NAME=WEIGHT`` (repeatable) as a dict; the names and weights are checked by make_pipeline."""
    from .pipeline import parse_block_weights

    try:
        return parse_block_weights(pairs)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _split_option(ctx, param, value: str) -> str | None:
    """``--split``: None for every image (``all``, any case); an empty value (an unset variable) is an error."""
    if not value.strip():
        raise click.BadParameter("is empty; give train, test, val, PublicTest, PrivateTest, held-out (evaluate), "
                                 "or 'all'.")
    return None if value.strip().lower() == "all" else value


_SPLIT = click.option("--split", default="test", show_default=True, callback=_split_option,
                      help="train, test, val, PublicTest, PrivateTest, 'all' (every image, training images "
                           "included where the model was fitted on this data), or for evaluate 'held-out' "
                           "(the images the model's fit held out of this data, recomputed).")


def _not_empty(ctx, param, value: str | None) -> str | None:
    """A path option given empty (an unset variable) is refused: it was taken as the option left out."""
    if value is not None and not value.strip():
        raise click.BadParameter("is empty; give a path" + ("." if param.required else ", or leave the option out."))
    return value


def _refuse_unused_chunk_size(chunked: bool, where: str) -> None:
    """A --chunk-size typed for a run that is not chunked did nothing without a word: refused."""
    from click.core import ParameterSource

    if not chunked and click.get_current_context().get_parameter_source("chunk_size") == ParameterSource.COMMANDLINE:
        raise click.UsageError(f"--chunk-size sizes the chunks of {where}, which this run does not use: add that "
                               "option, or leave --chunk-size out.")


def _label_map_option(ctx, param, value: str | None):
    if value is None:
        return None
    from .labels import parse_label_map

    # Parsed before _run: a LabelMergeWarning showed as Python's file:line and source line. Shown as _run shows
    # warnings, not through a catch_warnings of its own, which (process-wide) put back a state it had saved
    # from another thread's command after that command had ended: that dead command's printer stayed.
    prefix = _WARNING_PREFIX.set("--label-map: ")
    try:
        with _cli_warnings():
            return parse_label_map(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    finally:
        _WARNING_PREFIX.reset(prefix)


def _message(exc: BaseException) -> str:
    text = _without_tracebacks(str(exc)) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and str(exc.filename) not in text:
        text = f"{exc.filename}: {text}"
    return text


def _without_tracebacks(message) -> str:
    """``message`` without the tracebacks scikit-learn puts in some (failed fits): their error lines stay."""
    lines, in_traceback = [], False
    for line in str(message).splitlines():
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
        elif in_traceback and (line[:1].isspace() or not line):
            continue  # a frame of the traceback
        else:
            in_traceback = False
            lines.append(line)
    return "\n".join(lines).strip()


def _warn(text: str) -> None:
    """A warning as the CLI shows it: one ``warning: ...`` line on stderr."""
    click.echo(f"warning: {text}", err=True)


def _show_warning(message, *args, **kwargs) -> None:
    """``warnings.showwarning`` as the CLI shows a warning (see :func:`_warn`)."""
    _warn(_without_tracebacks(message))


# The warnings state is process-wide: commands called in threads of one process (main(..., standalone_mode=False))
# share one installation of the CLI's, the first to begin installing it and the last to end putting the caller's
# back. Each saving and restoring it alone left a dead command's printer, and its "always" filter, installed
# once they ended out of order.
_CLI_WARNINGS_LOCK = threading.Lock()
_cli_warnings_held: dict = {"users": 0, "saved": None}
#: Put before the warnings this thread's code issues under _cli_warnings (the option whose parsing warned).
_WARNING_PREFIX: contextvars.ContextVar[str] = contextvars.ContextVar("fer_classic_cli_warning_prefix", default="")


@contextlib.contextmanager
def _cli_warnings():
    """Within the block, every warning shows as one ``warning: ...`` line, each text once (see :func:`_run`)."""
    with _CLI_WARNINGS_LOCK:
        if not _cli_warnings_held["users"]:
            saved = warnings.catch_warnings()
            saved.__enter__()
            warnings.simplefilter("always")
            shown: set[str] = set()

            def show(message, *args, **kwargs) -> None:
                text = _without_tracebacks(message)
                if text not in shown:  # once per command: a warning from every fit of a search is one line
                    shown.add(text)
                    _warn(_WARNING_PREFIX.get() + text)

            warnings.showwarning = show
            _cli_warnings_held["saved"] = saved
        _cli_warnings_held["users"] += 1
    try:
        yield
    finally:
        with _CLI_WARNINGS_LOCK:
            _cli_warnings_held["users"] -= 1
            if not _cli_warnings_held["users"]:
                saved, _cli_warnings_held["saved"] = _cli_warnings_held["saved"], None
                saved.__exit__(None, None, None)


def _run(func, *args, _progress: bool | None = None, **kwargs):
    """Call a library function; turn every error into a clean CLI error (never a traceback).

    ``_progress=False`` (``--json``) hides the progress lines of long steps,
    which otherwise show on stderr when it is a terminal.

    The error is printed as :func:`_user_error` words it.
    """
    from ._progress import progress_enabled

    _resume_collector()
    try:
        with _cli_warnings(), progress_enabled(_progress):
            return func(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback reaches a user
        error = _user_error(exc)
        if error is None:
            raise
        raise error from exc


#: Parts of the messages of a library that could not be loaded for want of memory (``ulimit -v``).
_NO_MEMORY_TO_LOAD = ("failed to map segment", "cannot allocate memory", "cannot map zero-fill pages")


def _too_many_open_files() -> str:
    """What to do about EMFILE: a limit above the current one (4096 was lower than some), and --n-jobs 1 only
    for a command that has it (predict, inspect and download-weights do not)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # Windows
        limit, higher = "this system's limit", None
    else:
        limit = f"this shell's limit, ulimit -n, is {soft}"
        higher = max(2 * soft, 4096)
        if hard != resource.RLIM_INFINITY:
            higher = min(higher, hard) if hard > soft else None  # above the hard limit only root can go
    fix = f"raise it (e.g. ulimit -n {higher})" if higher is not None else "raise it"
    ctx = click.get_current_context(silent=True)
    if ctx is not None and any(param.name == "n_jobs" for param in ctx.command.params):
        fix += ", or use --n-jobs 1"
    return f"too many open files ({limit}): {fix}."


def _option_naming(path) -> str | None:
    """The option of the running command whose value is ``path``, the folder it is in, or ``path`` less its
    suffix (``fit --out m`` writes m.joblib); None if none (a temporary file, or no command running)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or path is None:
        return None
    real = os.path.realpath(path)
    best, depth = None, -1
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if isinstance(param, click.Option) and isinstance(value, (str, os.PathLike)) and os.fspath(value):
            given = os.path.realpath(value)
            if given in (real, os.path.splitext(real)[0]):
                return max(param.opts, key=len)
            # The deepest folder holding the file: `fit --data . --out m.joblib`, `evaluate --data d --report d/r`
            # name --out and --report, not the input folder that holds them too.
            if real.startswith(given.rstrip(os.sep) + os.sep) and len(given) > depth:
                best, depth = max(param.opts, key=len), len(given)
    return best


def _no_room_error(exc: OSError) -> str | None:
    """The error of a full disk, a used-up quota or a file too large, with what to do (see no_room)."""
    from ._fileio import no_room

    text = no_room(exc.errno, exc.filename, option=_option_naming(exc.filename))
    if text is None:
        return None
    cause = "" if exc.errno == errno.ENOSPC else f" ({text[0]})"  # "No space left on device" says it already
    return f"{_message(exc)}{cause}: {text[1]}."


def _echoed_to(exc: BaseException) -> str | None:
    """"standard output" or "standard error" when ``exc`` was raised writing to it with ``click.echo``, else None."""
    stream, frame = None, exc.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code is click.utils.echo.__code__:
            stream = "standard error" if frame.tb_frame.f_locals.get("err") else "standard output"
        frame = frame.tb_next
    return stream


#: The files the command running in this thread has written (its recording_writes list; None: no command).
_WRITTEN: contextvars.ContextVar[list | None] = contextvars.ContextVar("fer_classic_written", default=None)


def _files_written() -> str:
    """"; the command's work is done: it wrote m.joblib" if the running command wrote files, else "": `fit ... >
    /dev/full` saved the model, then said only that writing the results failed."""
    paths = list(dict.fromkeys(os.fspath(path) for path in _WRITTEN.get(None) or ()))
    if not paths:
        return ""
    more = f" and {len(paths) - 3} more files" if len(paths) > 3 else ""
    return f"; the command's work is done: it wrote {', '.join(paths[:3])}{more}"


def _user_error(exc: Exception) -> click.ClickException | None:
    """The one-line error a user sees for ``exc``, raised in a library call or in a command's own code.

    Errors fer-classic raises on purpose, and ValueError / OSError /
    MemoryError from the libraries below, are printed as they are. Anything
    else is a bug: it is printed in one line too, with how to see the
    traceback (``FER_CLASSIC_DEBUG=1``), which makes this return None.
    """
    if isinstance(exc, MemoryError) or (isinstance(exc, ImportError)
                                        and any(part in str(exc).lower() for part in _NO_MEMORY_TO_LOAD)):
        # checked first, importing nothing: there may be no memory to import with
        return click.ClickException(f"out of memory ({_message(exc)}): use smaller images (--size), fewer images "
                                    "or a lighter model.")
    from .exceptions import FerClassicError

    stream = _echoed_to(exc) if isinstance(exc, OSError) else None
    if stream is not None:  # `predict ... > out.csv` on a full disk
        return click.ClickException(f"writing the results to {stream} failed: {exc.strerror or _message(exc)}"
                                    f"{_files_written()}")
    if isinstance(exc, OSError) and (room := _no_room_error(exc)) is not None:
        return click.ClickException(room)
    if isinstance(exc, OSError) and exc.errno == errno.EMFILE:
        # The file is no help (a temporary one, or whichever was opened one too many): the limit is.
        return click.ClickException(_too_many_open_files())
    if isinstance(exc, (FerClassicError, ValueError, OSError)):
        return click.ClickException(_message(exc))
    if os.environ.get("FER_CLASSIC_DEBUG"):
        return None
    return click.ClickException(f"unexpected {type(exc).__name__}: {_message(exc)}. This is a bug in fer-classic; "
                                "rerun with FER_CLASSIC_DEBUG=1 for the traceback and report it.")


def _resume_collector() -> None:
    """Turn the garbage collector back on once a command's imports are done (see :func:`run`)."""
    global _COLLECTOR_PAUSED
    if _COLLECTOR_PAUSED:
        _COLLECTOR_PAUSED = False
        gc.freeze()  # what the imports made lives as long as the process: never scan it again
        gc.enable()


def _check_model_outputs(model: str, outputs: dict, *, data=None, inputs=(), files=None, dirs=(), text=()) -> None:
    """Outputs of a command that reads MODEL: checked before the model is loaded (see check_outputs).

    ``files`` maps other options to the input files they name (``{"--yunet": path}``).
    """
    from ._fileio import check_outputs
    from .data._load import data_path

    # data_path lists the data's files only when an output is checked against them.
    _run(check_outputs, outputs, inputs={"MODEL": model, **(files or {})},
         input_trees={"--data": data_path(data), "INPUT": list(inputs)}, dirs=dirs, text=text, make_parents=True)


def _logger(quiet: bool):
    """Progress on stderr, silent with --json."""
    return (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))


def _seconds(timings: dict) -> str:
    return "  ".join(f"{k} {v:.2f}s" for k, v in timings.items())


_LABEL_MAP = click.option(
    "--label-map", default=None, metavar="MAP", callback=_label_map_option,
    help="Folder name or CSV label to label, e.g. '0=angry,1=disgust'.",
)
_PARAMS = click.option("--param", "params", multiple=True, metavar="NAME=VALUE", callback=_params_option,
                       help="Classifier parameter (repeatable), e.g. C=10, class_weight=balanced. Values are "
                            "JSON (true, false, null, [5, 3], {\"happy\": 2}); other text is a string.")
_PIPELINE_OPTIONS = [
    click.option("--block-scaling", is_flag=True,
                 help="Combined features (hog+sift): scale each extractor's block to the same total variance."),
    click.option("--block-weight", "block_weights", multiple=True, metavar="NAME=WEIGHT",
                 callback=_block_weights_option,
                 help="With --block-scaling: multiply the block of the extractor NAME by WEIGHT, above 0 "
                      "(repeatable; the others keep 1), e.g. patchwords=1.4."),
    click.option("--preprocess", default=None, metavar="STEPS",
                 help="Image preprocessing before the features: equalize, clahe, crop, or joined with '+' "
                      "(crop+clahe)."),
    click.option("--flip", is_flag=True,
                 help="Also train on the mirror image of every training image (prediction is unchanged)."),
    click.option("--mirror-kernel", is_flag=True,
                 help="Kernel classifiers (kernel-svm, combined-svm, local-svm): average the kernel over each "
                      "face and its mirror image, at fit and predict time (one row per face; instead of --flip)."),
    click.option("--kernel-shift", default=0, show_default=True, type=click.IntRange(min=0), metavar="PIXELS",
                 help="With --mirror-kernel: also average over each face moved PIXELS (below half the image "
                      "width) right and left and the mirrors of both (six views: 36 kernel products per test face "
                      "instead of 4)."),
    click.option("--sampler", type=click.Choice(["smote", "adasyn", "random"]), default=None,
                 help="Oversample the smaller classes of the training data (imbalanced-learn; training folds "
                      "only, never test images)."),
]


def _pipeline_options(func):
    for option in reversed(_PIPELINE_OPTIONS):
        func = option(func)
    return func


def _check_margin(ctx, param, value: float) -> float:
    if value != value:  # NaN passes FloatRange (every comparison with it is False)
        raise click.BadParameter("nan is not a number; give a fraction from -0.4 to 2 (0: the box as found).")
    return value


# How an image file becomes a training image: one FaceCropper, recorded in the model, so that
# evaluate, compare, report and predict cut every image the same way.
_CROP_OPTIONS = [
    click.option("--crop", type=click.Choice(["auto", "detect", "none"]), default="auto", show_default=True,
                 help="Face search on the training images, recorded in the model for every later command: "
                      "auto searches images larger than twice --size (face crops such as FER2013 are taken "
                      "as they are), detect searches every image, none resizes each whole image. Images "
                      "without a face are skipped and named."),
    click.option("--margin", type=click.FloatRange(-0.4, 2), default=0.0, show_default=True, callback=_check_margin,
                 help="Added to each side of a found face's box, as a fraction of its size."),
    click.option("--align", is_flag=True, help="Rotate found faces so the eyes are level."),
]


def _crop_options(func):
    for option in reversed(_CROP_OPTIONS):
        func = option(func)
    return func


_DATA_HELP = ("Class folders, fer2013.csv[.gz], a labels file (CSV/TSV of image paths and labels) or a "
              "downloaded dataset folder (RAF-DB, AffectNet, ExpW, FER+, CK+, JAFFE, KDEF)")
_GROUPS = click.option(
    "--groups", default=None, metavar="REGEX",
    help="Subject id from file names (first group), e.g. 'S(\\d+)_': the hold-out and folds keep each subject "
         "on one side. Default: the dataset's subjects (unless each names one image), else clusters of "
         "near-duplicate images.")


_JSON = click.option("--json", "as_json", is_flag=True, help="Print the metrics as one JSON object.")
_FEATURES_HELP = ("pixels, hog, lbp, gabor, pca, sift (dense SIFT words), vlad (dense SIFT VLAD), patchwords (words of "
                  "whitened pixel patches), vgg16 / vgg19 (frozen ImageNet networks), cnn (a CNN trained first), or "
                  "joined with '+' (e.g. vgg16+hog); vgg16, vgg19 and cnn need fer-classic[deep].")
_CLF_HELP = ("svm, linear-svm, logreg, ridge, knn, rf, mlp, kernel-svm (histogram kernels), combined-svm (a weighted "
             "sum of per-block kernels) or local-svm (an SVM per face on its nearest training faces).")


def _check_n_jobs(ctx, param, value: int | None) -> int | None:
    if value == 0:  # joblib's rule, checked before any image is read
        raise click.BadParameter("0 workers cannot run anything; give 1 or more, or -1 for all cores.")
    return value


def _n_jobs(default: str):
    return click.option("--n-jobs", type=int, default=None, callback=_check_n_jobs,
                        help=f"Workers; -1: all cores (default: {default}).")


_NJOBS = _n_jobs("all cores to read the images")
_FIT_NJOBS = _n_jobs("all cores, to read the images, extract features and fit")
_SEARCH_NJOBS = _n_jobs("one candidate at a time; all cores to read the images and for the model's predictions")
_CURVE_NJOBS = _n_jobs("one fit at a time")
_TRUST = click.option(
    "--trust", is_flag=True,
    help="Load model files that could run code: joblib files not written by fer-classic on this machine, "
         "skops files naming types outside fer-classic's reviewed list (fer_classic.persistence.TRUSTED_TYPES). "
         "Only for files you trust.",
)
#: Shared by inspect and the commands that load a model (one definition: the same name and help everywhere).
_TRUST_TYPE = click.option(
    "--trust-type", "trust_types", multiple=True, metavar="TYPE",
    help="skops files: an exact type or function name, as 'fer-classic inspect' lists them, that you have checked "
         "and trust (repeatable); narrower than --trust.",
)
_FORMAT = click.option(
    "--format", "model_format", type=click.Choice(["joblib", "skops"]), default=None,
    help="Model file format (default: by the --out suffix; an --out ending in the other format's suffix is "
         "refused). skops files load without running code.",
)
#: --backend of fit, evaluate and predict: fer_classic._distributed.BACKENDS (not imported, --help stays light).
_BACKENDS = ["local", "dask", "ray"]
_SCHEDULER = click.option(
    "--scheduler", default=None, metavar="ADDRESS",
    help="Dask scheduler (tcp://HOST:8786) of --backend dask, Ray address (auto, HOST:6379, ray://HOST:10001) of "
         "--backend ray; default: a local in-process Dask cluster, a local Ray instance on this machine's CPUs.")


def _out_path(ctx: click.Context, out: str, model_format: str | None) -> str:
    """The default --out with the suffix of an explicitly chosen --format."""
    if model_format and ctx.get_parameter_source("out") is click.core.ParameterSource.DEFAULT:
        return out.rsplit(".", 1)[0] + "." + model_format
    return out


#: The exit code of a command ended by Ctrl-C (SIGINT), as a shell reports a process it killed.
_SIGINT_EXIT = 128 + signal.SIGINT


class _Commands(click.Group):
    """The command group: what happens in a command outside :func:`_run` ends the same clean way."""

    def invoke(self, ctx: click.Context):
        from ._fileio import recording_writes

        with recording_writes() as written:  # what the command saved, for an error after it (see _files_written)
            token = _WRITTEN.set(written)
            try:
                return super().invoke(ctx)
            except KeyboardInterrupt as exc:
                if _no_memory_for_a_thread():
                    # OpenBLAS raises SIGINT itself when it cannot start its threads (while NumPy or SciPy is
                    # imported under a low `ulimit -v`): that was "Aborted!", as if the user had pressed Ctrl-C.
                    raise _user_error(MemoryError("no memory left to start a thread")) from exc
                # click's own handling exits 1, which scripts and make cannot tell from an ordinary error.
                click.echo(err=True)
                click.echo("Aborted!", err=True)
                raise click.exceptions.Exit(_SIGINT_EXIT) from None
            except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
                raise
            except Exception as exc:  # noqa: BLE001 - the imports at the top of each command (low ulimit -v), ...
                if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                    raise  # click's own: a reader that stopped reading (| head) is no error
                error = _user_error(exc)
                if error is None and isinstance(exc, EOFError):
                    # FER_CLASSIC_DEBUG=1: click's standalone main takes an EOFError for the end of a prompt's
                    # input and printed "Aborted!", not the traceback the message of a bug promises.
                    import traceback

                    traceback.print_exception(exc)
                    raise click.exceptions.Exit(1) from None
                if error is None:
                    raise
                raise error from exc
            finally:
                _WRITTEN.reset(token)


def _no_memory_for_a_thread() -> bool:
    """Whether this process has no memory left to start a thread (the stack of one)."""
    import threading

    try:
        thread = threading.Thread(target=lambda: None)
        thread.start()
    except RuntimeError:  # "can't start new thread"
        return True
    thread.join()
    return False


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fer-classic")
def main() -> None:
    """Facial expression recognition with classical features and scikit-learn."""


@main.command()
@click.option("--data", default=None, metavar="PATH", callback=_not_empty,
              help=_DATA_HELP + "; default: the generated synthetic faces.")
@click.option("--features", default="hog", show_default=True, help=_FEATURES_HELP)
@click.option("--clf", default="svm", show_default=True, help=_CLF_HELP)
@_PARAMS
@_pipeline_options
@_crop_options
@click.option("--out", default="fer_model.joblib", show_default=True,
              help="Model file to write (fer_model.skops with --format skops and no --out).")
@click.option("--size", default=48, show_default=True, type=click.IntRange(8, 1024),
              help="Image side in pixels (grayscale, square).")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
              help="Seed of hold-out split and estimators.")
@click.option("--dedupe", "dedupe_data", is_flag=True,
              help="Drop pixel-identical copies first (test images also in train, repeats within a split); "
                   "in memory only, files are never changed.")
@_GROUPS
@_FORMAT
@_LABEL_MAP
@_FIT_NJOBS
@click.option("--backend", type=click.Choice(_BACKENDS), default="local", show_default=True,
              help="dask, ray: decode, extract features and accumulate the classifier's sums on Dask or Ray "
                   "workers, in chunks of paths (class-folder trees with train/test, --clf svm --param "
                   "backend=approx or --clf ridge).")
@_SCHEDULER
@click.option("--feature-store", default=None, metavar="DIR", callback=_not_empty,
              help="Fit out of core on this machine: features go chunk by chunk to a memory-mapped array "
                   "under DIR (resumable, reused for the same files and extractor).")
@click.option("--chunk-size", default=4096, show_default=True, type=click.IntRange(min=1),
              help="Files per chunk of --backend dask/ray and --feature-store.")
@_JSON
@click.pass_context
def fit(ctx, data, features, clf, params, block_scaling, block_weights, preprocess, flip, mirror_kernel, kernel_shift,
        sampler, crop, margin, align, out, size, seed, dedupe_data, groups, model_format, label_map, n_jobs, backend,
        scheduler, feature_store, chunk_size, as_json) -> None:
    """Fit a model on the train split, report test scores and save it."""
    from .data._prefetch import decoding_ahead

    local = backend == "local" and feature_store is None  # else the workers or chunks decode
    _refuse_unused_chunk_size(not local, "--backend dask/ray or --feature-store")
    out = _out_path(ctx, out, model_format)
    # A class folder's images decode while scikit-learn is imported and the options are checked. Its scan warns
    # as _run does (one hold of the CLI's warnings for the whole block: the load's same texts are not repeated).
    with _cli_warnings(), decoding_ahead(data if local else None, size=size, label_map=label_map, n_jobs=n_jobs,
                                         crop=crop, margin=margin, align=align):
        from .workflow import _check_clf_params, fit_model

        _run(_check_clf_params, params, command_line=True)  # in fit's words (--seed), not fit_model's
        try:
            result = _run(
                fit_model, data, features=features, clf=clf, clf_params=params,
                block_scaling=block_scaling, block_weights=block_weights, preprocess=preprocess, flip=flip,
                mirror_kernel=mirror_kernel, kernel_shift=kernel_shift, sampler=sampler, size=size,
                random_state=seed, groups=groups, label_map=label_map, n_jobs=n_jobs, out=out,
                model_format=model_format, dedupe_data=dedupe_data, crop=crop, margin=margin, align=align,
                backend=backend, scheduler=scheduler, feature_store=feature_store, chunk_size=chunk_size,
                log=_logger(as_json),
                _progress=False if as_json else None,
            )
        except click.ClickException as exc:  # max_depth=None refused as the text 'None': say which JSON to write
            exc.message += _json_advice(params, exc.message)
            raise
    if as_json:
        click.echo(output_json(result.summary()))
        return
    held = " (held-out split of the training images)" if result.held_out else ""
    click.echo(f"train {result.n_train} images, test {result.n_test} images{held}")
    click.echo(f"seconds: {_seconds(result.timings)}")
    from .evaluation import format_metrics

    click.echo(format_metrics(result.metrics))
    click.echo(f"model saved to {one_line(str(result.path))}")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--data", required=True, metavar="PATH", callback=_not_empty, help=_DATA_HELP + ".")
@_SPLIT
@click.option("--report", default=None, metavar="DIR",
              help="Write report.html (self-contained, plots embedded), metrics.json and predictions.csv "
                   "into DIR (needs matplotlib).")
@_LABEL_MAP
@_NJOBS
@click.option("--backend", type=click.Choice(_BACKENDS), default="local", show_default=True,
              help="dask, ray: decode and predict the images on Dask or Ray workers, in chunks of paths "
                   "(class-folder trees).")
@_SCHEDULER
@_TRUST
@_TRUST_TYPE
@_JSON
def evaluate(model, data, split, report, label_map, n_jobs, backend, scheduler, trust, trust_types, as_json) -> None:
    """Score MODEL on a dataset split: metrics and confusion matrix, optionally an HTML report."""
    from .evaluation import format_confusion_matrix, format_metrics
    from .persistence import load_model
    from .workflow import evaluate_model

    from ._fileio import folder_outputs
    from .evaluation import REPORT_FILES

    _check_model_outputs(model, {"--report": report, **folder_outputs("--report", report, REPORT_FILES)}, data=data,
                         dirs=("--report",))
    loaded = _run(load_model, model, trusted=trust, trusted_types=trust_types)
    result = _run(
        evaluate_model, loaded, data, split=split,
        label_map=label_map, n_jobs=n_jobs, report=report, backend=backend, scheduler=scheduler,
        _progress=False if as_json else None,
    )
    if as_json:
        click.echo(output_json(result.summary()))
        return
    click.echo(f"{result.split}: {result.n_test} images; seconds: {_seconds(result.timings)}")
    click.echo(format_metrics(result.metrics))
    click.echo("")
    click.echo(format_confusion_matrix(result.metrics))
    if result.report is not None:
        click.echo(f"report written to {one_line(str(result.report.html))} (with {result.report.metrics_json.name}, "
                   f"{result.report.predictions_csv.name})")


def _refuse_webcam_options(inputs, backend: str, scheduler: str | None, **given) -> None:
    """A usage error for what ``predict --webcam`` cannot honour: it shows a live window and writes nothing."""
    if inputs:
        raise click.UsageError("--webcam reads the camera; give no INPUT files with it.")
    if backend != "local":
        raise click.UsageError(f"--webcam shows a live window here: not with --backend {backend}.")
    if scheduler is not None:  # it ran on, and the address went unused
        raise click.UsageError(f"--webcam shows a live window here: not with --scheduler {scheduler}.")
    unused = [f"--{name}" for name, value in given.items() if value is not None]
    if unused:
        raise click.UsageError(f"{'/'.join(unused)} {'does' if len(unused) == 1 else 'do'} nothing with --webcam, "
                               "which shows a live window and writes no file and no results; leave "
                               f"{'it' if len(unused) == 1 else 'them'} out, or predict a recorded video instead.")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--annotate", default=None, metavar="OUT",
              help="Write copies with face boxes and labels drawn: a file (image, or .avi/.mp4 video) for one "
                   "input, else a folder. Files already in the folder are refused, except the copies an earlier "
                   "predict wrote there (listed in its .fer-classic-copies.jsonl), which a rerun replaces.")
@click.option("--every", default=1, show_default=True, type=click.IntRange(min=1),
              help="Videos: analyse every Nth frame.")
@click.option("--timeline", default=None, metavar="FILE.csv",
              help="Videos: write per-frame emotions with face tracks and smoothed labels as CSV.")
@click.option("--webcam", type=click.IntRange(min=0), is_flag=False, flag_value=0, default=None, metavar="[INDEX]",
              help="Live window of camera INDEX (default 0) instead of files. Needs OpenCV with GUI support "
                   "and a display (pip install opencv-python): it cannot run headless.")
@click.option("--detect", type=click.Choice(["auto", "always", "never"]), default=None,
              help="Face search (default: the model's own, fit --crop): 'auto' takes images up to twice the "
                   "model's side (48x48 models: 96x96) as face crops already and searches larger ones; 'never' "
                   "treats every image as a face crop. Other than the model's (as --yunet on a Haar model): a "
                   "warning, since faces are then cut unlike its training images.")
@click.option("--fallback", type=click.Choice(["whole", "none"]), default=None,
              help="When a searched photo shows no face: 'whole' (default) takes the whole image when it is "
                   "about the model's shape and at most 10x its side; 'none' reports 'no face'.")
@click.option("--faces", type=click.Choice(["all", "largest"]), default=None,
              help="Predict every face found (default) or only the largest.")
@click.option("--yunet", "yunet_model", default=None, metavar="FILE.onnx", callback=_not_empty,
              help="Find faces with OpenCV's YuNet DNN from this model file instead of the Haar cascade.")
@click.option("--backend", type=click.Choice(_BACKENDS), default="local", show_default=True,
              help="dask, ray: predict the files on Dask or Ray workers, in chunks of --chunk-size files (not "
                   "with --annotate or --webcam).")
@_SCHEDULER
@click.option("--chunk-size", default=256, show_default=True, type=click.IntRange(min=1),
              help="Image files per task of --backend dask/ray.")
@_TRUST
@_TRUST_TYPE
def predict(model, inputs, fmt, annotate, every, timeline, webcam, detect, fallback, faces, yunet_model,
            backend, scheduler, chunk_size, trust, trust_types) -> None:
    """Predict the expression of every face in INPUT files: images, folders (searched recursively) and videos.

    Photos are searched for faces, which are cropped the way the model's
    training images were; an image without a face gives a 'no face' result,
    an unreadable file is reported and skipped. The exit code is non-zero
    only when no input could be read, or the --timeline or an --annotate copy asked
    for could not be written (the other results are given all the same).
    """
    from .persistence import load_model
    from .prediction import format_rows_table, predict_paths, rows_csv, run_webcam

    from .prediction import annotates_one_file, annotation_outputs, annotation_targets, expand_inputs
    from .prediction._run import check_timeline

    _refuse_unused_chunk_size(backend != "local", "--backend dask/ray")
    if webcam is not None:  # before any file is checked or the camera opened: the window is its only output
        # --format table is the default: given explicitly, it asks for nothing the window does not do
        _refuse_webcam_options(inputs, backend, scheduler, annotate=annotate, timeline=timeline,
                               **{"format": fmt if fmt != "table" else None})
    _run(check_timeline, timeline)
    folder = annotate is not None and not annotates_one_file(annotate)  # one file: it is its only copy
    copies = _run(lambda: annotation_outputs(annotation_targets(expand_inputs(inputs), annotate),
                                             annotate if folder else None)) if inputs else {}
    _check_model_outputs(model, {"--timeline": timeline, "--annotate": annotate if folder else None, **copies},
                         inputs=inputs, files={"--yunet": yunet_model}, dirs=("--annotate",) if folder else (),
                         text=("--timeline",))
    if detect == "never":  # no image is searched: the search's options did nothing without a word
        for option, value in (("--fallback", fallback), ("--yunet", yunet_model)):
            if value is not None:
                _warn(f"{option} {value} does nothing with --detect never, which searches no image for a face; "
                      f"leave {option} out.")
        yunet_model = None  # not loaded either (a file that is no ONNX model failed the run)
    loaded = _run(load_model, model, trusted=trust, trusted_types=trust_types)
    params = {"detect": {"always": True, "never": False}.get(detect, detect), "faces": faces, "fallback": fallback}
    if yunet_model:
        params.update(detector="yunet", detector_model=yunet_model)
    params = {k: v for k, v in params.items() if v is not None}
    if webcam is not None:
        frames = _run(run_webcam, loaded, webcam, every=every, cropper_params=params)
        click.echo(f"{frames} frames shown", err=True)
        return
    if not inputs:
        raise click.UsageError("Give INPUT files, folders or videos (or --webcam).")
    from ._distributed import check_backend, predict_paths_chunked

    _run(check_backend, backend, scheduler)  # an address without workers, a missing Dask or Ray
    if backend != "local":
        if annotate is not None:
            raise click.UsageError(f"--annotate writes copies where the images are read: not with --backend "
                                   f"{backend}.")
        result = _run(predict_paths_chunked, loaded, inputs, backend=backend, scheduler=scheduler,
                      chunk_size=chunk_size, every=every, timeline=timeline, cropper_params=params)
    else:
        result = _run(predict_paths, loaded, inputs, every=every, annotate=annotate, timeline=timeline,
                      cropper_params=params, _progress=False if fmt != "table" else None)
    if fmt == "json":
        click.echo(output_json(result.summary(), indent=1))
    elif fmt == "csv":
        click.echo(rows_csv(result.rows, result.classes).rstrip("\n"))
    else:
        click.echo(format_rows_table(result.rows, result.classes, result.tracks))
    for path in result.annotated:
        click.echo(f"annotated: {one_line(str(path))}", err=True)
    if result.timeline is not None:
        click.echo(f"timeline written to {one_line(str(result.timeline))}", err=True)
    for path in result.not_annotated:
        click.echo(f"annotated copy not written: {one_line(str(path))} (its ERROR line says why)", err=True)
    if result.failed:
        click.echo(f"{result.failed} of {result.n_inputs} files could not be read or searched for faces (their error "
                   "rows say why)", err=True)
    if result.failed == result.n_inputs or (timeline is not None and result.timeline is None) or result.not_annotated:
        sys.exit(1)  # nothing could be read, or the timeline or a copy asked for was not written (reported)


@main.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--data", required=True, metavar="PATH", callback=_not_empty, help=_DATA_HELP + ".")
@_SPLIT
@click.option("--out", default=None, metavar="FILE.csv", help="Also write the table as CSV.")
@_LABEL_MAP
@_NJOBS
@_TRUST
@_TRUST_TYPE
@_JSON
def compare(models, data, split, out, label_map, n_jobs, trust, trust_types, as_json) -> None:
    """Score several MODELS on the same images, side by side, with McNemar's test between the best two."""
    from .workflow import compare_model_files

    result = _run(
        compare_model_files, models, data, split=split, out=out,
        label_map=label_map, n_jobs=n_jobs, trusted=trust, trusted_types=trust_types,
        _progress=False if as_json else None,
    )
    click.echo(output_json(result.summary()) if as_json else result.format())
    if out and not as_json:
        click.echo(f"table written to {one_line(out)}")


@main.command()
@click.option("--data", default=None, metavar="PATH", callback=_not_empty,
              help=_DATA_HELP + "; default: the generated synthetic faces.")
@click.option("--threshold", default=_NEAR_THRESHOLD, show_default=True, type=click.IntRange(0, 64),
              help="Near duplicates: largest Hamming distance between 64-bit DCT pHashes.")
@click.option("--duplicates-csv", default=None, metavar="FILE",
              help="Write every duplicate image (kind, group, split, label, source, hamming, dedupe action).")
@_LABEL_MAP
@_NJOBS
@_JSON
def describe(data, threshold, duplicates_csv, label_map, n_jobs, as_json) -> None:
    """Describe a dataset: class counts, sizes, modes, unreadable files, duplicates, leakage into train.

    Files are only read, never changed.
    """
    from .workflow import describe_data

    result = _run(
        describe_data, data, threshold=threshold, duplicates_csv=duplicates_csv,
        label_map=label_map, n_jobs=n_jobs,
        warn=False,  # the printed description carries the leakage warning once
        _progress=False if as_json else None,
    )
    click.echo(output_json(result.summary()) if as_json else result.format())
    if duplicates_csv and not as_json:
        click.echo(f"duplicates listed in {one_line(duplicates_csv)}")


@main.command()
@click.option("--data", default=None, metavar="PATH", callback=_not_empty,
              help=_DATA_HELP + "; default: the generated synthetic faces.")
@click.option("--features", default="hog", show_default=True, help=_FEATURES_HELP)
@click.option("--clf", default="svm", show_default=True, help=_CLF_HELP)
@_pipeline_options
@_crop_options
@click.option("--grid", default="default", show_default=True, metavar="default|FILE",
              help="Built-in grid, or a JSON/YAML file mapping parameters (clf.C, hog.orientations) to lists.")
@click.option("--cv", default="5", show_default=True,
              help="Number of stratified, grouped folds on train (data without a test split: after the hold-out "
                   "fit uses), or 'publictest' (FER2013's protocol).")
@_GROUPS
@click.option("--backend", type=click.Choice(["loky", "dask", "ray"]), default="loky", show_default=True,
              help="joblib backend running the candidates.")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="Dask scheduler / Ray address.")
@click.option("--out", default="fer_search_model.joblib", show_default=True, help="Best model file to write.")
@click.option("--results", default="cv_results.csv", show_default=True, help="CSV of all candidates, ranked.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1),
              help="Seed of folds and estimators.")
@_FORMAT
@_LABEL_MAP
@_SEARCH_NJOBS
@_JSON
@click.pass_context
def search(ctx, data, features, clf, block_scaling, block_weights, preprocess, flip, mirror_kernel, kernel_shift,
           sampler, crop, margin, align, grid, cv, groups, backend, scheduler, out, results, seed, model_format,
           label_map, n_jobs, as_json) -> None:
    """Grid-search a pipeline, refit the best, score it and save it."""
    from .data._prefetch import decoding_ahead

    log = _logger(as_json)
    with _cli_warnings(), decoding_ahead(data, n_jobs=n_jobs, label_map=label_map, crop=crop, margin=margin,
                                         align=align):  # its scan warns as _run does: see fit
        from .model_selection import search_model

        result = _run(
            search_model, data, features=features, clf=clf, block_scaling=block_scaling,
            block_weights=block_weights, preprocess=preprocess, flip=flip, mirror_kernel=mirror_kernel,
            kernel_shift=kernel_shift, sampler=sampler, grid=grid, cv=cv,
            groups=groups, random_state=seed, label_map=label_map, n_jobs=n_jobs, backend=backend, scheduler=scheduler,
            out=_out_path(ctx, out, model_format), model_format=model_format,
            results_csv=results, verbose=0 if as_json else 2, crop=crop, margin=margin, align=align, log=log,
            _progress=False if as_json else None,
        )
    from .evaluation import format_metrics

    summary = result.summary()
    if as_json:
        click.echo(output_json(result.summary()))
        return
    click.echo(f"{'rank':>4}  {'cv score (mean ± std)':>21}  {'worst fold':>10}  params")
    for row in summary["ranking"]:
        click.echo(f"{row['rank']:>4}  {row['score']:>12.4f} ± {row['std']:.4f}  {row['worst']:>10.4f}  "
                   f"{row['params']}")
    click.echo(f"seconds: {_seconds(result.timings)}")
    click.echo(f"best model on {result.test_split}:")
    click.echo(format_metrics(result.metrics))
    click.echo(f"model saved to {one_line(str(result.path))}; all candidates in {one_line(results)}")


@main.command("report-search")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--data", required=True, metavar="PATH", callback=_not_empty,
              help="The dataset searched (the images the search trained on are used: its train split, less "
                   "the test the search held out); 'synthetic' for the generated faces.")
@click.option("--out", "out_dir", default="search_report", show_default=True,
              help="Folder for the plots and curves.json.")
@click.option("--param", default=None, help="Parameter of the validation curve (default: the first one searched).")
@click.option("--values", default=None, metavar="V1,V2,...", callback=_values_option,
              help="Its values (default: the searched ones); a JSON list for values holding commas "
                   "('[{\"happy\": 2, \"sad\": 1}, \"balanced\"]').")
@click.option("--cv", default=3, show_default=True, type=click.IntRange(min=2), help="Cross-validation folds.")
@_CURVE_NJOBS
@_TRUST
@_TRUST_TYPE
def report_search_command(model, data, out_dir, param, values, cv, n_jobs, trust, trust_types) -> None:
    """Learning curve and validation curve of a model saved by 'search'."""
    from .model_selection import report_search
    from .persistence import load_model

    from ._fileio import folder_outputs
    from .model_selection import CURVE_FILES

    _check_model_outputs(model, {"--out": out_dir, **folder_outputs("--out", out_dir, CURVE_FILES)}, data=data,
                         dirs=("--out",))
    loaded = _run(load_model, model, trusted=trust, trusted_types=trust_types)
    summary = _run(report_search, loaded, data, out_dir, param=param, values=values, cv=cv, n_jobs=n_jobs)
    for name, path in summary["files"].items():
        click.echo(f"{name}: {one_line(str(path))}")


#: The backbones of ``fer_classic.features.BACKBONES``, repeated so that --help imports no NumPy
#: (tests/test_deep.py checks they agree).
_BACKBONES = ("vgg16", "vgg19")


@main.command("download-weights")
@click.argument("backbone", type=click.Choice(_BACKBONES))
def download_weights_command(backbone) -> None:
    """Download BACKBONE's ImageNet weights into Keras' cache (~/.keras/models), checked against Keras' MD5.

    The one fer-classic command that uses the network: --features vgg16/vgg19 only read that cache.
    """
    from .features import download_imagenet_weights

    click.echo(_run(download_imagenet_weights, backbone))


@main.command("inspect")
@click.argument("model", type=click.Path(dir_okay=False))
@_TRUST_TYPE
@_JSON
def inspect_command(model, trust_types, as_json) -> None:
    """Show what MODEL holds (metadata, checksum, origin, types to trust) without running code from it.

    With --json, ``metadata`` is the file's own (its ``classes`` sorted, as
    scikit-learn's ``classes_``); ``classes`` gives them in the order every
    table, report and score column shows them.
    """
    from .persistence import format_model_info, inspect_model

    info = _run(inspect_model, model, trusted_types=trust_types)
    if as_json:
        # A stranger's metadata may hold NaN or infinity, which JSON has no word for: null, as every --json.
        click.echo(output_json(info, indent=1))
        return
    click.echo(_run(format_model_info, info))


#: The exit code of a command ended by SIGTERM, as a shell reports a process it killed.
_SIGTERM_EXIT = 128 + signal.SIGTERM


def _sigterm(signum, frame) -> None:
    # Raised in the main thread where it runs: `with` blocks and `finally` clauses unwind (a TemporaryDirectory
    # of cached features, a write's temporary) as they do on Ctrl-C. The default action killed at once and
    # left them. A second SIGTERM while unwinding kills at once, as the user (or Slurm) then wants.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise SystemExit(_SIGTERM_EXIT)


def _unwind_on_sigterm() -> tuple[bool, object]:
    """Install :func:`_sigterm` for SIGTERM: (whether it was, the previous handler to put back)."""
    try:
        return True, signal.signal(signal.SIGTERM, _sigterm)
    except (ValueError, OSError):  # not the main thread (an embedding program): leave signals to it
        return False, None


def _stop_worker_processes() -> None:
    """End the worker processes (joblib's loky pool) an interrupted command leaves, before the exit handlers.

    The usual exit stops loky's pool in Python's thread teardown, which the
    interrupted exit skips (see :func:`run`); multiprocessing's exit handler
    would then wait for the idle workers forever (a ``kill PID`` during a
    search's refit hung), and a worker still starting printed its traceback
    on stdout.
    """
    import multiprocessing

    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=2)
        if child.is_alive():
            try:
                child.kill()
            except AttributeError:  # loky's Popen has terminate() only
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            child.join(timeout=2)


def run() -> None:
    """The ``fer-classic`` command: :func:`main`, then an exit without Python's own teardown.

    Tearing down the interpreter (about 1,800 modules of scikit-learn, SciPy
    and Numba) took 0.5 s of a 5 s ``fit`` (measured: median of 5 runs each
    way). Once the command has returned, only that teardown is skipped: the
    exit handlers still run (logging, worker pools, Dask and Ray sessions,
    temporary folders) and the output is flushed. A process that still runs
    other threads exits the usual way, unless the command was interrupted.

    Ctrl-C exits with 130 (128 + 2), as a shell reports an interrupted
    command. SIGTERM (``timeout``, Slurm, ``docker stop``) ends a command as
    Ctrl-C does: the work unwinds, so temporary folders and files are
    removed, and the exit code is 143 (128 + 15). A second SIGTERM kills at
    once.
    """
    import atexit
    import threading

    global _COLLECTOR_PAUSED
    # OpenCV's and FFmpeg's own lines ("imdecode_(''): can't read header", "moov atom not found") repeat,
    # unasked, what the commands report of a file they cannot read. Read when OpenCV is first imported
    # and when the first video opens (both inside the commands), so that a value the user set still wins.
    # Here, not in main: a program calling the commands in-process keeps its own environment (and OpenCV's).
    os.environ.setdefault("OPENCV_LOG_LEVEL", "OFF")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    # Warnings outside _run (joblib's teardown in the exit handlers) showed as Python's file:line and source line.
    warnings.showwarning = _show_warning
    # A command imports scikit-learn, SciPy and more before its work starts (about 1 s). Those
    # imports create hundreds of thousands of objects and no garbage cycles, and the cyclic
    # collector scanned them over and over: the imports take 0.06 s less without it, the whole
    # 6,436-image fit 0.08-0.2 s less (medians of 8 alternating runs, twice). _run turns it back
    # on before the command's work.
    gc.disable()
    _COLLECTOR_PAUSED = True
    installed, previous = _unwind_on_sigterm()
    try:
        main()
        code = 0
    except SystemExit as exc:  # how click ends every command
        code = exc.code
    finally:
        if installed and previous is not None:  # None: a handler set outside Python, which cannot be put back
            signal.signal(signal.SIGTERM, previous)
    if code == _SIGTERM_EXIT:
        click.echo("Terminated (SIGTERM).", err=True)
    # Other threads (a Dask client, a caller's) are waited for by the usual exit; but an interrupted command may
    # leave joblib's threads inside OpenCV's C++ code, and Python's teardown then kills them with an unwinding
    # that OpenCV's catch (...) swallows: glibc aborts (SIGABRT, a core dump). os._exit leaves them be.
    if threading.active_count() > 1 and code not in (_SIGINT_EXIT, _SIGTERM_EXIT):
        sys.exit(code)
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)  # what sys.exit("message") prints
        code = 1
    if code in (_SIGINT_EXIT, _SIGTERM_EXIT):
        _stop_worker_processes()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: started with that descriptor closed (`>&-`), nothing was written
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing left to deliver
            pass
    os._exit(code)
