"""The ridge classifier fitted chunk by chunk (feature store, Dask): the in-memory fit's model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import RidgeClassifier

from conftest import write_folder_dataset
from fer_classic import load_dataset
from fer_classic._distributed import list_images
from fer_classic.model_selection import search_model
from fer_classic.workflow import fit_model

RIDGE = {"features": "hog", "clf": "ridge"}
#: Case → (classes kept, None: all; training images kept of some classes; clf_params).
CASES = {
    "7 classes": (None, {}, {}),
    "2 classes": (("happy", "sad"), {}, {}),
    "unbalanced, balanced weights": (None, {"angry": 3, "fear": 7}, {"class_weight": "balanced"}),
    "weights keyed by label": (None, {}, {"class_weight": {"angry": 5.0, "surprise": 2.0}}),
}
ENGINES = ("feature_store", "dask")


def _tree(root, faces, classes, kept):
    """``faces`` as a class-folder tree of ``classes``, ``kept[label]`` training images of some."""
    keep = np.ones(len(faces), dtype=bool) if classes is None else np.isin(faces.labels, classes)
    for label, n in kept.items():
        train = np.flatnonzero((faces.labels == label) & (faces.splits == "train"))
        keep[train[n:]] = False
    return write_folder_dataset(root, faces.subset(keep))


@pytest.fixture(scope="module")
def fits(tmp_path_factory, tiny_faces):
    """``fits(case, engine=None)``: ``fit_model``'s result (None: in memory) and tree, cached."""
    cache: dict = {}

    def fit(case, engine=None):
        classes, kept, params = CASES[case]
        if case not in cache:
            root = tmp_path_factory.mktemp("faces")
            cache[case] = {"tree": _tree(root, tiny_faces, classes, kept)}
        if engine not in cache[case]:
            options = {**_options(engine, tmp_path_factory.mktemp("store")), **RIDGE}
            cache[case][engine] = fit_model(cache[case]["tree"], clf_params=params, chunk_size=10,
                                            **options)
        return cache[case][engine], cache[case]["tree"]

    return fit


def _options(engine, store) -> dict:
    """``fit_model``'s options of a chunked ``engine`` (None: in memory)."""
    if engine == "dask":
        pytest.importorskip("dask.distributed")
        return {"backend": "dask"}  # a local in-process cluster
    return {"feature_store": store} if engine == "feature_store" else {}


def _ridge(result) -> RidgeClassifier:
    return result.model.pipeline[-1].estimator_


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES)
def test_chunked_ridge_predicts_like_the_in_memory_fit(fits, case, engine):
    (local, tree), (chunked, _) = fits(case), fits(case, engine)
    test = load_dataset(tree).select("test")
    np.testing.assert_array_equal(chunked.model.predict(test.images),
                                  local.model.predict(test.images))
    scores = local.model.pipeline.decision_function(test.X)
    np.testing.assert_allclose(chunked.model.pipeline.decision_function(test.X), scores,
                               rtol=1e-8, atol=1e-10 * np.abs(scores).max())


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES)
def test_chunked_ridge_has_the_in_memory_coefficients(fits, case, engine):
    local, chunked = _ridge(fits(case)[0]), _ridge(fits(case, engine)[0])
    for name in ("coef_", "intercept_"):
        expected = getattr(local, name)
        np.testing.assert_allclose(getattr(chunked, name), expected, rtol=1e-8,
                                   atol=1e-10 * np.abs(local.coef_).max(), err_msg=name)


@pytest.mark.parametrize("engine", ENGINES)
def test_chunked_ridge_is_the_in_memory_model_object(fits, engine):
    local, chunked = _ridge(fits("2 classes")[0]), _ridge(fits("2 classes", engine)[0])
    assert isinstance(chunked, RidgeClassifier) and chunked.get_params() == local.get_params()
    assert sorted(vars(chunked)) == sorted(vars(local))
    for name, value in vars(local).items():
        assert np.shape(getattr(chunked, name)) == np.shape(value), name
    state = lambda binarizer: {k: (np.asarray(v).dtype, np.asarray(v).tolist())  # noqa: E731
                               for k, v in vars(binarizer).items()}
    assert state(chunked._label_binarizer) == state(local._label_binarizer)


def test_listing_reads_usage_named_split_folders_as_loading_does(tmp_path, tiny_faces):
    import cv2

    for i, name in enumerate(["Training", "PublicTest", "PrivateTest"]):
        (tmp_path / name / "happy").mkdir(parents=True)
        cv2.imwrite(str(tmp_path / name / "happy" / f"{i}.png"), tiny_faces.images[i])
    listed, loaded = list_images(tmp_path), load_dataset(tmp_path)
    assert sorted(zip(listed.splits, listed.usages)) == sorted(zip(loaded.splits, loaded.usages))
    assert sorted(listed.usages) == ["PrivateTest", "PublicTest", "Training"]  # the listing read name prefixes only


def test_listing_without_a_split_names_the_splits_present_as_loading_does(tmp_path, tiny_faces):
    from fer_classic.exceptions import DatasetError

    tree = write_folder_dataset(tmp_path / "faces", tiny_faces)
    with pytest.raises(DatasetError) as loaded:
        load_dataset(tree).select("val")
    with pytest.raises(DatasetError, match="its splits are: test, train") as listed:
        list_images(tree).select("val")
    assert str(listed.value) == str(loaded.value)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_chunk_of_undecodable_files_is_skipped(tmp_path, tiny_faces, engine):
    tree = write_folder_dataset(tmp_path / "faces", tiny_faces)
    train = list_images(tree).select("train")
    for path in train.paths[10:20]:  # all of the second chunk
        Path(path).write_bytes(b"not an image")
    result = fit_model(tree, chunk_size=10, **_options(engine, tmp_path / "store"), **RIDGE)
    assert result.n_train == len(train) - 10


@pytest.mark.parametrize("case", ["unbalanced, balanced weights", "weights keyed by label"])
def test_the_class_weight_cases_are_weighted(fits, case):
    weighted, tree = fits(case)
    unweighted = fit_model(tree, **RIDGE)
    assert not np.allclose(_ridge(unweighted).intercept_, _ridge(weighted).intercept_)


@pytest.mark.parametrize("clf, params", [("ridge", {}), ("svm", {"backend": "approx"})])
def test_a_class_weight_key_that_is_no_label_fails_before_the_features(folder_dataset, tmp_path, monkeypatch,
                                                                       clf, params):
    from fer_classic.features import HOGFeatures

    monkeypatch.setattr(HOGFeatures, "transform", lambda self, X: pytest.fail("features were extracted"))
    with pytest.raises(ValueError, match="class_weight names 'hapy', not a class of the training data"):
        fit_model(folder_dataset, features="hog", clf=clf, clf_params={**params, "class_weight": {"hapy": 2.0}},
                  feature_store=tmp_path / "store", chunk_size=10)


@pytest.mark.parametrize("clf, params, match", [
    ("logreg", {}, "--clf 'logreg'.*--clf svm --param backend=approx.*--clf ridge"),
    ("ridge", {"positive": True}, "--clf 'ridge'.*no positive=true"),
    # An array: scikit-learn < 1.9 refuses a list of alphas itself (its constraint is np.ndarray).
    ("ridge", {"alpha": np.array([1.0, 2.0])}, "--clf 'ridge'.*one alpha"),
    ("ridge", {"solver": "lbfgs"}, "--clf ridge: .*lbfgs"),  # found by a fit on two rows, before any file
])
def test_other_classifiers_are_refused_naming_the_options(folder_dataset, tmp_path, clf, params,
                                                          match):
    with pytest.raises(ValueError, match=match):
        fit_model(folder_dataset, features="hog", clf=clf, clf_params=params,
                  feature_store=tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_ridge_grid_search_in_memory(tiny_faces):
    result = search_model(tiny_faces, features="hog", clf="ridge",
                          grid={"clf__estimator__alpha": [1.0, 100.0]}, cv=2)
    assert result.best_params["clf__estimator__alpha"] in (1.0, 100.0)


def test_chunked_ridge_model_file_loads_without_trust(fits, tmp_path):
    pytest.importorskip("skops.io")
    from fer_classic import load_model, save_model

    result, tree = fits("2 classes", "feature_store")
    loaded = load_model(save_model(result.model, tmp_path / "ridge.skops"))
    test = load_dataset(tree).select("test")
    np.testing.assert_array_equal(loaded.predict(test.images), result.model.predict(test.images))
