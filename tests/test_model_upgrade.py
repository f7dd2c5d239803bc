"""Model files written by another fer-classic version: what loads, what warns, and what it says."""

import copy

import numpy as np
import pytest

from fer_classic import load_model, save_model
from fer_classic.exceptions import VersionMismatchWarning
from fer_classic.estimators import SVMClassifier
from fer_classic.persistence import FERModel
from fer_classic.persistence._header import _estimators


def _without_precompute_kernel(model):
    """``model`` as fer-classic before 8c43ff5 saved it: its SVMClassifier has no ``precompute_kernel``."""
    pipeline = copy.deepcopy(model.pipeline)
    svms = [estimator for estimator in _estimators(pipeline) if isinstance(estimator, SVMClassifier)]
    assert svms  # the given and the fitted one
    for svm in svms:
        del svm.precompute_kernel
    return FERModel(pipeline, model.metadata)


@pytest.mark.parametrize("file_format", ["joblib", "skops"])
def test_a_parameter_added_after_the_file_was_saved_takes_its_default(tmp_path, fitted_model, tiny_faces,
                                                                      file_format):
    path = save_model(_without_precompute_kernel(fitted_model), tmp_path / f"old.{file_format}")
    loaded = load_model(path)  # skops refused the file as damaged; joblib failed later, in get_params
    assert loaded.pipeline.get_params()["clf__estimator__precompute_kernel"] == "auto"
    repr(loaded.pipeline)
    np.testing.assert_array_equal(loaded.predict(tiny_faces.images), fitted_model.predict(tiny_faces.images))


def test_a_missing_parameter_of_another_librarys_class_is_not_filled(tmp_path, fitted_model):
    pipeline = copy.deepcopy(fitted_model.pipeline)  # a scikit-learn Pipeline: its defaults are scikit-learn's
    del pipeline.verbose
    loaded = load_model(save_model(FERModel(pipeline, fitted_model.metadata), tmp_path / "m.joblib"))
    assert "verbose" not in vars(loaded.pipeline)


def _saved_by(model, version, path):
    """``model`` saved as if by fer-classic ``version``."""
    metadata = {**model.metadata, "versions": {**model.metadata["versions"], "fer_classic": version}}
    return save_model(FERModel(model.pipeline, metadata), path)


def test_a_file_of_fer_classic_0_1_0_warns_that_predictions_may_differ(tmp_path, fitted_model):
    # 0.1.0 was the version of every commit before the crop fix d78c344: its --crop detect models cut photos
    # differently now, and only the version warning can say so.
    path = _saved_by(fitted_model, "0.1.0", tmp_path / "m.joblib")
    with pytest.warns(VersionMismatchWarning, match=r"fer_classic 0\.1\.0 \(installed .*predictions may differ"):
        load_model(path)


def test_a_file_of_a_newer_fer_classic_advises_upgrading(tmp_path, fitted_model):
    path = _saved_by(fitted_model, "99.0", tmp_path / "m.joblib")
    with pytest.warns(VersionMismatchWarning, match=r"fer_classic 99\.0 .*newer fer-classic: upgrade fer-classic"):
        load_model(path)


def test_a_file_of_an_older_fer_classic_advises_refitting(tmp_path, fitted_model):
    path = _saved_by(fitted_model, "0.0.1", tmp_path / "m.joblib")
    with pytest.warns(VersionMismatchWarning) as caught:
        load_model(path)
    (message,) = [str(warning.message) for warning in caught]
    assert message.endswith("Refit the model with the installed versions to be sure.")
    assert "upgrade" not in message
