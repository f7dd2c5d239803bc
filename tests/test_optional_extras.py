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


def test_an_installed_package_that_fails_to_import_is_not_called_missing(monkeypatch):
    """imbalanced-learn 0.12 under scikit-learn 1.6 raised ImportError on import: it was called 'not installed'."""
    import importlib

    from fer_classic._optional import import_optional

    def broken(name, *args):
        raise ImportError("cannot import name 'parse_version' from 'sklearn.utils'")

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(MissingDependencyError, match=r"^--sampler smote needs imblearn, which is installed but failed "
                                                     r"to import: ImportError: cannot import name 'parse_version' "
                                                     r"from 'sklearn.utils'; .*pip install -U "
                                                     r"'fer-classic\[imbalanced\]'$"):
        import_optional("imblearn", "--sampler smote")


@pytest.mark.parametrize("module, missing", [("imblearn", "imblearn"), ("dask.distributed", "distributed"),
                                             ("tensorflow.keras", "tensorflow")])
def test_a_missing_package_or_one_of_its_extra_is_not_installed(monkeypatch, module, missing):
    import importlib

    from fer_classic._optional import import_optional

    def absent(name, *args):
        raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)

    monkeypatch.setattr(importlib, "import_module", absent)
    with pytest.raises(MissingDependencyError, match=rf"^it needs {module.split('.')[0]}, which is not installed: "):
        import_optional(module, "it")


def test_a_missing_dependency_of_an_installed_package_is_no_missing_package(monkeypatch):
    import importlib

    from fer_classic._optional import import_optional

    def needs_more(name, *args):
        raise ModuleNotFoundError("No module named 'sklearn_compat'", name="sklearn_compat")

    monkeypatch.setattr(importlib, "import_module", needs_more)
    with pytest.raises(MissingDependencyError, match=r"imblearn, which is installed but failed to import: "
                                                     r"ModuleNotFoundError: No module named 'sklearn_compat'"):
        import_optional("imblearn", "it")


def test_dask_without_distributed_is_not_installed_as_dask_words_it(monkeypatch):
    """dask.distributed re-raises distributed's ModuleNotFoundError as a plain ImportError of its own words (with
    install text): that was 'dask is installed but failed to import'."""
    from fer_classic._optional import import_optional

    pytest.importorskip("dask")

    class Uninstalled:  # what Python's import system says of a package that is not installed
        def find_spec(self, name, path=None, target=None):
            if name == "distributed":
                raise ModuleNotFoundError("No module named 'distributed'", name="distributed")

    for loaded in [m for m in sys.modules if m.split(".")[0] == "distributed" or m == "dask.distributed"]:
        monkeypatch.delitem(sys.modules, loaded)
    monkeypatch.setattr(sys, "meta_path", [Uninstalled(), *sys.meta_path])
    with pytest.raises(MissingDependencyError, match=r"^--backend dask needs dask, which is not installed: "
                                                     r"pip install 'fer-classic\[dask\]'$"):
        import_optional("dask.distributed", "--backend dask")
