"""Out of core on one machine: features in a memory-mapped store, the approximate SVM fitted from it in blocks."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import tree_digest
from fer_classic import load_dataset
from fer_classic.estimators import LandmarkRidgeClassifier
from fer_classic.estimators._landmark_ridge import landmark_sums, ridge_targets
from fer_classic.estimators._rbf import squared_norms
from fer_classic.exceptions import OutputPathError
from fer_classic.features._store import FeatureStore, files_fingerprint, store_key
from fer_classic.workflow import fit_model

APPROX = {"features": "hog", "clf": "svm", "clf_params": {"backend": "approx", "n_components": 60}}


def _store_dirs(root):
    return [p for p in root.iterdir() if p.is_dir()]


def _refuse_decoding(monkeypatch):
    monkeypatch.setattr("fer_classic.data._images.decode_image", lambda *a, **k: pytest.fail("an image decoded"))


def _no_store_folder(root):
    return not root.exists() or not _store_dirs(root)


def test_block_sums_fit_the_same_ridge():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(300, 5)), rng.integers(0, 3, 300)
    whole = LandmarkRidgeClassifier(n_components=40, gamma=0.2, random_state=0, class_weight="balanced").fit(X, y)
    blocks = LandmarkRidgeClassifier(n_components=40, gamma=0.2, random_state=0, class_weight="balanced")
    components = X[blocks.landmark_rows(len(X))]
    weights, targets = blocks.class_weights(np.bincount(y))[y], ridge_targets(y, 3)
    parts = [landmark_sums(X[a:a + 70], targets[a:a + 70], weights[a:a + 70], components,
                           squared_norms(components), 0.2) for a in range(0, 300, 70)]
    blocks.fit_sums(sum(parts[1:], parts[0]), classes=np.arange(3), components=components)
    np.testing.assert_allclose(blocks.coef_, whole.coef_, atol=1e-9)
    np.testing.assert_array_equal(blocks.predict(X), whole.predict(X))


def test_fit_sums_validates_parameters():
    sums = landmark_sums(np.ones((4, 2)), ridge_targets(np.array([0, 1, 0, 1]), 2), np.ones(4), np.ones((2, 2)),
                         np.full(2, 2.0), 1.0)
    with pytest.raises(ValueError, match="alpha"):
        LandmarkRidgeClassifier(alpha=-1).fit_sums(sums, classes=np.arange(2), components=np.ones((2, 2)))


@pytest.mark.parametrize("class_weight", [None, {"angry": 5.0, "surprise": 2.0}])
def test_out_of_core_fit_predicts_like_local_fit(folder_dataset, tmp_path, class_weight):
    params = {**APPROX, "clf_params": {**APPROX["clf_params"], "class_weight": class_weight}}
    local = fit_model(folder_dataset, **params)
    stored = fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **params)
    test = load_dataset(folder_dataset).select("test")
    np.testing.assert_array_equal(local.model.predict(test.images), stored.model.predict(test.images))
    np.testing.assert_allclose(local.model.pipeline.decision_function(test.X),
                               stored.model.pipeline.decision_function(test.X), atol=1e-8)


def test_store_is_reused_for_the_same_files(folder_dataset, tmp_path):
    fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **APPROX)
    lines = []
    fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, log=lines.append, **APPROX)
    assert len(_store_dirs(tmp_path / "store")) == 1
    assert any("already computed, resuming" in line for line in lines)


def test_store_resumes_an_interrupted_fill(folder_dataset, tmp_path):
    fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **APPROX)
    (folder,) = _store_dirs(tmp_path / "store")
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["done"]["1"]  # as if the run had stopped before chunk 1 was recorded
    (folder / "manifest.json").write_text(json.dumps(manifest))
    lines = []
    fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, log=lines.append, **APPROX)
    assert any(f"{manifest_chunks(folder) - 1} of {manifest_chunks(folder)} chunks" in line for line in lines)
    assert "1" in json.loads((folder / "manifest.json").read_text())["done"]


def manifest_chunks(folder):
    manifest = json.loads((folder / "manifest.json").read_text())
    return -(-manifest["n_rows"] // manifest["chunk_size"])


def test_store_key_changes_with_the_extractor(folder_dataset, tmp_path):
    fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **APPROX)
    fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **{**APPROX, "features": "lbp"})
    assert len(_store_dirs(tmp_path / "store")) == 2


def test_fingerprint_changes_when_a_file_changes(folder_dataset):
    paths = sorted(str(p) for p in folder_dataset.rglob("*.png"))
    before = files_fingerprint(paths, ["x"] * len(paths))
    with open(paths[0], "ab") as handle:
        handle.write(b"\0")
    assert files_fingerprint(paths, ["x"] * len(paths)) != before


def test_store_rejects_another_chunk_layout(tmp_path):
    key = store_key({"a": 1}, "f")
    store = FeatureStore(tmp_path, key, 10, 4)
    store.write(0, np.ones((4, 3)), np.arange(4), [], np.zeros((4, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="--chunk-size"):
        FeatureStore(tmp_path, key, 10, 5)


def test_store_reads_only_kept_rows(tmp_path):
    store = FeatureStore(tmp_path, "k", 6, 3)
    faces = np.arange(8, dtype=np.uint8).reshape(2, 2, 2)
    store.write(0, np.arange(6.0).reshape(2, 3), np.array([0, 2]), [("bad.jpg", "unreadable")], faces)
    np.testing.assert_array_equal(store.read(0), np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(store.pixels(0), faces)
    np.testing.assert_array_equal(store.kept(0), [0, 2])
    assert store.missing() == [1]


def test_out_of_core_fit_leaves_data_untouched(folder_dataset, tmp_path):
    before = tree_digest(folder_dataset)
    fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **APPROX)
    assert tree_digest(folder_dataset) == before


def test_feature_store_inside_the_data_is_refused(folder_dataset):
    with pytest.raises(Exception, match="--feature-store"):
        fit_model(folder_dataset, feature_store=folder_dataset / "train" / "store", **APPROX)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc, a folder that refuses new files")
def test_a_feature_store_where_no_folder_can_be_made_is_named_before_the_data_is_read(folder_dataset, monkeypatch):
    # What root meets with --feature-store /proc/nope: os.access lets root write anywhere.
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: True)
    monkeypatch.setattr("fer_classic.workflow._split_listing", lambda *a, **k: pytest.fail("data listed"))
    with pytest.raises(OutputPathError, match=r"--feature-store /proc/fer-classic-nope: the folder /proc does not "
                                              r"accept new files"):
        fit_model(folder_dataset, feature_store="/proc/fer-classic-nope", **APPROX)


def test_a_feature_store_without_data_asks_for_a_class_folder_tree(tmp_path):
    from fer_classic.exceptions import DatasetError

    # It said "--data None is not one".
    with pytest.raises(DatasetError, match=r"give one as --data \(the generated faces are no files\)"):
        fit_model(None, features="hog", clf="ridge", feature_store=tmp_path / "store")


def test_a_feature_store_fit_of_deep_features_is_refused_before_their_weights_are_checked(
        folder_dataset, tmp_path, monkeypatch):
    # vgg16 with --feature-store was told its ImageNet weights were missing (or began their download) first.
    monkeypatch.setattr("fer_classic.workflow.check_before_loading", lambda *a, **k: pytest.fail("weights checked"))
    with pytest.raises(ValueError, match=r"--features 'vgg16': the chunked fit .* vgg16 cannot be extracted chunk by "
                                         r"chunk"):
        fit_model(folder_dataset, features="vgg16", clf="svm", feature_store=tmp_path / "store")


RIDGE = {"features": "hog", "clf": "ridge"}


def test_chunked_fit_warns_of_undecodable_files_like_local(folder_dataset, tmp_path):
    from fer_classic.exceptions import SkippedFilesWarning

    (folder_dataset / "train" / "happy" / "zz_broken.png").write_bytes(b"not an image")
    (folder_dataset / "test" / "happy" / "zz_broken.png").write_bytes(b"not an image")
    # One warning for the test files decoded here and the training files decoded chunk by chunk.
    with pytest.warns(SkippedFilesWarning, match=r"2 of 114 files under .* could not be decoded"):
        fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **RIDGE)


@pytest.mark.filterwarnings("ignore:.*are left out:UserWarning")
def test_chunked_fit_counts_the_files_of_its_skipped_warning_like_local(folder_dataset, tmp_path, monkeypatch):
    from fer_classic.exceptions import SkippedFilesWarning

    (folder_dataset / "test" / "happy" / "zz_broken.png").write_bytes(b"not an image")
    (folder_dataset / "val" / "happy").mkdir(parents=True)
    for path in sorted((folder_dataset / "test" / "happy").iterdir())[:2]:
        (folder_dataset / "val" / "happy" / path.name).write_bytes(path.read_bytes())
    n_files = sum(path.is_file() for path in folder_dataset.rglob("*"))
    with pytest.warns(SkippedFilesWarning, match=rf"1 of {n_files} files under"):  # as load_dataset counts them
        load_dataset(folder_dataset)
    # The training files all decode; the warning comes before the model is scored and saved.
    monkeypatch.setattr("fer_classic._distributed.fit_chunked", lambda *a, **k: SimpleNamespace(skipped=()))
    monkeypatch.setattr("fer_classic.workflow.fit_score_save", lambda *a, **k: pytest.fail("saved"))
    with pytest.warns(SkippedFilesWarning, match=rf"1 of {n_files} files under"):  # the val files were not counted
        with pytest.raises(pytest.fail.Exception, match="saved"):
            fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **RIDGE)


@pytest.mark.parametrize("split", ["train", "test"])
def test_chunked_fit_refuses_a_class_folder_without_a_decodable_image_like_local(folder_dataset, tmp_path, split):
    from fer_classic.exceptions import EmptyClassError

    for path in (folder_dataset / split / "fear").iterdir():
        path.write_bytes(b"not an image")
    with pytest.raises(EmptyClassError, match=rf"Label folder .*{split}.fear: none of its \d+ images could be"):
        fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **RIDGE)


def test_an_undecodable_class_folder_of_a_relative_data_path_names_its_images(folder_dataset, tmp_path, monkeypatch):
    from fer_classic.exceptions import EmptyClassError

    for path in (folder_dataset / "test" / "fear").iterdir():
        path.write_bytes(b"not an image")
    monkeypatch.chdir(folder_dataset.parent)
    # The paths were absolute, the folder relative: "none of its 0 images ... ()".
    with pytest.raises(EmptyClassError, match=r"test.fear: none of its [1-9]\d* images could be decoded .*\(.+\)"):
        fit_model(folder_dataset.name, feature_store=tmp_path / "store", chunk_size=16, **RIDGE)


def test_chunked_fit_refuses_test_classes_without_training_images(folder_dataset, tmp_path, monkeypatch):
    from fer_classic.exceptions import EmptyClassError

    (folder_dataset / "train" / "fear").rename(tmp_path / "fear")
    _refuse_decoding(monkeypatch)
    with pytest.raises(EmptyClassError, match=r"Test images of class\(es\) \['fear'\] have no training images"):
        fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **RIDGE)


def test_chunked_fit_refuses_one_training_class_before_decoding(folder_dataset, tmp_path, monkeypatch):
    from fer_classic.exceptions import EmptyClassError

    import shutil

    for folder in (folder_dataset / "train").iterdir():
        if folder.name != "happy":
            shutil.rmtree(folder)
    for folder in (folder_dataset / "test").iterdir():
        if folder.name != "happy":
            shutil.rmtree(folder)
    _refuse_decoding(monkeypatch)  # the test split was decoded first
    with pytest.raises(EmptyClassError, match="only class 'happy'; need 2"):
        fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **RIDGE)
    assert _no_store_folder(tmp_path / "store")  # an empty store/<key>/ was left behind


def test_chunked_fit_refuses_a_class_weight_of_no_training_class_before_decoding(folder_dataset, tmp_path,
                                                                                 monkeypatch):
    _refuse_decoding(monkeypatch)
    with pytest.raises(ValueError, match="contempt"):
        fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, features="hog", clf="ridge",
                  clf_params={"class_weight": {"contempt": 2}})
    assert _no_store_folder(tmp_path / "store")


def test_a_feature_store_makes_its_folder_when_a_chunk_is_written(tmp_path):
    store = FeatureStore(tmp_path, "k", 6, 3)
    assert not store.folder.exists()  # a fit refused after opening its store left an empty folder
    store.write(0, np.ones((3, 4)), np.arange(3), [], np.zeros((3, 2, 2), np.uint8))
    assert (store.folder / "manifest.json").exists()


def test_chunked_fit_warns_of_val_images_left_out_like_local(folder_dataset, tmp_path):
    (folder_dataset / "val" / "happy").mkdir(parents=True)
    for path in sorted((folder_dataset / "test" / "happy").iterdir())[:2]:
        (folder_dataset / "val" / "happy" / path.name).write_bytes(path.read_bytes())
    with pytest.warns(UserWarning, match=r"2 images in neither the train nor the test split \(2 val\) are left out"):
        fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **RIDGE)


@pytest.mark.parametrize("chunk_size", [7, 64])
def test_chunked_fingerprint_is_the_local_one(folder_dataset, tmp_path, chunk_size):
    local = fit_model(folder_dataset, **RIDGE).model.metadata["training"]["fingerprint"]
    stored = fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=chunk_size, **RIDGE)
    assert stored.model.metadata["training"]["fingerprint"] == local
    assert local == load_dataset(folder_dataset).select("train").fingerprint()


@pytest.mark.parametrize("chunk_size", [7, 64])
def test_chunked_content_fingerprint_is_that_of_the_faces(folder_dataset, tmp_path, chunk_size):
    # It was the digest of the chunked set's blank placeholder images.
    stored = fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=chunk_size, **RIDGE)
    expected = load_dataset(folder_dataset).select("train").content_fingerprint()
    assert stored.model.metadata["training"]["content_fingerprint"] == expected


def test_evaluate_of_a_copy_of_the_training_data_warns_for_a_chunked_fit(folder_dataset, tmp_path):
    import shutil

    from fer_classic.exceptions import DataLeakageWarning
    from fer_classic.workflow import evaluate_model

    model = fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **RIDGE).model
    copy = shutil.copytree(folder_dataset, tmp_path / "copy")
    with pytest.warns(DataLeakageWarning, match="includes those 84 training images"):
        evaluate_model(model, copy, split="train")


def test_store_is_resumed_with_another_n_jobs(folder_dataset, tmp_path):
    fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, n_jobs=1, **APPROX)
    fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, n_jobs=2, **APPROX)
    assert len(_store_dirs(tmp_path / "store")) == 1


@pytest.mark.parametrize("chunk_size", [np.int64(16), 16])
def test_chunk_size_may_be_a_numpy_integer(folder_dataset, tmp_path, chunk_size):
    result = fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=chunk_size, **RIDGE)
    assert result.model.metadata["chunked_fit"]["chunk_size"] == 16


def test_another_chunk_size_on_a_store_is_refused_before_the_test_split_is_decoded(folder_dataset, tmp_path,
                                                                                   monkeypatch):
    fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **RIDGE)
    monkeypatch.setattr("fer_classic.workflow._load_listed", lambda *a: pytest.fail("test split decoded"))
    with pytest.raises(ValueError, match="use the same --chunk-size"):
        fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=32, **RIDGE)


def test_a_fit_opens_its_feature_store_once(folder_dataset, tmp_path, monkeypatch):
    import fer_classic.features._store as store_module

    opened = []
    fingerprint = store_module.files_fingerprint
    monkeypatch.setattr(store_module, "files_fingerprint", lambda *a: opened.append(1) or fingerprint(*a))

    class Stop(Exception):
        pass

    def stop(*args):
        raise Stop

    monkeypatch.setattr("fer_classic._distributed._StoreChunks", stop)
    with pytest.raises(Stop):
        fit_model(folder_dataset, feature_store=tmp_path / "store", chunk_size=16, **RIDGE)
    assert len(opened) == 1  # each opening stats every file: it was opened early to check it, then again


@pytest.mark.parametrize("damage", ["manifest", "features"])
def test_a_damaged_store_is_named_in_one_line(tmp_path, damage):
    store = FeatureStore(tmp_path, "k", 6, 3)
    store.write(0, np.ones((3, 4)), np.arange(3), [], np.zeros((3, 2, 2), np.uint8))
    if damage == "manifest":
        (store.folder / "manifest.json").write_text("{bad")
    else:
        with open(store.folder / "features.npy", "r+b") as file:
            file.truncate(100)
    with pytest.raises(ValueError, match=rf"Feature store {store.folder} is damaged \(.*\); delete that folder .* "
                                         r"or choose another --feature-store"):
        FeatureStore(tmp_path, "k", 6, 3)


@pytest.mark.parametrize("version, made_by, fix", [(1, "an older", "delete it or choose another --feature-store"),
                                                   (3, "a newer", "use that fer-classic, or choose another")])
def test_a_store_of_another_version_is_named_not_called_damaged(tmp_path, version, made_by, fix):
    store = FeatureStore(tmp_path, "k", 6, 3)
    store.write(0, np.ones((3, 4)), np.arange(3), [], np.zeros((3, 2, 2), np.uint8))
    manifest = json.loads((store.folder / "manifest.json").read_text())
    (store.folder / "manifest.json").write_text(json.dumps({**manifest, "version": version}))
    (store.folder / "pixels.npy").unlink()  # version 1 kept none: it said "damaged (pixels.npy: [Errno 2] ...)"
    with pytest.raises(ValueError, match=rf"Feature store {store.folder} was made by {made_by} fer-classic "
                                         rf"\(store version \d; this one reads version 2\); {fix}"):
        FeatureStore(tmp_path, "k", 6, 3)
