"""Optional extras: a missing one raises MissingDependencyError naming the pip extra."""

import sys

import numpy as np
import pytest

from fer_classic.estimators import SVMClassifier, cuml_status
from fer_classic.exceptions import FerClassicError, MissingDependencyError
from fer_classic.features import CNNFeatures, DeepFeatures
from fer_classic.pipeline import make_pipeline


@pytest.fixture
def without(monkeypatch):
    """Make ``import <name>`` (and its submodules) fail as if the package were not installed."""

    def hide(*names):
        for name in names:
            for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                monkeypatch.delitem(sys.modules, loaded)
            monkeypatch.setitem(sys.modules, name, None)  # import now raises ImportError

    return hide


@pytest.mark.parametrize("extractor", [DeepFeatures(weights=None, layer="block1_pool"),
                                       CNNFeatures(blocks=(2,), convs_per_block=1, epochs=1, validation_fraction=None)],
                         ids=["DeepFeatures", "CNNFeatures"])
def test_deep_features_without_tensorflow_name_the_deep_extra(without, extractor):
    without("tensorflow", "keras")
    X, y = np.zeros((4, 16 * 16), dtype=np.uint8), np.array([0, 1, 0, 1])
    with pytest.raises(MissingDependencyError, match=r"needs tensorflow.*pip install 'fer-classic\[deep\]'") as error:
        extractor.fit(X, y)
    assert isinstance(error.value, FerClassicError)  # the CLI prints it without a traceback


@pytest.mark.skipif(cuml_status()[0], reason="cuML is usable here")
def test_cuml_backend_without_cuml_names_the_gpu_extra(without):
    without("cuml")
    X, y = np.r_[np.zeros((3, 2)), np.ones((3, 2))], np.array([0, 0, 0, 1, 1, 1])
    with pytest.raises(MissingDependencyError, match=r"backend='cuml' cannot run.*pip install 'fer-classic\[gpu\]'"):
        SVMClassifier(backend="cuml").fit(X, y)


def test_sampler_without_imbalanced_learn_names_the_imbalanced_extra(without):
    without("imblearn")
    with pytest.raises(MissingDependencyError, match=r"sampler='smote'.*pip install 'fer-classic\[imbalanced\]'"):
        make_pipeline("hog", "svm", sampler="smote")


@pytest.mark.parametrize("features", ["cnn", "hog+cnn"])
def test_a_missing_tensorflow_is_named_before_loading(without, features):
    """It was named only after the data was loaded and the other extractors (HOG, SIFT's codebook) ran."""
    from fer_classic._training import check_before_loading

    without("tensorflow", "keras")
    with pytest.raises(MissingDependencyError, match=r"CNNFeatures needs tensorflow.*'fer-classic\[deep\]'"):
        check_before_loading(make_pipeline(features, "svm"), (48, 48))
