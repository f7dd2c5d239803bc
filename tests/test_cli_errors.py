"""The command line's errors: every bad option value or missing library is one clean line, never a traceback."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import write_folder_dataset
from fer_classic.cli import main


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def flat_dataset(tmp_path, tiny_faces):
    return write_folder_dataset(tmp_path / "faces", tiny_faces)


def _clean_failure(result, message):
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert message in result.output, result.output


@pytest.mark.parametrize("args, message", [
    (["fit", "--size", "100000"], "100000 is not in the range"),
    (["fit", "--param", "C=abc"], "'C' parameter"),
    (["fit", "--param", "=3"], "NAME=VALUE"),
    (["fit", "--label-map", "foo"], "--label-map"),
    (["fit", "--label-map", "0=cat"], "--label-map"),
    (["fit", "--label-map", ","], "holds no KEY=LABEL entry"),  # was read as no map
    (["search", "--cv", "abc"], "--cv 'abc'"),
    (["search", "--cv", "1"], "2 or more"),
    (["search", "--groups", "S(\\d+_"], "not a valid regular expression"),
    (["search", "--groups", "S\\d+_"], "capturing group"),
    (["search", "--cv", "publictest", "--groups", "S(\\d+)_"], "--cv publictest validates on FER2013's PublicTest"),
    (["search", "--grid", "/no/such/grid.json"], "does not exist"),
    (["fit", "--n-jobs", "0"], "0 workers"),
    (["fit", "--seed", "-1"], "--seed"),
    (["fit", "--param", "class_weight={bad json"], "is not valid JSON"),
    (["fit", "--param", "C=1", "--param", "C=2"], "C is given twice"),
    # json kept the last of a repeated key, silently (grid files refuse it too).
    (["fit", "--param", 'class_weight={"happy": 2, "happy": 3}'], "'happy' is given twice in one JSON object"),
    # Python's JSON parser raised RecursionError in the option's callback: a traceback.
    (["fit", "--param", "C=" + "[" * 3000 + "]" * 3000], "nests lists or objects too deeply"),
])
def test_bad_option_values_are_one_clean_line(runner, tmp_path, args, message):
    result = runner.invoke(main, [*args, "--out", str(tmp_path / "m.joblib")])
    _clean_failure(result, message)


@pytest.mark.parametrize("name, fix", [
    ("n_jobs", "--n-jobs"), ("random_state", "--seed"), ("flip", "--flip"), ("views", "--mirror-kernel"),
    ("features", "--features"), ("preprocess", "--preprocess"), ("sampler", "--sampler"), ("memory", "leave it out"),
    ("image_shape", "takes the images' geometry from the data (--size)"),
])
def test_param_naming_a_pipeline_option_is_refused_before_loading(runner, tmp_path, monkeypatch, name, fix):
    # Was an "unexpected TypeError" (n_jobs, flip...) or a pipeline the model did not record (preprocess, memory).
    monkeypatch.setattr("fer_classic.workflow.load_data", lambda *a, **k: pytest.fail("data loaded first"))
    result = runner.invoke(main, ["fit", "--clf", "knn", "--param", f"{name}=1", "--out", str(tmp_path / "m.joblib")])
    _clean_failure(result, f"--param {name}=... is a pipeline option")
    assert fix in result.output and "unexpected" not in result.output
    assert "clf_params" not in result.output and "fit_model" not in result.output  # the Python API's words


@pytest.mark.parametrize("key, fix", [("estimator__views", "fit_model's mirror_kernel="),
                                      ("estimator__n_jobs", "fit_model's n_jobs="),
                                      ("estimator__random_state", "fit_model's random_state=")])
def test_a_nested_param_naming_a_pipeline_option_is_refused(key, fix):
    # local-svm's estimator__views=2 silently built a mirror-view kernel over plain features.
    from fer_classic.workflow import _check_clf_params

    with pytest.raises(ValueError, match=f"^clf_params '{key}' sets .*a pipeline option.*{fix}") as caught:
        _check_clf_params({key: 2})
    assert "--" not in str(caught.value)  # the Python API's words, no option


def test_combined_svm_blocks_are_checked_against_the_features_before_loading(runner, tmp_path, monkeypatch):
    # Refused only after the features were extracted, though --size decides the widths.
    monkeypatch.setattr("fer_classic.workflow.load_data", lambda *a, **k: pytest.fail("data loaded first"))
    result = runner.invoke(main, ["fit", "--clf", "combined-svm", "--features", "hog+lbp", "--param",
                                  "blocks=[1296,5]", "--out", str(tmp_path / "m.joblib")])
    _clean_failure(result, "give blocks=[1296, 360]")


@pytest.mark.parametrize("args, message", [
    (["--features", "pca", "--size", "12"], "more than the 144 pixels of the 12x12 images"),
    (["--param", 'class_weight={"happy": -2}'], "class_weight gives happy=-2"),
    (["--param", "backend=cuml"], "backend='cuml' cannot run"),
    (["--features", "vgg16"], "weights of vgg16 are not cached (test)"),
])
def test_options_that_alone_decide_a_failure_are_refused_before_loading(runner, tmp_path, monkeypatch, args, message):
    # Each was refused only after the images were loaded (and the features extracted, for cuML).
    from fer_classic.exceptions import MissingWeightsError

    from fer_classic.estimators._svm import cuml_status

    if "backend=cuml" in args and cuml_status()[0]:
        pytest.skip("cuML is usable here")

    def no_weights(backbone):
        raise MissingWeightsError(f"weights of {backbone} are not cached (test)")

    monkeypatch.setattr("fer_classic.features._deep._imagenet_weights", no_weights)
    monkeypatch.setattr("fer_classic.workflow.load_data", lambda *a, **k: pytest.fail("data loaded first"))
    result = runner.invoke(main, ["fit", *args, "--out", str(tmp_path / "m.joblib")])
    _clean_failure(result, message)


def test_a_feature_matrix_or_mlp_larger_than_the_memory_is_refused_before_the_work(monkeypatch):
    # --size 1024 --features pixels allocated 6.56 GiB after loading; an MLP of 10**8 units failed after features.
    from fer_classic import _resources
    from fer_classic.pipeline import make_pipeline
    from fer_classic._training import require_feature_memory, require_mlp_memory

    monkeypatch.setattr(_resources, "available_memory", lambda: 2**30)
    with pytest.raises(MemoryError, match=r"The 840 x 1,048,576 float64 features of --features pixels at --size 1024"):
        require_feature_memory("pixels", (1024, 1024), 840, flip=False, mirror_kernel=False, kernel_shift=0)
    require_feature_memory("pixels", (48, 48), 840, flip=False, mirror_kernel=False, kernel_shift=0)
    pipeline = make_pipeline("hog", "mlp", hidden_layer_sizes=[100_000_000])
    with pytest.raises(ValueError, match=r"--param hidden_layer_sizes=\[100000000\] .* give smaller layers"):
        require_mlp_memory(pipeline, "hog", (48, 48))


def test_pca_s_pixel_covariance_larger_than_the_memory_is_refused_before_the_work(monkeypatch):
    # Its exact components take the pixels' covariance: 2.1 GB at --size 128 (12.8 GB at 200), not counted.
    from fer_classic import _resources
    from fer_classic._training import require_feature_memory

    monkeypatch.setattr(_resources, "available_memory", lambda: 2**30)
    with pytest.raises(MemoryError, match=r"and pca's 16,384 x 16,384 pixel covariance\) of --features pca at "
                                          r"--size 128"):
        require_feature_memory("pca", (128, 128), 840, flip=False, mirror_kernel=False, kernel_shift=0)
    require_feature_memory("pca", (48, 48), 840, flip=False, mirror_kernel=False, kernel_shift=0)


@pytest.mark.parametrize("features, clf, match", [
    ("hog", "local-svm", r"The 20,000 x 1,296 float64 features and the 20,000 x 20,000 training kernel matrix of "
                         r"--features hog at --size 48 needs 4\.7 GiB"),
    ("hog", "combined-svm", r"and the 20,000 x 20,000 training kernel matrix of --features hog at --size 48 needs "
                            r"3\.2 GiB"),
    ("sift+hog", "local-svm", r"The 20,000 x 20,000 training kernel matrix alone \(the features of --features "
                              r"sift\+hog come on top\) needs 4\.5 GiB"),
], ids=["local-svm", "combined-svm", "features sized by a fit"])
def test_a_kernel_matrix_larger_than_the_memory_is_refused_before_the_features(monkeypatch, features, clf, match):
    # A local-svm fit too large for the machine was killed by the OS after the features (13.5 min on FER2013).
    from fer_classic import _resources
    from fer_classic._training import require_feature_memory
    from fer_classic.pipeline import make_pipeline

    monkeypatch.setattr(_resources, "available_memory", lambda: 2**30)
    with pytest.raises(MemoryError, match=match + r".*\(--clf svm --param backend=approx\)"):
        require_feature_memory(features, (48, 48), 20_000, flip=False, mirror_kernel=False, kernel_shift=0,
                               pipeline=make_pipeline(features, clf))


def test_a_classifier_without_a_kernel_matrix_adds_nothing_to_the_feature_memory(monkeypatch):
    from fer_classic import _resources
    from fer_classic._training import require_feature_memory
    from fer_classic.pipeline import make_pipeline

    monkeypatch.setattr(_resources, "available_memory", lambda: 20_000 * 1_296 * 8)  # the features exactly
    require_feature_memory("hog", (48, 48), 20_000, flip=False, mirror_kernel=False, kernel_shift=0,
                           pipeline=make_pipeline("hog", "knn"))


@pytest.mark.parametrize("command", ["fit", "search"])
def test_the_commands_refuse_a_kernel_matrix_larger_than_the_memory_before_the_features(
        monkeypatch, flat_dataset, command):
    from fer_classic import _training, features

    monkeypatch.setattr(_training, "kernel_matrix_bytes", lambda pipeline, n_rows: 2**60)  # no machine has it
    monkeypatch.setattr(features.HOGFeatures, "transform", lambda *a, **k: pytest.fail("features computed first"))
    result = CliRunner().invoke(main, [command, "--data", str(flat_dataset), "--features", "hog", "--clf",
                                       "local-svm"])
    _clean_failure(result, "training kernel matrix of --features hog at --size 48 needs")


def test_the_feature_memory_of_mirror_views_counts_them_in_float32(monkeypatch):
    from fer_classic import _resources
    from fer_classic._training import require_feature_memory

    # Six views of 1,000 x 100,000 pixels: 0.8 GB float64 + 2.4 GB float32 (counted 4.8 GB in float64, refused).
    monkeypatch.setattr(_resources, "available_memory", lambda: 4 * 10**9)
    require_feature_memory("pixels", (100, 1000), 1000, flip=False, mirror_kernel=True, kernel_shift=1)


def test_label_map_warning_is_one_line_naming_the_option(runner, tmp_path, monkeypatch):
    # Was Python's own "cli.py:93: LabelMergeWarning: ..." and the source line (parsed outside _run).
    monkeypatch.setattr("fer_classic.workflow.load_data", lambda *a, **k: pytest.fail("data loaded"))
    result = runner.invoke(main, ["fit", "--label-map", "0=happy,1=happiness", "--param", "n_jobs=1",  # stops it
                                  "--out", str(tmp_path / "m.joblib")])
    assert "warning: --label-map: Label map entries fold into one label" in result.output
    assert "LabelMergeWarning" not in result.output and "parse_label_map" not in result.output


def test_a_grid_over_the_candidate_cap_is_refused_before_its_values_are_checked(runner, tmp_path, monkeypatch):
    # Each value was checked first (about 1 ms each): 3 million values took an hour to be refused.
    monkeypatch.setattr("fer_classic.model_selection.check_grid", lambda *a, **k: pytest.fail("values checked"))
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"clf.n_neighbors": list(range(1, 10_002))}))  # distinct: repeats are dropped
    result = runner.invoke(main, ["search", "--clf", "knn", "--grid", str(grid), "--out", str(tmp_path / "m.joblib")])
    _clean_failure(result, "--grid holds 10,001 candidates (10001 values); at most 10,000 are searched")


def test_every_make_pipeline_keyword_is_refused_as_a_clf_param():
    import inspect

    from fer_classic.pipeline import make_pipeline
    from fer_classic.workflow import _PIPELINE_KEYWORDS

    keywords = {name for name, p in inspect.signature(make_pipeline).parameters.items() if p.kind != p.VAR_KEYWORD}
    assert keywords <= set(_PIPELINE_KEYWORDS)


@pytest.mark.parametrize("suffix, text, message", [
    (".json", '{"clf.C": [1, 10],}', "not valid JSON at line 1"),
    (".json", '{"clf.C": 10}', "non-empty lists"),
    (".yaml", "clf.C: [1, 10\n", "not valid YAML"),
    (".yaml", "clf.C: [1]\nclf.C: [2]\n", "'clf.C' is given twice (lines 1 and 2)"),  # PyYAML kept the last
    (".yaml", "clf.class_weight:\n  - {happy: 2, happy: 3}\n", "'happy' is given twice (line 2)"),
    (".json", '{"clf.Cee": [1]}', "'Cee' is not a parameter of LogisticRegression (clf__estimator)"),
    (".json", '{"clf.C": ["abc"]}', "value 'abc'"),
    # "unexpected RecursionError ... a bug in fer-classic" before.
    (".json", '{"clf.C": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests lists or mappings too deeply"),
    (".yaml", "clf.C: " + "[" * 5_000 + "]" * 5_000 + "\n", "nests lists or mappings too deeply"),
])
def test_bad_grid_files_name_the_file_and_the_fault(runner, tmp_path, suffix, text, message):
    grid = tmp_path / f"grid{suffix}"
    grid.write_text(text)
    result = runner.invoke(main, ["search", "--clf", "logreg", "--grid", str(grid),
                                  "--out", str(tmp_path / "m.joblib")])
    _clean_failure(result, message)
    if "line" in message or "YAML" in message:
        assert str(grid) in result.output


def test_grid_is_checked_before_the_data_is_loaded(runner, tmp_path, monkeypatch):
    monkeypatch.setattr("fer_classic.model_selection.load_data",
                        lambda *a, **k: pytest.fail("data loaded before the grid was checked"))
    grid = tmp_path / "grid.json"
    grid.write_text('{"clf.C": [-1]}')
    result = runner.invoke(main, ["search", "--clf", "logreg", "--grid", str(grid)])
    _clean_failure(result, "value -1")


def test_report_search_unknown_param_is_clean(runner, tmp_path, tiny_faces):
    from fer_classic.model_selection import search_model

    model = tmp_path / "s.joblib"
    search_model(tiny_faces, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1, 3]}, cv=2,
                 out=model)
    result = runner.invoke(main, ["report-search", str(model), "--data", "synthetic", "--param", "clf.Cee",
                                  "--values", "1,2",
                                  "--out", str(tmp_path / "r")])
    _clean_failure(result, "'clf__estimator__Cee' is not a parameter")


@pytest.mark.parametrize("module, args, extra", [
    ("yaml", ["search", "--clf", "logreg", "--grid", "GRID.yaml"], "fer-classic[yaml]"),
    ("dask", ["search", "--clf", "knn", "--backend", "dask"], "fer-classic[dask]"),
    ("ray", ["fit", "--clf", "ridge", "--backend", "ray"], "--backend ray needs ray"),
    ("ray", ["evaluate", "MODEL", "--data", "DATA", "--backend", "ray"], "--backend ray needs ray"),
    ("imblearn", ["fit", "--clf", "logreg", "--sampler", "smote"], "fer-classic[imbalanced]"),
    ("tensorflow", ["fit", "--features", "vgg16", "--clf", "logreg"], "fer-classic[deep]"),
    ("cuml", ["fit", "--clf", "svm", "--param", "backend=cuml"], "fer-classic[gpu]"),
    ("matplotlib", ["evaluate", "MODEL", "--data", "DATA", "--report", "REPORT"], "fer-classic[plot]"),
])
def test_missing_optional_library_names_its_extra(runner, tmp_path, monkeypatch, module, args, extra, flat_dataset):
    (tmp_path / "GRID.yaml").write_text("clf.C: [1]\n")
    if "MODEL" in args:
        from fer_classic import fit_model
        fit_model(flat_dataset, features="pixels", clf="knn", out=tmp_path / "MODEL")
    args = [str(tmp_path / a) if a in ("GRID.yaml", "MODEL", "REPORT") else a for a in args]
    args = [str(flat_dataset) if a == "DATA" else a for a in args]
    for name in list(sys.modules):
        if name == module or name.startswith(module + "."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)  # `import module` now raises ImportError
    out = [] if args[0] == "evaluate" else ["--out", str(tmp_path / "m.joblib")]
    result = runner.invoke(main, [*args, *out, *([] if "--data" in args else ["--data", str(flat_dataset)])])
    _clean_failure(result, extra)


@pytest.mark.parametrize("param, values, message", [
    ("clf.n_neighbors", "abc,2", "--values for 'clf__estimator__n_neighbors', value 'abc'"),
    ("clf.n_neighbors", "0", "value 0"),
    ("clf.n_neighbors", "[1, 0]", "value 0"),  # a JSON list reaches the same checks
    ("clf.weights", '{"a": 1, "b": 2}', "values holding commas (dicts) go in a JSON list"),
    ("clf.n_neighbors", "[1, ", "'[1, ' is not a valid JSON list"),
    ("clf.weights", '[{"a": 1, "a": 2}]', "'a' is given twice in one JSON object"),
    ("clf.n_neighbors", "[" + "[" * 3000 + "]" * 3000 + "]", "nests lists or objects too deeply"),
])
def test_report_search_values_are_checked_before_the_curves(runner, tmp_path, tiny_faces, monkeypatch, param,
                                                            values, message):
    from fer_classic.model_selection import search_model

    model = tmp_path / "s.joblib"
    search_model(tiny_faces, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1, 3]}, cv=2,
                 out=model)
    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: {}["loaded"])
    result = runner.invoke(main, ["report-search", str(model), "--data", "synthetic", "--param", param,
                                  "--values", values, "--out", str(tmp_path / "r")])
    _clean_failure(result, message)


def test_report_search_values_that_cannot_fit_are_refused_before_the_curves(runner, tmp_path, tiny_faces,
                                                                            monkeypatch):
    # Were cv failed fits each (NaN on the curve), and 20,000 values ran for hours: search refuses both.
    from fer_classic.model_selection import search_model

    model = tmp_path / "s.joblib"
    search_model(tiny_faces, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1, 3]}, cv=2,
                 out=model)
    monkeypatch.setattr("fer_classic.evaluation.compute_learning_curve", lambda *a, **k: pytest.fail("fitted"))
    args = ["report-search", str(model), "--data", "synthetic", "--param", "clf.n_neighbors",
            "--out", str(tmp_path / "r")]
    result = runner.invoke(main, [*args, "--values", "1,5000"])
    _clean_failure(result, "n_neighbors=5000 asks k-NN for more neighbours")
    assert "--values" in result.output
    monkeypatch.setattr("fer_classic.model_selection.check_grid", lambda *a, **k: pytest.fail("values checked"))
    result = runner.invoke(main, [*args, "--values", ",".join(map(str, range(1, 10_002)))])
    _clean_failure(result, "--values gives 10,001 values; at most 10,000")
    assert not (tmp_path / "r").exists()


def test_report_search_on_one_class_is_refused_before_the_curves(runner, tmp_path, tiny_faces):
    from fer_classic.model_selection import search_model

    model = tmp_path / "s.joblib"
    search_model(tiny_faces, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1, 3]}, cv=2,
                 out=model)
    one_class = write_folder_dataset(tmp_path / "happy_only", tiny_faces.subset(tiny_faces.labels == "happy"))
    result = runner.invoke(main, ["report-search", str(model), "--data", str(one_class), "--out", str(tmp_path / "r")])
    _clean_failure(result, "the curves need training images of 2 or more classes")


@pytest.mark.parametrize("cv", ["1", "0", "-2"])
def test_report_search_folds_below_two_are_refused_before_the_model_loads(runner, tmp_path, cv):
    result = runner.invoke(main, ["report-search", str(tmp_path / "absent.joblib"), "--data", "synthetic",
                                  "--out", str(tmp_path / "r"), "--cv", cv])
    assert result.exit_code == 2 and f"Invalid value for '--cv': {cv} is not in the range x>=2" in result.output
    assert not (tmp_path / "r").exists()


def test_a_warning_reaches_the_user_once_without_its_traceback(capsys):
    import warnings

    from fer_classic.cli import _run

    failed = ("2 fits failed with the following error:\nTraceback (most recent call last):\n  File \"x.py\", "
              "line 1, in fit\n    raise ValueError\nValueError: only 1 class")

    def warns_twice():
        for _ in range(2):
            warnings.warn(failed, UserWarning)

    _run(warns_twice)
    assert capsys.readouterr().err == "warning: 2 fits failed with the following error:\nValueError: only 1 class\n"


def test_an_error_reaches_the_user_without_its_traceback():
    import click

    from fer_classic.cli import _run

    failed = ("All the 3 fits failed.\nTraceback (most recent call last):\n  File \"x.py\", line 1, in fit\n"
              "    raise ValueError\nValueError: only 1 class")

    def fails():
        raise ValueError(failed)

    with pytest.raises(click.ClickException) as raised:
        _run(fails)
    assert raised.value.message == "All the 3 fits failed.\nValueError: only 1 class"


def test_unexpected_errors_are_one_line_too(runner, monkeypatch, tmp_path):
    monkeypatch.setattr("fer_classic.workflow.fit_model", lambda *a, **k: {}["boom"])
    monkeypatch.delenv("FER_CLASSIC_DEBUG", raising=False)
    result = runner.invoke(main, ["fit", "--out", str(tmp_path / "m.joblib")])
    _clean_failure(result, "unexpected KeyError")
    assert "FER_CLASSIC_DEBUG=1" in result.output


def test_help_imports_neither_numpy_nor_sklearn():
    code = ("import sys; from fer_classic.cli import main\n"
            "try:\n    main(['fit', '--help'])\nexcept SystemExit:\n    pass\n"
            "import json\n"
            "print(json.dumps(sorted(m for m in ('numpy', 'sklearn', 'scipy', 'cv2') if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_cli_sampler_choices_are_the_library_samplers():
    from fer_classic.pipeline import SAMPLERS

    option = next(p for p in main.commands["fit"].params if p.name == "sampler")
    assert sorted(option.type.choices) == sorted(SAMPLERS)


def test_cli_near_threshold_is_the_library_default():
    from fer_classic.cli import _NEAR_THRESHOLD
    from fer_classic.data import DEFAULT_NEAR_THRESHOLD

    assert _NEAR_THRESHOLD == DEFAULT_NEAR_THRESHOLD


@pytest.mark.parametrize("flag, value, key", [
    ("--preprocess", "equalize", "preprocess"),
    ("--flip", None, "flip"),
])
def test_fit_pipeline_options_reach_the_model(runner, tmp_path, flag, value, key):
    out = tmp_path / "m.joblib"
    result = runner.invoke(main, ["fit", "--clf", "logreg", flag, *([value] if value else []), "--out", str(out)])
    assert result.exit_code == 0, result.output
    from fer_classic import load_model
    assert load_model(out).metadata["pipeline_options"][key] == (value or True)


def test_fit_block_weights_reach_the_model_and_its_features(runner, tmp_path):
    out = tmp_path / "m.joblib"
    result = runner.invoke(main, ["fit", "--features", "hog+lbp", "--clf", "logreg", "--block-scaling",
                                  "--block-weight", "LBP=0.5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    from fer_classic import load_model
    model = load_model(out)
    assert model.metadata["pipeline_options"]["block_weights"] == {"lbp": 0.5}
    assert model.pipeline.named_steps["features"].transformer_weights == {"lbp": 0.5}


@pytest.mark.parametrize("command", ["fit", "search"])
@pytest.mark.parametrize("value, message", [
    ("lbp", "'lbp' is not NAME=WEIGHT"),
    ("lbp=heavy", "'lbp=heavy' is not NAME=WEIGHT"),
    ("=2", "'=2' is not NAME=WEIGHT"),
])
def test_a_block_weight_that_is_not_name_equals_number_is_refused(runner, command, value, message):
    result = runner.invoke(main, [command, "--features", "hog+lbp", "--block-scaling", "--block-weight", value])
    assert result.exit_code == 2 and message in result.output, result.output


def test_the_same_block_weighted_twice_is_refused(runner):
    result = runner.invoke(main, ["fit", "--features", "hog+lbp", "--block-scaling", "--block-weight", "lbp=1",
                                  "--block-weight", "LBP=2"])
    assert result.exit_code == 2 and "LBP is given twice" in result.output, result.output


@pytest.mark.parametrize("command", ["fit", "search"])
def test_a_block_weight_of_an_extractor_not_fitted_is_refused_before_loading(runner, tmp_path, command):
    missing = tmp_path / "no-such-data"  # refused before the data is read: the path is never looked at
    result = runner.invoke(main, [command, "--data", str(missing), "--features", "hog+lbp", "--block-scaling",
                                  "--block-weight", "sift=2"])
    assert result.exit_code == 1, result.output
    assert "no extractor of features 'hog+lbp'; name one of hog, lbp" in result.output


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="POSIX named pipes")
@pytest.mark.parametrize("command", ["predict", "describe", "inspect"])
def test_a_named_pipe_is_refused_without_hanging(tmp_path, tiny_faces, command):
    import os

    from fer_classic import fit_model

    model = tmp_path / "m.joblib"
    fit_model(tiny_faces, features="pixels", clf="knn", out=model)
    fifo = tmp_path / {"predict": "face.jpg", "describe": "d.csv", "inspect": "pipe.joblib"}[command]
    os.mkfifo(fifo)
    args = {"predict": [str(model), str(fifo)], "describe": ["--data", str(fifo)], "inspect": [str(fifo)]}[command]
    # A subprocess with a timeout: opening a FIFO for reading would block this test forever.
    result = subprocess.run([sys.executable, "-c", "from fer_classic.cli import main; main()", command, *args],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "not a regular file" in result.stdout + result.stderr and "Traceback" not in result.stderr


def test_report_search_values_may_be_a_json_list_of_dicts():
    from fer_classic.cli import _values_option

    assert _values_option(None, None, '[{"happy": 2, "sad": 1}, "balanced"]') == [{"happy": 2, "sad": 1}, "balanced"]


@pytest.mark.parametrize("command", [["fit"], ["predict", "m.joblib", "photo.png"]], ids=["fit", "predict"])
def test_a_chunk_size_without_chunks_is_refused_not_ignored(command):
    result = CliRunner().invoke(main, [*command, "--chunk-size", "5"])
    assert result.exit_code == 2 and "--chunk-size sizes the chunks of --backend dask/ray" in result.output


def test_predict_yunet_of_a_folder_says_it_is_a_folder(runner, fitted_model, tmp_path):
    # It said the file "does not exist ... or use detector='haar'", an option the command line has not.
    import cv2

    from conftest import random_gray
    from fer_classic import save_model

    model = save_model(fitted_model, tmp_path / "m.joblib")
    cv2.imwrite(str(tmp_path / "face.png"), random_gray((64, 64)))
    (tmp_path / "yunet").mkdir()
    result = runner.invoke(main, ["predict", str(model), str(tmp_path / "face.png"), "--yunet",
                                  str(tmp_path / "yunet")])
    _clean_failure(result, f"YuNet model file {tmp_path / 'yunet'} is a folder, not a file")


def test_predict_timeline_on_the_copies_list_is_refused_before_the_model_loads(runner, tmp_path, monkeypatch):
    # The clash was found only inside predict_paths, after the model had loaded.
    import cv2

    from conftest import random_gray

    monkeypatch.setattr("fer_classic.persistence.load_model", lambda *a, **k: pytest.fail("model loaded"))
    model = tmp_path / "m.joblib"
    model.write_bytes(b"not read")
    cv2.imwrite(str(tmp_path / "face.png"), random_gray((64, 64)))
    listed = tmp_path / "out" / ".fer-classic-copies.jsonl"
    result = runner.invoke(main, ["predict", str(model), str(tmp_path / "face.png"), "--annotate",
                                  str(tmp_path / "out"), "--timeline", str(listed)])
    _clean_failure(result, r"--timeline and --annotate (.fer-classic-copies.jsonl) both name")


def test_an_unexpected_eof_error_shows_its_traceback_under_fer_classic_debug(monkeypatch):
    # click's standalone main took the EOFError (np.load of a file another process had just cut short) for
    # the end of a prompt's input: "Aborted!", and no traceback despite FER_CLASSIC_DEBUG=1.
    import click
    from click.testing import CliRunner

    def body():
        raise EOFError("No data left in file")

    monkeypatch.setenv("FER_CLASSIC_DEBUG", "1")
    monkeypatch.setitem(main.commands, "step", click.command("step")(body))
    result = CliRunner().invoke(main, ["step"])
    assert result.exit_code == 1
    assert "Aborted!" not in result.output
    assert "Traceback (most recent call last)" in result.stderr and "EOFError: No data left in file" in result.stderr


def test_a_command_called_in_process_leaves_the_callers_environment_alone(monkeypatch, tmp_path):
    # main() set OPENCV_LOG_LEVEL=OFF and OPENCV_FFMPEG_LOGLEVEL=-8 in the caller's os.environ (its OpenCV silent
    # for good if not yet imported, and its child processes too); the console command (run) still sets them.
    import os

    from click.testing import CliRunner

    for name in ("OPENCV_LOG_LEVEL", "OPENCV_FFMPEG_LOGLEVEL"):
        monkeypatch.delenv(name, raising=False)
    CliRunner().invoke(main, ["predict", str(tmp_path / "missing.joblib"), str(tmp_path / "x.png")])
    assert "OPENCV_LOG_LEVEL" not in os.environ and "OPENCV_FFMPEG_LOGLEVEL" not in os.environ
