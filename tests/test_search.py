import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from fer_classic.cli import main
from fer_classic.exceptions import DatasetError
from fer_classic.model_selection import default_grid, load_grid, search_model, subject_groups

SMALL_GRID = {"clf__estimator__C": [0.01, 1.0]}


@pytest.fixture(scope="module")
def fer_like(tiny_faces):
    """tiny_faces with FER2013's halves: test split cut into PublicTest and PrivateTest."""
    usages = tiny_faces.usages.copy()
    test_idx = np.flatnonzero(tiny_faces.splits == "test")
    usages[test_idx[::2]], usages[test_idx[1::2]] = "PublicTest", "PrivateTest"
    from fer_classic.data import FaceDataset
    return FaceDataset(tiny_faces.images, tiny_faces.labels, tiny_faces.splits, usages, tiny_faces.sources,
                       "fer-like")


def test_default_grid_names_pipeline_parameters():
    grid = default_grid("hog", "svm", tune_features=True)
    assert "clf__estimator__C" in grid and grid["features__pixels_per_cell"] == [(6, 6), (8, 8)]


def test_default_grid_for_combined_features_names_each_extractor():
    assert "features__lbp__R" in default_grid("hog+lbp", "logreg", tune_features=True)


@pytest.mark.parametrize("suffix, text", [
    (".json", '{"clf.C": [1, 2], "hog.orientations": [6, 9]}'),
    (".yaml", "clf.C: [1, 2]\nhog.orientations: [6, 9]\n"),
])
def test_grid_files_use_short_names(tmp_path, suffix, text):
    path = tmp_path / f"grid{suffix}"
    path.write_text(text)
    assert load_grid(path, "hog") == {"clf__estimator__C": [1, 2], "features__orientations": [6, 9]}


def test_grid_file_with_unknown_step_is_an_error(tmp_path):
    path = tmp_path / "grid.json"
    path.write_text('{"sift.size": [1]}')
    with pytest.raises(ValueError, match="neither 'clf' nor one of the features"):
        load_grid(path, "hog")


@pytest.mark.parametrize("name, text, message", [
    ("g.yaml", "1: [1, 2]\n", "key 1 is not a parameter name"),
    ("g.json", '{"clf.C": [1], "clf.C": [10]}', "'clf.C' is given twice"),
    ("g.json", '{"clf.C": [1], "clf__estimator__C": [10]}', "'clf.C' and 'clf__estimator__C' both name"),
])
def test_grid_files_that_would_drop_or_garble_values_are_named(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_grid(path, "hog")


@pytest.mark.parametrize("grid", [{"memory": ["/tmp"]}, {"clf": [None]}, {"features": ["passthrough"]}])
def test_a_grid_varying_the_pipeline_itself_is_refused_before_loading(monkeypatch, grid):
    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match="names the pipeline's own parameter or a whole step"):
        search_model("/no/such/data", features="hog", clf="logreg", grid=grid)


def test_a_grid_past_the_candidate_cap_is_refused_before_any_check(monkeypatch):
    from fer_classic import model_selection

    monkeypatch.setattr(model_selection, "check_geometry", lambda *a, **k: pytest.fail("candidates checked"))
    values = [0.001 * (i + 1) for i in range(101)]
    with pytest.raises(ValueError, match=r"--grid holds 1,030,301 candidates \(101 x 101 x 101 values\); at most "
                                         r"10,000"):
        search_model("/no/such/data", features="hog", clf="logreg",
                     grid={"clf__estimator__C": values, "clf__estimator__tol": values,
                           "clf__estimator__intercept_scaling": values})


def test_a_grid_whose_count_passes_int64_is_refused(monkeypatch):
    # np.prod of four lists of 65,536 values wrapped to 0 candidates, under the cap.
    from fer_classic import model_selection

    monkeypatch.setattr(model_selection, "check_grid", lambda *a, **k: pytest.fail("values checked"))
    values = [0.001 * (i + 1) for i in range(65_536)]
    with pytest.raises(ValueError, match=r"--grid holds 18,446,744,073,709,551,616 candidates"):
        search_model("/no/such/data", features="hog", clf="logreg",
                     grid={f"clf__estimator__{name}": values for name in ("C", "tol", "intercept_scaling", "l1_ratio")})


def test_search_ranks_candidates_refits_and_saves(tmp_path, tiny_faces):
    result = search_model(tiny_faces, features="hog", clf="logreg", grid=SMALL_GRID, cv=3,
                          out=tmp_path / "m.joblib", results_csv=tmp_path / "cv.csv")
    assert len(result.cv_results) == 2 and result.path.is_file()
    assert (tmp_path / "cv.csv").read_text().startswith("params,")
    assert result.model.metadata["search"]["best_params"]


@pytest.mark.parametrize("split, step", [(True, "groups"), (False, "hold-out")], ids=["test split", "no split"])
def test_search_reports_the_seconds_of_grouping_or_holding_out(tiny_faces, split, step):
    data = tiny_faces if split else tiny_faces.with_splits(np.full(len(tiny_faces), "", dtype=object))
    result = search_model(data, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1]}, cv=2)
    other = "hold-out" if step == "groups" else "groups"
    assert list(result.timings)[:2] == ["load", step] and other not in result.timings


def test_publictest_protocol_tunes_on_public_and_reports_private(fer_like):
    result = search_model(fer_like, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1, 3]},
                          cv="publictest")
    assert result.test_split == "PrivateTest" and result.metrics["n"] == 14
    assert result.model.metadata["training"]["n_train"] == 84  # refit on train only


@pytest.mark.parametrize("usage, said", [
    ("PublicTest", r"14 PublicTest \(validation\) images .* so the validation scores, and so the parameters chosen, "
                   r"favour memorised images"),
    ("PrivateTest", r"14 PrivateTest images .* so the test score is inflated"),
])
def test_publictest_search_warns_of_a_test_image_copying_a_training_image(fer_like, usage, said):
    # The validation (PublicTest) and reported (PrivateTest) scores took in copies of training images silently.
    from fer_classic.data import FaceDataset
    from fer_classic.exceptions import DataLeakageWarning

    half = np.flatnonzero(fer_like.usages == usage)[0]
    images = fer_like.images.copy()
    images[half] = images[np.flatnonzero(fer_like.splits == "train")[0]]
    leaky = FaceDataset(images, fer_like.labels, fer_like.splits, fer_like.usages, fer_like.sources, "leaky")
    with pytest.warns(DataLeakageWarning, match=rf"leaky: 1 of the {said}.* search has no --dedupe: search on "
                                                r"fer_classic\.data\.dedupe\(dataset\)"):
        search_model(leaky, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1]},
                     cv="publictest")


def test_publictest_protocol_on_data_without_fer2013_usages_names_the_option(tiny_faces):
    with pytest.raises(DatasetError, match=r"--cv publictest \(cv='publictest'\) validates on FER2013's PublicTest "
                                           r".* has no images in split 'PublicTest'.* Give a number of folds"):
        search_model(tiny_faces, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1]},
                     cv="publictest")


def test_groups_keep_subjects_out_of_both_sides(tiny_faces):
    names = np.array([f"/x/S{i % 6}_{i}.png" for i in range(len(tiny_faces))], dtype=object)
    groups = subject_groups(names, r"S(\d+)_")
    assert sorted(set(groups)) == [str(i) for i in range(6)]


@pytest.mark.parametrize("names, pattern, after", [
    (["S1_a.png", "b.png"], r"S(\d+)_", "; fix --groups"),
    (["S1_a.png", "b_x.png"], r"S?(\d+)?_", " with its first group"),  # an optional group left out
])
def test_groups_pattern_that_does_not_match_names_the_file(names, pattern, after):
    message = f"{names[1]}: file name does not match the groups pattern {pattern!r}{after}"
    with pytest.raises(DatasetError, match=re.escape(message)):
        subject_groups(np.array(names), pattern)


@pytest.mark.parametrize("pattern, fix", [(r"(\d)", "give a --groups pattern whose first group tells the subjects"),
                                          (r"^0(\d)", "use --cv 3 or fewer folds")])
def test_too_few_groups_for_the_folds_say_what_to_change(tiny_faces, pattern, fix):
    named = tiny_faces.subset(np.arange(len(tiny_faces)))  # a copy, its own train and test splits kept
    named.sources[:] = [f"0{i % 3}_{i}.png" if pattern.startswith("^") else "a0.png" for i in range(len(named))]
    with pytest.raises(DatasetError, match=fix):
        search_model(named, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1]}, cv=5,
                     groups=pattern)


@pytest.mark.parametrize("scheduler, failure", [("tcp://127.0.0.1:1", "cannot connect"),
                                                ("tcp://h", "has no port"),
                                                ("tcp://h:70000", "the port must be a number from 1 to 65535")])
def test_an_unreachable_dask_scheduler_is_named_before_loading(monkeypatch, scheduler, failure):
    pytest.importorskip("dask.distributed")
    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match=f"--scheduler '?{scheduler}'?: {failure}"):
        search_model("/no/such/data", features="hog", clf="logreg", grid={"clf__estimator__C": [1]},
                     backend="dask", scheduler=scheduler)


def test_grouped_search_runs(tiny_faces):
    data = tiny_faces.subset(np.arange(len(tiny_faces)))
    data = type(data)(data.images, data.labels, data.splits, data.usages,
                      np.array([f"S{i % 4}_{i}.png" for i in range(len(data))], dtype=object), "grouped")
    result = search_model(data, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1]},
                          cv=4, groups=r"S(\d+)_")
    assert len(result.cv_results[0]) > 0


def test_dask_backend_finds_the_same_best_params(tiny_faces):
    pytest.importorskip("dask.distributed")
    from dask.distributed import LocalCluster
    grid = {"clf__estimator__C": [0.001, 0.1, 10.0]}
    local = search_model(tiny_faces, features="hog", clf="logreg", grid=grid, cv=3)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        remote = search_model(tiny_faces, features="hog", clf="logreg", grid=grid, cv=3,
                              backend="dask", scheduler=cluster.scheduler_address, n_jobs=2)
    assert remote.best_params == local.best_params
    np.testing.assert_allclose([r["mean_test_score"] for r in remote.cv_results],
                               [r["mean_test_score"] for r in local.cv_results])


def test_search_cli_prints_ranking_and_writes_results(tmp_path, folder_dataset):
    grid = tmp_path / "grid.json"
    grid.write_text('{"clf.C": [0.1, 1.0]}')
    result = CliRunner().invoke(main, ["search", "--data", str(folder_dataset), "--clf", "logreg", "--grid", str(grid),
                                       "--cv", "3", "--out", str(tmp_path / "m.joblib"),
                                       "--results", str(tmp_path / "cv.csv"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [row["rank"] for row in summary["ranking"]] == sorted(row["rank"] for row in summary["ranking"])
    assert (tmp_path / "cv.csv").is_file()


def test_search_cli_block_scaling_builds_and_records_a_block_scaled_union(tmp_path, folder_dataset):
    from fer_classic import load_model
    from fer_classic.features import BlockScaledUnion
    out = tmp_path / "m.joblib"
    result = CliRunner().invoke(main, ["search", "--data", str(folder_dataset), "--features", "hog+lbp",
                                       "--clf", "logreg", "--block-scaling", "--grid", str(_grid(tmp_path)),
                                       "--cv", "3", "--out", str(out), "--results", str(tmp_path / "cv.csv")])
    assert result.exit_code == 0, result.output
    model = load_model(out)
    assert isinstance(model.pipeline["features"], BlockScaledUnion)
    assert model.metadata["search"]["block_scaling"] is True


def _grid(tmp_path):
    path = tmp_path / "grid.json"
    path.write_text('{"clf.C": [0.1, 1.0]}')
    return path


def test_search_cli_help():
    assert "publictest" in CliRunner().invoke(main, ["search", "--help"]).output


def test_report_search_writes_both_curves(tmp_path, tiny_faces):
    model_path = tmp_path / "m.joblib"
    search_model(tiny_faces, features="hog", clf="logreg", grid=SMALL_GRID, cv=3, out=model_path)
    result = CliRunner().invoke(main, ["report-search", str(model_path), "--data", "synthetic", "--out",
                                       str(tmp_path / "r"), "--cv", "2"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"learning_curve.png", "validation_curve.png", "curves.json"}
    assert json.loads((tmp_path / "r" / "curves.json").read_text())["validation"]["x"] == [0.01, 1.0]


@pytest.fixture(scope="module")
def small_faces():
    """Six train and two test faces per class, 24x24: fast enough for report-search's many fits."""
    from fer_classic.data import make_synthetic_faces
    return make_synthetic_faces(6, 2, size=24, random_state=1)


@pytest.mark.parametrize("values, expected", [
    ([1.0, np.inf], [1.0, "inf"]),  # a YAML grid's .inf: recorded as inf, which literal_eval refused
    ([np.float64(1.0), np.float64(2.0)], [1.0, 2.0]),  # an API grid's NumPy scalars: 'np.float64(1.0)'
])
def test_report_search_reads_recorded_grids_holding_inf_or_numpy_scalars(tmp_path, small_faces, values, expected):
    from fer_classic.model_selection import report_search

    result = search_model(small_faces, features="pixels", clf="knn", grid={"clf__estimator__p": values}, cv=2)
    summary = report_search(result.model, small_faces, tmp_path / "r", cv=2, train_sizes=(1.0,))
    assert summary["validation"]["x"] == expected


def test_report_search_of_an_empty_grid_asks_for_the_parameter(tmp_path, small_faces):
    # Models searched before search_model refused grid={} record an empty grid.
    from fer_classic.model_selection import report_search

    result = search_model(small_faces, features="pixels", clf="knn", grid={"clf.n_neighbors": [1]}, cv=2)
    result.model.metadata["search"]["grid"] = {}
    with pytest.raises(ValueError, match="records no parameter it varied.*--param clf.C --values"):
        report_search(result.model, small_faces, tmp_path / "r", cv=2)


@pytest.mark.parametrize("flip", [False, True])
def test_report_search_of_a_step_the_model_lacks_names_its_steps(tmp_path, small_faces, flip):
    # sampler.k_neighbors of a model without a sampler listed twelve classifier parameters instead.
    from fer_classic.model_selection import report_search

    model = search_model(small_faces, features="pixels", clf="knn", grid={"clf.n_neighbors": [1]}, cv=2,
                         flip=flip).model
    with pytest.raises(ValueError, match=r"--param 'sampler\.k_neighbors': this model's pipeline has no step "
                                         r"'sampler' \(the model was fitted without --sampler; refit with it to tune "
                                         r"it\) \(its steps there: clf, features, scale\)"):
        report_search(model, small_faces, tmp_path / "r", param="sampler.k_neighbors", values=[1, 2], cv=2)


@pytest.mark.parametrize("grid, message", [
    ({}, "grid must map parameter names to non-empty lists of values"),
    ({"clf__estimator__n_neighbors": 3}, "grid must map parameter names to non-empty lists of values"),
    ({"clf__estimator__weights": "distance"}, "grid must map parameter names to non-empty lists of values"),
    ({"clf__estimator__n_neighbors": []}, "grid must map parameter names to non-empty lists of values"),
    ({"clf__estimator__n_neighbors": np.array(3)}, "grid must map parameter names to non-empty lists of values"),
    ([{"clf__estimator__n_neighbors": [1]}], "grid must map parameter names to non-empty lists of values"),
    ({"clf.n_neighbors": [1], "clf__estimator__n_neighbors": [3]}, "'clf.n_neighbors' and "
                                                                   "'clf__estimator__n_neighbors' both name"),
])
def test_a_grid_given_as_a_mapping_is_checked_as_a_grid_file(small_faces, grid, message):
    # A scalar raised TypeError, a string was searched letter by letter, a list of dicts was taken for a path.
    with pytest.raises(ValueError, match=re.escape(message)):
        search_model(small_faces, features="pixels", clf="knn", grid=grid, cv=2)


@pytest.mark.parametrize("values", [(1, 3), range(1, 4, 2), np.array([1, 3])], ids=["tuple", "range", "array"])
def test_a_grid_given_as_a_mapping_takes_short_names_and_sequences(small_faces, values):
    result = search_model(small_faces, features="pixels", clf="knn", grid={"clf.n_neighbors": values}, cv=2)
    assert set(result.best_params) == {"clf__estimator__n_neighbors"}


def test_report_search_takes_short_names_for_a_model_searched_with_flip(tmp_path, small_faces):
    from fer_classic.model_selection import report_search

    result = search_model(small_faces, features="pixels", clf="knn", flip=True, cv=2,
                          grid={"clf__estimator__n_neighbors": [1, 3]})
    summary = report_search(result.model, small_faces, tmp_path / "r", param="clf.n_neighbors", values=[1, 2],
                            cv=2, train_sizes=(1.0,))
    assert summary["validation"]["x_label"] == "estimator__clf__estimator__n_neighbors"


@pytest.mark.parametrize("options, name, expected", [
    ({"flip": True}, "clf__estimator__C", "estimator__clf__estimator__C"),
    ({"mirror_kernel": True}, "features__orientations", "features__transformer__features__orientations"),
    ({"mirror_kernel": True}, "scale__with_mean", "features__transformer__scale__with_mean"),
    ({"mirror_kernel": True}, "clf__estimator__C", "clf__estimator__C"),
])
def test_search_and_report_search_name_a_wrapped_pipeline_s_parameters_alike(options, name, expected):
    from fer_classic.model_selection import _wrapped_param_name

    assert _wrapped_param_name(name, **options) == expected


def test_report_search_shows_the_folds_whose_fit_failed(tmp_path, small_faces):
    # 3 neighbours among a learning curve's first 2 training images: every fold failed, curves.json said null,
    # and report-search exited 0 without a word.
    from conftest import write_folder_dataset

    data = write_folder_dataset(tmp_path / "faces", small_faces)
    search_model(data, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [3]}, cv=2,
                 out=tmp_path / "m.joblib")
    result = CliRunner().invoke(main, ["report-search", str(tmp_path / "m.joblib"), "--data", str(data),
                                       "--out", str(tmp_path / "r"), "--cv", "2"])
    assert result.exit_code == 0, result.output
    assert re.search(r"warning: Learning curve: fits failed \(2 training images: 2 of 2 folds", result.output)


def _subjects_of_near_copies(n_subjects=12, copies=4, seed=0):
    """Unsplit faces: each subject (S01_..) is one random face in near copies, of one of two labels."""
    from fer_classic.data import FaceDataset

    rng = np.random.RandomState(seed)
    faces = rng.randint(0, 256, size=(n_subjects, 24, 24))
    images = np.clip(np.repeat(faces, copies, axis=0) + rng.randint(-3, 4, size=(n_subjects * copies, 24, 24)),
                     0, 255).astype(np.uint8)
    labels = np.repeat(np.resize(["happy", "sad"], n_subjects), copies).astype(object)
    sources = np.array([f"S{i // copies:02d}_{i}.png" for i in range(len(images))], dtype=object)
    empty = np.full(len(images), "", dtype=object)
    return FaceDataset(images, labels, empty, empty.copy(), sources, "subjects")


def test_report_search_draws_its_curves_on_the_search_s_training_images_in_its_groups(tmp_path):
    # The curves took every image (the search's held-out test too) in plain stratified folds: a subject's
    # near copies on both sides of a fold, so 1-NN scored 1.0 where the search's grouped folds scored ~0.5.
    from fer_classic.model_selection import report_search

    data = _subjects_of_near_copies()
    result = search_model(data, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1]}, cv=2,
                          groups=r"S(\d+)_")
    summary = report_search(result.model, data, tmp_path / "r", cv=2, train_sizes=(1.0,))
    assert summary["images"] == result.model.metadata["training"]["n_train"] < len(data)
    assert summary["grouping"].startswith("subjects from --groups")
    assert max(summary["validation"]["test_mean"]) < 0.9


def test_a_class_of_one_subject_is_warned_with_grouped_folds(tiny_faces):
    # Its images sat in one validation fold, whose training part lacked the class: a score without a word.
    train = tiny_faces.select("train")
    names = np.array([f"S{9 if label == 'sad' else i % 4}_{i}.png" for i, label in enumerate(train.labels)],
                     dtype=object)
    data = type(train)(train.images, train.labels, train.splits, train.usages, names, "grouped")
    with pytest.warns(UserWarning, match=r"every image of 'sad' is of one group \(one subject\), so the fold that "
                                         r"validates on them trains without that class"):
        search_model(data, features="pixels", clf="knn", grid={"clf.n_neighbors": [1]}, cv=2, groups=r"S(\d+)_")


def test_report_search_bounds_k_nn_by_its_smallest_grouped_fold(one_large_subject, tmp_path, monkeypatch):
    # It bounded by an even split (78 of 98): k=60 failed in the fold of 51 images, a NaN point and a warning.
    from fer_classic.model_selection import report_search

    result = search_model(one_large_subject, features="pixels", clf="knn", grid={"clf.n_neighbors": [1]}, cv=5)
    monkeypatch.setattr("fer_classic.evaluation.compute_learning_curve", lambda *a, **k: pytest.fail("curves"))
    with pytest.raises(ValueError, match=r"n_neighbors=60 asks k-NN"):
        report_search(result.model, one_large_subject, tmp_path / "r", param="clf.n_neighbors", values=[60], cv=5)


def test_search_records_its_groups_pattern(tiny_faces):
    # On data with its own test split the pattern was recorded only inside the grouping's description.
    data = type(tiny_faces)(tiny_faces.images, tiny_faces.labels, tiny_faces.splits, tiny_faces.usages,
                            np.array([f"S{i % 4}_{i}.png" for i in range(len(tiny_faces))], dtype=object), "grouped")
    result = search_model(data, features="pixels", clf="knn", grid={"clf.n_neighbors": [1]}, cv=2, groups=r"S(\d+)_")
    assert result.model.metadata["search"]["groups"] == r"S(\d+)_"


@pytest.mark.parametrize("metadata, pattern", [
    ({"search": {"cv": "2", "groups": r"S(\d+)_"}, "grouping": "subjects from --groups 'S(\\d+)_' (8 subjects)"},
     r"S(\d+)_"),
    ({"search": {"cv": "2", "groups": None}, "hold_out": {"test_size": 0.2, "groups": None}}, None),
    ({"hold_out": {"test_size": 0.2, "groups": "(S..)"}, "grouping": "the dataset's subjects (3 subjects)"}, "(S..)"),
    ({"grouping": "near-duplicate clusters (0 of 9 images are copies or near copies of another and are kept with it)"},
     None),
])
def test_report_search_reads_the_search_s_groups_pattern(metadata, pattern):
    from fer_classic.model_selection import _searched_groups

    assert _searched_groups(metadata) == pattern


def test_search_with_flip_prefixes_the_grid_and_records_it(tiny_faces):
    result = search_model(tiny_faces, features="pixels", clf="logreg", flip=True, cv=2,
                          grid={"clf__estimator__C": [0.1, 1.0]})
    assert set(result.best_params) == {"estimator__clf__estimator__C"}
    assert type(result.model.pipeline).__name__ == "FlipAugmented"
    assert result.model.metadata["pipeline_options"]["flip"] is True


def test_the_searched_model_refits_without_thread_warnings(tiny_faces):
    # LogisticRegression's n_jobs does nothing (multinomial) and warns at every fit from scikit-learn 1.8;
    # k-NN's threads are still set to all cores.
    import warnings

    from sklearn.base import clone

    logreg = search_model(tiny_faces, features="pixels", clf="logreg", grid={"clf__estimator__C": [1.0]}, cv=2)
    knn = search_model(tiny_faces, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1]}, cv=2)
    train = tiny_faces.select("train")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        clone(logreg.model.pipeline).fit(train.X, train.y)
    assert knn.model.pipeline.get_params()["clf__estimator__n_jobs"] == -1


def test_more_folds_than_the_largest_class_has_images_is_a_clear_error():
    from fer_classic.data import make_synthetic_faces

    small = make_synthetic_faces(4, 1, random_state=0)
    with pytest.raises(DatasetError, match=r"--cv 5 needs a class with at least 5 training images.*--cv 4"):
        search_model(small, features="pixels", clf="knn", grid={"clf__estimator__n_neighbors": [1]}, cv=5)


@pytest.mark.parametrize("backend, scheduler, message", [
    ("loky", "tcp://127.0.0.1:8786", "--scheduler is the Dask scheduler or Ray address of --backend dask or ray"),
    ("spark", None, "backend \\(--backend\\) must be one of loky, dask, ray; got 'spark'"),
])
def test_search_backend_and_scheduler_are_checked_before_loading(monkeypatch, backend, scheduler, message):
    """--scheduler with the default loky backend was ignored; an unknown backend refused after the load."""
    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match=message):
        search_model("/no/such/data", features="hog", clf="logreg", grid={"clf__estimator__C": [1]},
                     backend=backend, scheduler=scheduler)


def test_search_checks_ray_address_before_loading(monkeypatch):
    """RAY_ADDRESS (what ray.init connects to without --scheduler) was checked only after every image was loaded."""
    pytest.importorskip("ray")
    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: pytest.fail("data loaded"))
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    with pytest.raises(ValueError, match="^RAY_ADDRESS \\(environment\\) '127.0.0.1:1': cannot connect"):
        search_model("/no/such/data", features="hog", clf="logreg", grid={"clf__estimator__C": [1]},
                     backend="ray")


def test_a_candidate_whose_values_do_not_go_together_is_named(tiny_faces):
    message = ("--grid: the candidate clf.metric='cosine', clf.algorithm='kd_tree' cannot be fitted: Metric 'cosine' "
               "not valid")
    with pytest.raises(ValueError, match=re.escape(message)):
        search_model(tiny_faces, features="pixels", clf="knn", cv=2,
                     grid={"clf.metric": ["euclidean", "cosine"], "clf.algorithm": ["kd_tree"]})


def test_a_failing_candidate_of_the_default_grid_is_not_blamed_on_a_grid_option(tiny_faces, monkeypatch):
    from fer_classic import model_selection

    monkeypatch.setitem(model_selection.DEFAULT_GRIDS, "knn", {"metric": ["cosine"], "algorithm": ["kd_tree"]})
    with pytest.raises(ValueError, match=r"^the default grid: the candidate clf.metric='cosine', clf.algorithm="
                                         r"'kd_tree' cannot be fitted: .*Give a --grid of values that suit it\.$"):
        search_model(tiny_faces, features="pixels", clf="knn", cv=2)


def test_a_fold_training_on_one_class_is_refused_before_any_fit(tiny_faces, monkeypatch):
    # Two classes, one of them one subject's: the fold validating on it trained on the other class alone.
    train = tiny_faces.select("train")
    train = train.subset(np.isin(train.labels, ["happy", "sad"]))
    names = np.array([f"S{9 if label == 'sad' else i % 4}_{i}.png" for i, label in enumerate(train.labels)],
                     dtype=object)
    data = type(train)(train.images, train.labels, train.splits, train.usages, names, "grouped")
    monkeypatch.setattr("fer_classic.model_selection.GridSearchCV", lambda *a, **k: pytest.fail("searched"))
    with pytest.raises(DatasetError, match=r"--cv 2 with subjects from --groups .*: a fold trains on images of "
                                           r"'happy' alone, as every image of 'sad' is of one group"):
        search_model(data, features="pixels", clf="knn", grid={"clf.n_neighbors": [1]}, cv=2, groups=r"S(\d+)_")


def test_too_many_folds_get_one_advice_bounded_by_groups_and_classes(tiny_faces, monkeypatch):
    # 62 groups, 12 images a class: "use --cv 62", then --cv 62 was refused for the classes.
    monkeypatch.setattr("fer_classic.model_selection.GridSearchCV", lambda *a, **k: pytest.fail("searched"))
    with pytest.raises(DatasetError, match=r"form 62 \(grouping by .*\), and the largest class has 12 of them "
                                           r"\(the folds are stratified\); use --cv 12 or fewer folds"):
        search_model(tiny_faces, features="pixels", clf="knn", grid={"clf.n_neighbors": [1]}, cv=100)


def test_too_few_groups_after_the_hold_out_say_which_images_were_counted():
    # "subjects from --groups ... (5 subjects) gives 4": counted before and after the hold-out.
    from fer_classic.data import FaceDataset, make_synthetic_faces

    faces = make_synthetic_faces(5, 0, random_state=0)
    names = np.array([f"S{i % 5}_{i}.png" for i in range(len(faces))], dtype=object)
    data = FaceDataset(faces.images, faces.labels, np.full(len(faces), "", dtype=object), faces.usages, names, "flat")
    with pytest.raises(DatasetError, match=r"but the 28 training images left beside the held-out test form 4 "
                                           r"\(grouping by subjects from --groups .* \(5 subjects\), counted before "
                                           r"the hold-out\); use --cv 4 or fewer folds"):
        search_model(data, features="pixels", clf="knn", grid={"clf.n_neighbors": [1]}, cv=5, groups=r"S(\d)_")


def test_an_unknown_classifier_without_a_grid_is_named_unknown():
    with pytest.raises(ValueError, match=r"Unknown classifier 'nope'; choose from .*knn"):
        default_grid("pixels", "nope")


def test_search_summary_and_results_give_chosen_values_as_json_values():
    # They were repr strings: "best_params": {"...n_neighbors": "1"}, and "1" again inside the CSV's JSON.
    from fer_classic.model_selection import SearchResult, _flat_results

    params = {"clf__estimator__n_neighbors": np.int64(1), "features__pixels_per_cell": (6, 6),
              "clf__estimator__C": np.inf, "clf__estimator__class_weight": None}
    rows = _flat_results({"params": [params], "mean_test_score": np.array([0.5]), "std_test_score": np.array([0.1]),
                          "rank_test_score": np.array([1]), "split0_test_score": np.array([0.5])})
    expected = {"clf__estimator__n_neighbors": 1, "features__pixels_per_cell": [6, 6], "clf__estimator__C": "inf",
                "clf__estimator__class_weight": None}
    assert json.loads(rows[0]["params"]) == expected
    metrics = {"accuracy": 0.5, "f1_weighted": 0.5, "f1_macro": 0.5, "n": 2}
    summary = json.loads(json.dumps(SearchResult(None, params, 0.5, rows, metrics, {}, "test").summary()))
    assert summary["best_params"] == expected and summary["ranking"][0]["params"] == expected


def _two_classes(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 3)), np.array(["happy", "sad"] * (n // 2))


def test_curves_warn_failed_fits_once_in_their_own_words():
    # scikit-learn's "N fits failed out of a total of M ... Below are more details" came first.
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import FitFailedWarning

    from fer_classic.evaluation import compute_learning_curve

    class NeedsSix(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            if len(X) < 6:
                raise ValueError("too few rows")
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return np.full(len(X), self.classes_[0])

    X, y = _two_classes()
    with pytest.warns(FitFailedWarning) as caught:
        compute_learning_curve(NeedsSix(), X, y, train_sizes=(4, 12), cv=2)
    assert [str(w.message).split(":")[0] for w in caught if w.category is FitFailedWarning] == ["Learning curve"]


def test_a_learning_curve_point_of_one_image_is_left_out_not_fitted():
    from sklearn.linear_model import LogisticRegression

    from fer_classic.evaluation import compute_learning_curve

    X, y = _two_classes()
    with pytest.warns(UserWarning, match=r"train_sizes gives 1 training image per fold at its smallest, too few for "
                                         r"a classifier") as caught:
        curve = compute_learning_curve(LogisticRegression(), X, y, train_sizes=(1, 12), cv=2)
    assert curve.x == [12] and not [w for w in caught if "fits failed" in str(w.message)]


@pytest.mark.parametrize("train_sizes", [(1,), (0.01, 0.02), np.array([0.01, 0.02])])
def test_a_learning_curve_of_one_image_points_only_is_refused_before_fitting(train_sizes):
    # Every point one image: scikit-learn failed all fits and raised its dump of tracebacks.
    from sklearn.linear_model import LogisticRegression

    from fer_classic.evaluation import compute_learning_curve

    X, y = _two_classes()
    with pytest.raises(ValueError, match=r"^train_sizes=\((1,|0\.01, 0\.02)\) gives at most 1 training image per fold "
                                         r"\(a fold trains on \d+ images\)"):
        compute_learning_curve(LogisticRegression(), X, y, train_sizes=train_sizes, cv=2)


def test_report_search_on_other_data_than_the_searched_warns(small_faces, tmp_path, monkeypatch):
    # Curves of a model searched on one dataset were drawn on another without a word.
    from fer_classic.data import FaceDataset
    from fer_classic.model_selection import report_search

    class Drawn(Exception):
        pass

    def drawn(*args, **kwargs):
        raise Drawn

    result = search_model(small_faces, features="pixels", clf="knn", grid={"clf.n_neighbors": [1]}, cv=2)
    other = FaceDataset(255 - small_faces.images, small_faces.labels, small_faces.splits, small_faces.usages,
                        small_faces.sources, "other-faces")
    monkeypatch.setattr("fer_classic.evaluation.compute_learning_curve", drawn)
    with pytest.warns(UserWarning, match=r"other-faces is not the data this model was searched on \(synthetic"), \
            pytest.raises(Drawn):
        report_search(result.model, other, tmp_path / "r", cv=2)


def test_a_boolean_where_a_number_is_meant_is_refused(monkeypatch):
    # JSON's true was fitted as n_neighbors=1.
    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match=r"'clf__estimator__n_neighbors', value True: a boolean where a number is "
                                         r"meant"):
        search_model("/no/such/data", features="pixels", clf="knn", grid={"clf.n_neighbors": [1, True]})


def test_a_value_given_twice_is_tried_once_with_a_warning():
    from fer_classic.model_selection import _grid_names

    with pytest.warns(UserWarning, match=r"grid: 'clf.n_neighbors' gives 1 more than once; each value is tried once"):
        assert _grid_names({"clf.n_neighbors": [1, 3, 1]}, "pixels") == {"clf__estimator__n_neighbors": [1, 3]}


def test_a_yaml_number_read_as_text_is_refused_with_how_to_write_it(tmp_path, monkeypatch):
    pytest.importorskip("yaml")
    path = tmp_path / "grid.yaml"
    path.write_text("clf.C: [1e3]\n")
    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match=r"value '1e3': .*YAML 1.1 reads 1e3 as text: write .* 1.0e\+3 .*or 1000"):
        search_model("/no/such/data", features="hog", clf="logreg", grid=path)


def test_a_bad_class_weight_in_a_grid_is_refused_before_loading(monkeypatch):
    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match=r"class_weight gives happy=-1: each weight must be a positive number"):
        search_model("/no/such/data", features="hog", clf="logreg", grid={"clf.class_weight": [{"happy": -1}]})


def test_search_gives_combined_svm_one_kernel_per_extractor_as_fit_does(tiny_faces):
    # fit set the blocks from --size; search warned that one kernel covered every column.
    result = search_model(tiny_faces, features="hog+lbp", clf="combined-svm", grid={"clf.C": [1]}, cv=2)
    assert list(result.model.pipeline.named_steps["clf"].estimator.blocks) == [1296, 360]


def test_a_combined_svm_search_varying_an_extractor_warns_instead_of_fixing_its_width(tiny_faces):
    # Blocks fixed from the default widths failed every candidate of another cell size, mid-search.
    with pytest.warns(UserWarning, match="the grid varies their parameters"):
        result = search_model(tiny_faces, features="hog+lbp", clf="combined-svm", cv=2,
                              grid={"clf.C": [1.0], "hog.pixels_per_cell": [[6, 6], [8, 8]]})
    assert result.model.pipeline.named_steps["clf"].estimator.blocks is None


def test_a_search_failing_before_its_model_is_saved_leaves_the_previous_results(tmp_path, small_faces, monkeypatch):
    from fer_classic import model_selection

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "m.joblib"))

    monkeypatch.setattr(model_selection, "fit_score_save", fail)
    (tmp_path / "cv.csv").write_text("last search's table")
    with pytest.raises(OSError, match="No space left"):
        search_model(small_faces, features="pixels", clf="knn", grid={"clf.n_neighbors": [1, 3]}, cv=2,
                     out=tmp_path / "m.joblib", results_csv=tmp_path / "cv.csv")
    assert (tmp_path / "cv.csv").read_text() == "last search's table"


def test_results_that_cannot_be_written_after_the_model_name_the_saved_model(tmp_path, small_faces, monkeypatch):
    from fer_classic import model_selection

    def full_disk(path, text):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(model_selection, "atomic_write_text", full_disk)
    with pytest.raises(OSError, match=r"--results could not be written .*the best model was saved to .*m\.joblib"):
        search_model(small_faces, features="pixels", clf="knn", grid={"clf.n_neighbors": [1, 3]}, cv=2,
                     out=tmp_path / "m.joblib", results_csv=tmp_path / "cv.csv")
    assert (tmp_path / "m.joblib").is_file()


def test_report_search_failing_to_write_a_plot_leaves_the_previous_files(tmp_path, small_faces, monkeypatch):
    import matplotlib.figure

    from fer_classic import evaluation
    from fer_classic.model_selection import report_search

    for plot in ("plot_learning_curve", "plot_validation_curve"):  # small figures: only the writing is tested
        monkeypatch.setattr(evaluation, plot, lambda curve: matplotlib.figure.Figure(figsize=(1, 1)))

    result = search_model(small_faces, features="pixels", clf="knn", grid={"clf.n_neighbors": [1, 3]}, cv=2)
    names = ("learning_curve.png", "validation_curve.png", "curves.json")
    (tmp_path / "r").mkdir()
    for name in names:
        (tmp_path / "r" / name).write_text(f"last run's {name}")
    savefig = matplotlib.figure.Figure.savefig
    calls = []

    def second_fails(self, *args, **kwargs):  # the validation curve's plot, once the learning curve's is written
        calls.append(1)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return savefig(self, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", second_fails)
    with pytest.raises(OSError, match="No space left"):
        report_search(result.model, small_faces, tmp_path / "r", cv=2, train_sizes=(1.0,), n_jobs=1)
    assert {p.name: p.read_text() for p in (tmp_path / "r").iterdir()} == {n: f"last run's {n}" for n in names}


def test_a_grid_device_without_a_gpu_is_refused_before_loading(monkeypatch):
    """cnn.device: gpu failed only after the grid's CPU candidates had trained (hours on FER2013)."""
    import types

    # A TensorFlow that sees no GPU (and costs no import): the real one may see one.
    no_gpu = types.SimpleNamespace(config=types.SimpleNamespace(list_physical_devices=lambda kind: []))
    monkeypatch.setattr("fer_classic.features._deep.import_keras", lambda *a: (no_gpu, None))
    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match=r"^--grid: the candidate cnn.device='gpu' cannot run on this machine: "
                                         r"device='gpu' but TensorFlow sees no GPU.*Drop that value from the grid"):
        search_model("/no/such/data", features="cnn", clf="svm", grid={"cnn.device": ["cpu", "gpu"]})


def test_a_grid_is_not_blamed_for_what_every_candidate_lacks(monkeypatch):
    # Uncached ImageNet weights (every candidate's) were "the candidate vgg16.device='cpu' ... Drop that value".
    from fer_classic.exceptions import MissingWeightsError

    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(MissingWeightsError) as refused:
        search_model("/no/such/data", features="vgg16", clf="logreg", grid={"vgg16.device": ["cpu", "auto"]})
    assert "--grid" not in str(refused.value) and "Drop that value" not in str(refused.value)


def test_a_grid_cuml_backend_without_cuml_is_refused_before_loading(monkeypatch):
    """clf.backend: cuml failed only after the other candidates (and their features) were fitted."""
    from fer_classic.estimators import cuml_status

    if cuml_status()[0]:
        pytest.skip("cuML is usable here")
    monkeypatch.setattr("fer_classic.model_selection.load_data", lambda *a, **k: pytest.fail("data loaded"))
    from fer_classic.exceptions import MissingDependencyError

    message = r"^--grid: the candidate clf.backend='cuml' cannot run on this machine: backend='cuml' cannot run"
    with pytest.raises(MissingDependencyError, match=message):  # it was not named when cuML is missing
        search_model("/no/such/data", features="hog", clf="svm", grid={"clf.backend": ["sklearn", "cuml"]})


def test_search_summary_gives_the_test_score_keys_of_fit_and_evaluate():
    # It gave accuracy, the F1s and "n" only: no per-class scores, FER2013 halves, interval or "n_test".
    from fer_classic.evaluation import classification_metrics
    from fer_classic.model_selection import SearchResult

    metrics = classification_metrics(["a", "b", "a", "b"], ["a", "b", "b", "b"], ["a", "b"],
                                     groups=["PublicTest", "PublicTest", "PrivateTest", "PrivateTest"], n_resamples=10)
    summary = SearchResult(None, {}, 0.5, [], metrics, {}, "test").summary()
    assert summary["n_test"] == summary["n"] == 4  # "n" kept for scripts that read it
    assert summary["accuracy_ci"] == metrics["accuracy_ci"] and summary["balanced_accuracy"] == 0.75
    assert summary["per_class"] == metrics["per_class"] and summary["confusion_matrix"] == [[1, 1], [0, 2]]
    assert summary["accuracy_by_group"] == metrics["accuracy_by_group"]
