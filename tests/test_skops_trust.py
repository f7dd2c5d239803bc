"""skops model files: trust by exact name, never by package.

* every kind of model fer-classic builds needs only names on ``TRUSTED_TYPES``
  (a new estimator forces a reviewed update of the list);
* no other callable reachable under numpy, scipy, scikit-learn or fer-classic
  passes the trust decision;
* crafted files (the ``FunctionTransformer`` chain that ran code on
  ``predict``, aliases, damaged trees) are refused and named by ``inspect``.
"""

import inspect
import re
import sys
import time
import types
import warnings

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from conftest import reseal_skops
from fer_classic import inspect_model, load_model, make_pipeline, save_model
from fer_classic.pipeline import SAMPLERS
from fer_classic.cli import main
from fer_classic.data import make_synthetic_faces
from fer_classic.estimators import compact_support_vectors
from fer_classic.features import DenseSIFTBoVW, DenseSIFTVLAD, PatchWords
from fer_classic.exceptions import ModelIntegrityError, UntrustedModelError
from fer_classic.persistence import TRUSTED_TYPES, FERModel, format_model_info, is_trusted

sio = pytest.importorskip("skops.io")


@pytest.fixture(scope="module")
def faces():
    """156 training images (PCA keeps 150 components), one class short (samplers have work to do)."""
    data = make_synthetic_faces(24, 0, random_state=3).select("train")
    keep = np.r_[np.flatnonzero(data.y != data.y[0]), np.flatnonzero(data.y == data.y[0])[:12]]
    return data.X[keep], data.y[keep]


# --- What fer-classic's own models need --------------------------------------

FAST_LOGREG = {"max_iter": 50}
_CASES = {
    "lbp/logreg": ("lbp", "logreg", FAST_LOGREG),
    "hog/svm sklearn precomputed": ("hog", "svm", {"backend": "sklearn", "precompute_kernel": True}),
    "hog/svm sklearn precomputed, compact": ("hog", "svm", {"backend": "sklearn", "compact": True}),
    "hog+sift/svm block scaling, compact": ("hog+sift", "svm", {"block_scaling": True, "compact": True}),
    "hog/svm sklearn": ("hog", "svm", {"backend": "sklearn", "precompute_kernel": False}),
    "gabor/kernel-svm": ("gabor", "kernel-svm", {}),
    "hog+lbp/combined-svm": ("hog+lbp", "combined-svm", {"blocks": [1296, 360], "kernels": ["rbf", "intersection"]}),
    "hog/local-svm": ("hog", "local-svm", {"k": 10}),
    "hog/kernel-svm one-vs-rest": ("hog", "kernel-svm", {"kernel": "rbf", "multiclass": "ovr"}),
    "hog/local-svm refine one-vs-rest": ("hog", "local-svm", {"k": 10, "mode": "refine",
                                                              "estimator__multiclass": "ovr"}),
    "hog/kernel-svm mirror kernel": ("hog", "kernel-svm", {"mirror_kernel": True, "kernel": "rbf"}),
    "hog/svm probability": ("hog", "svm", {"backend": "sklearn", "probability": True}),
    "lbp/svm approx": ("lbp", "svm", {"backend": "approx", "n_components": 20}),
    "lbp/svm approx probability": ("lbp", "svm", {"backend": "approx", "n_components": 20, "probability": True}),
    "pca/linear-svm": ("pca", "linear-svm", {}),
    "hog/ridge": ("hog", "ridge", {}),
    "sift/knn": ("sift", "knn", {}),
    "hog+vlad/svm block scaling": ("hog+vlad", "svm", {"block_scaling": True}),
    "patchwords/ridge": ("patchwords", "ridge", {}),
    "hog/rf": ("hog", "rf", {"n_estimators": 3}),
    "pixels/mlp": ("pixels", "mlp", {"max_iter": 5}),
    "hog+lbp/knn": ("hog+lbp", "knn", {}),
    "pca+hog/knn block scaling": ("pca+hog", "knn", {"block_scaling": True}),
    "hog+lbp/knn block weights": ("hog+lbp", "knn", {"block_scaling": True, "block_weights": {"lbp": 1.5}}),
    "hog+lbp+sift/linear-svm block scaling": ("hog+lbp+sift", "linear-svm", {"block_scaling": True}),
    "pixels/knn flip clahe+crop": ("pixels", "knn", {"flip": True, "preprocess": "clahe+crop"}),
    "pixels/knn equalize": ("pixels", "knn", {"preprocess": "equalize"}),
    **{f"lbp/knn sampler {s}": ("lbp", "knn", {"sampler": s}) for s in SAMPLERS},
    "cnn/knn": ("cnn", "knn", {}),
    "vgg16 (unfitted: weights are a download)": ("vgg16", "knn", {"unfitted": True}),
}
# BlockScaledUnion.block_slices_ holds slices of np.int64, which skops cannot write
# (features/_union.py: slice(int(a), int(b)) fixes it); until then its names come
# from the unfitted pipeline.
_BLOCK_SLICES_BUG = "skops cannot save BlockScaledUnion.block_slices_ (np.int64 slices)"


def _build(features, clf, options):
    options = {k: v for k, v in options.items() if k not in ("unfitted", "compact")}
    pipeline_options = {k: options.pop(k) for k in list(options)
                        if k in ("flip", "mirror_kernel", "preprocess", "block_scaling", "block_weights", "sampler")}
    if "sampler" in pipeline_options:
        pytest.importorskip("imblearn", exc_type=ModuleNotFoundError)
    return make_pipeline(features, clf, **pipeline_options, **options)


_needs: dict[str, list[str]] = {}
_written: dict[str, set[str]] = {}  # every class named in the case's skops file, trusted by default or not


def _classes_in(data: bytes) -> set[str]:
    """``module.Class`` of every object node in a skops file's schema."""
    import io
    import json
    import zipfile

    found, nodes = set(), [json.loads(zipfile.ZipFile(io.BytesIO(data)).read("schema.json"))]
    while nodes:
        node = nodes.pop()
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
            nodes.extend(node.values())
        elif isinstance(node, list):
            nodes.extend(node)
    return found


def _names_needed(case, faces) -> list[str]:
    """Names beyond skops' defaults in the skops file of the fitted ``case``."""
    if case not in _needs:
        features, clf, options = _CASES[case]
        if features == "cnn":
            pytest.importorskip("tensorflow")
        pipeline = _build(features, clf, options)
        if features == "cnn":
            pipeline.set_params(features__epochs=1)
        for key, value in pipeline.get_params().items():  # a small SIFT codebook: seconds, not minutes
            if isinstance(value, DenseSIFTBoVW):
                pipeline.set_params(**{f"{key}__{k}": v for k, v in
                                       {"step": 12, "n_words": 16, "max_descriptors": 2000}.items()})
            elif isinstance(value, DenseSIFTVLAD):  # 4 words in 8 dimensions on the coarse grid: the same classes
                pipeline.set_params(**{f"{key}__{k}": v for k, v in
                                       {"step": 8, "n_words": 4, "n_components": 8}.items()})
            elif isinstance(value, PatchWords):  # 8 words from 2,000 patches
                pipeline.set_params(**{f"{key}__{k}": v for k, v in {"n_words": 8, "n_patches": 2000}.items()})
        if not options.get("unfitted"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence warnings of the tiny fits
                pipeline.fit(*faces)
        if options.get("compact"):  # support vectors kept as HOG cells and SIFT votes, as fit and search save them
            assert compact_support_vectors(pipeline, faces[0])
        try:
            data = sio.dumps(pipeline)
        except TypeError:
            if not options.get("block_scaling"):
                raise
            data = sio.dumps(_build(features, clf, options))
        _needs[case] = sorted(sio.get_untrusted_types(data=data))
        _written[case] = _classes_in(data)
    return _needs[case]


@pytest.mark.parametrize("case", list(_CASES))
def test_every_kind_of_fer_classic_model_needs_only_trusted_names(case, faces):
    missing = sorted(set(_names_needed(case, faces)) - set(TRUSTED_TYPES))
    assert missing == [], (
        f"{case} needs {missing}, not in fer_classic/persistence/_trust.py TRUSTED_TYPES. Review each "
        "(no functions; no class that calls what it is given on load), then add it."
    )


def test_every_trusted_name_is_needed_by_some_model(faces):
    needed = {name for case in _CASES for name in _names_needed(case, faces)}
    # Or written in some model's file and trusted by default by this skops only (skops 0.11 trusted
    # sklearn.tree._tree.Tree, later versions ask for it).
    needed |= {name for case in _CASES for name in _written[case]}
    assert sorted(set(TRUSTED_TYPES) - needed) == [], "unneeded names on TRUSTED_TYPES: remove them"


def test_trusted_names_are_sorted_unique_and_exact():
    assert list(TRUSTED_TYPES) == sorted(set(TRUSTED_TYPES))
    assert all(name.count(".") >= 2 and not name.endswith(".") for name in TRUSTED_TYPES)


def _resolve(name):
    module, _, attr = name.rpartition(".")
    __import__(module)
    return getattr(sys.modules[module], attr)


@pytest.mark.parametrize("name", TRUSTED_TYPES)
def test_every_trusted_name_is_a_class_not_a_function(name):
    # A function on the list could be called with the file's arguments (skops' reduce nodes).
    assert isinstance(_resolve(name), type)


# --- No other reachable callable passes ---------------------------------------

_PACKAGES = ("numpy", "scipy", "sklearn", "fer_classic", "imblearn")
# Test suites, build tools, and what would import TensorFlow (seconds, and beside the point).
_NOT_IMPORTED = ("tests", "conftest", "_pyinstaller", "f2py", "distutils", "setup", "keras", "tensorflow")


def _reachable_callables():
    """(name a skops file could give, object) for callables reachable as attributes of loaded modules.

    Both spellings count: ``module.attr`` for every module the attribute is
    reachable from, and the defining ``__module__.__qualname__`` that skops writes.
    """
    import importlib
    import pkgutil

    from sklearn.utils import all_estimators

    all_estimators()  # imports every scikit-learn estimator module
    for package in _PACKAGES:  # and every first-level subpackage (scipy's load lazily)
        package = importlib.import_module(package)
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if not any(part in info.name for part in _NOT_IMPORTED):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # deprecated modules
                    importlib.import_module(info.name)

    seen = {}
    for module_name, module in list(sys.modules.items()):
        if module_name.split(".", 1)[0] not in _PACKAGES or not isinstance(module, types.ModuleType):
            continue
        try:
            attrs = list(vars(module).items())
        except TypeError:
            continue
        for attr, obj in attrs:
            if not (inspect.isroutine(obj) or isinstance(obj, (type, np.ufunc))):
                continue
            seen.setdefault(f"{module_name}.{attr}", obj)
            home, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
            if isinstance(home, str) and isinstance(qualname, str):
                seen.setdefault(f"{home}.{qualname}", obj)
    return seen


@pytest.fixture(scope="module")
def reachable():
    start = time.perf_counter()
    found = _reachable_callables()
    seconds = time.perf_counter() - start
    print(f"\nwalked {len(found)} callable names under {', '.join(_PACKAGES)} in {seconds:.2f} s")
    return found


def test_the_walk_covers_the_known_dangerous_functions(reachable):
    assert {"numpy.full_like", "numpy.max", "numpy.testing._private.utils.runstring", "numpy.testing.runstring",
            "numpy.load", "fer_classic._fileio.atomic_write_text"} <= set(reachable)
    assert len(reachable) > 20_000


def test_no_reachable_name_outside_the_list_is_trusted(reachable):
    start = time.perf_counter()
    trusted = {name for name in reachable if is_trusted(name)}
    assert trusted <= set(TRUSTED_TYPES)
    assert time.perf_counter() - start < 5
    # Only the reviewed classes pass, each under its exact defining name.
    assert all(isinstance(reachable[name], type) for name in trusted)


def test_skops_defaults_trust_no_plain_function(reachable):
    # What skops trusts without being asked: estimators, dtypes, ufuncs. A
    # function like numpy.full_like among them would bypass the list.
    trusted_types = pytest.importorskip("skops.io._trusted_types")
    defaults = set().union(*(getattr(trusted_types, name) for name in dir(trusted_types)
                             if name.endswith("_TYPE_NAMES")))
    functions = sorted(name for name in defaults & set(reachable)
                       if not isinstance(reachable[name], (type, np.ufunc))
                       and "ufunc" not in type(reachable[name]).__name__.lower())
    assert functions == []


# --- Crafted files --------------------------------------------------------------

def _with_steps(model, *steps) -> FERModel:
    return FERModel(Pipeline([*steps, *model.pipeline.steps]), model.metadata)


def _exploit(model, marker) -> FERModel:
    """The chain that ran code on predict: full_like makes an array of the code, max takes it out, runstring runs it."""
    from numpy.testing._private.utils import runstring

    code = f"open({str(marker)!r}, 'w').close()"
    return _with_steps(
        model,
        ("fill", FunctionTransformer(np.full_like, kw_args={"fill_value": code, "dtype": "O"})),
        ("take", FunctionTransformer(np.max)),
        ("run", FunctionTransformer(runstring, kw_args={"dict": {}})),
    )


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    from fer_classic import fit_model

    return fit_model(make_synthetic_faces(6, 1, random_state=1), features="pixels", clf="knn").model


@pytest.fixture
def exploit_file(tmp_path, small_model):
    marker = tmp_path / "pwned"
    return save_model(_exploit(small_model, marker), tmp_path / "evil.skops"), marker


def test_the_exploit_is_real_when_trusted(exploit_file, small_model):
    path, marker = exploit_file
    with pytest.raises(ModelIntegrityError, match="fails to predict"):  # load_model predicts one image: no image out
        load_model(path, trusted=True)
    assert marker.exists()


def test_the_exploit_does_not_run_on_predict_elsewhere(exploit_file, small_model, tmp_path, monkeypatch):
    import cv2

    path, marker = exploit_file
    monkeypatch.setenv("FER_CLASSIC_HOME", str(tmp_path / "fresh home"))
    face = tmp_path / "face.png"
    cv2.imwrite(str(face), np.full(small_model.image_shape, 128, np.uint8))
    result = CliRunner().invoke(main, ["predict", str(path), str(face)])
    assert result.exit_code != 0 and "runstring" in result.output and not marker.exists()


def test_inspect_names_every_function_of_the_exploit(exploit_file):
    info = inspect_model(exploit_file[0])
    assert info["types_needing_trust"] == ["numpy.full_like", "numpy.max", "numpy.testing._private.utils.runstring"]
    assert "needs trust    numpy.full_like, numpy.max, numpy.testing._private.utils.runstring" in (
        format_model_info(info))


def _dangerous():
    import operator

    from fer_classic import _fileio

    return {"numpy.load": np.load, "numpy.save": np.save, "numpy.full_like": np.full_like,
            "fer_classic._fileio.atomic_write_text": _fileio.atomic_write_text,
            "_operator.attrgetter('__class__')": operator.attrgetter("__class__"),
            "sklearn.utils._testing.assert_run_python_script_without_output":
                pytest.importorskip("sklearn.utils._testing").assert_run_python_script_without_output}


@pytest.mark.parametrize("label", list(_dangerous()))
def test_a_function_from_a_trusted_package_needs_trust(tmp_path, small_model, label):
    path = save_model(_with_steps(small_model, ("f", FunctionTransformer(_dangerous()[label]))), tmp_path / "f.skops")
    needing = inspect_model(path)["types_needing_trust"]
    assert needing and all(not is_trusted(name) for name in needing)
    with pytest.raises(UntrustedModelError, match="not on fer-classic's list"):
        load_model(path)


def _rewrite(path, edit):
    """Edit the skops schema and re-seal the fer-classic header (as a careful attacker would)."""
    def schema(members, header):
        members["schema.json"] = edit(members["schema.json"].decode()).encode()

    reseal_skops(path, schema)


@pytest.mark.parametrize("alias", ["numpy.testing", "numpy"])
def test_an_alias_of_a_function_needs_trust(exploit_file, alias):
    path, marker = exploit_file
    _rewrite(path, lambda schema: schema.replace('"numpy.testing._private.utils"', f'"{alias}"'))
    assert f"{alias}.runstring" in inspect_model(path)["types_needing_trust"]
    with pytest.raises(UntrustedModelError, match=f"{alias}.runstring"):
        load_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["child out of range", "child points back", "feature out of range"])
def test_a_crafted_decision_tree_is_refused(tmp_path, damage):
    from fer_classic import fit_model

    model = fit_model(make_synthetic_faces(6, 1, random_state=1), features="pixels", clf="rf",
                      clf_params={"n_estimators": 2}).model
    tree = model.pipeline[-1].estimator_.estimators_[0].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    internal = np.flatnonzero(nodes["left_child"] != -1)[0]
    column, value = {"child out of range": ("left_child", len(nodes) + 5),
                     "child points back": ("right_child", 0),
                     "feature out of range": ("feature", 10**6)}[damage]
    nodes[column][internal] = value
    tree.__setstate__({**state, "nodes": nodes})
    path = save_model(model, tmp_path / "rf.skops")
    assert inspect_model(path)["types_needing_trust"] == []
    with pytest.raises(ModelIntegrityError, match="decision tree"):
        load_model(path)


def test_a_fitted_forest_loads_without_trust(tmp_path):
    from fer_classic import fit_model

    data = make_synthetic_faces(6, 1, random_state=1)
    model = fit_model(data, features="pixels", clf="rf", clf_params={"n_estimators": 2}).model
    loaded = load_model(save_model(model, tmp_path / "rf.skops"))
    np.testing.assert_array_equal(loaded.predict(data.images), model.predict(data.images))


@pytest.mark.parametrize("edit, message", [
    (lambda schema: re.sub(r'("orientations": \{[^}]*?"content": )"9"', r'\1"0"', schema, count=1),
     "its HOGFeatures has invalid parameters .*The 'orientations' parameter of HOGFeatures .* Got 0"),
    (lambda schema: re.sub(r'"HOGFeatures",(\s*)"__module__": "fer_classic.features._hog"',
                           r'"LBPFeatures",\1"__module__": "fer_classic.features._lbp"', schema, count=1),
     "its LBPFeatures has invalid parameters .*AttributeError"),
], ids=["HOG orientations=0", "HOG state as LBPFeatures"])
def test_an_edited_schema_of_trusted_names_is_refused_at_load_naming_the_file(tmp_path, fitted_model, edit, message):
    # Trusted names only, checksum re-sealed: it loaded, then predict failed naming no file ("a bug").
    path = save_model(fitted_model, tmp_path / "m.skops")
    _rewrite(path, edit)
    assert inspect_model(path)["types_needing_trust"] == []
    with pytest.raises(ModelIntegrityError, match=f"{re.escape(str(path))}: {message}"):
        load_model(path)
