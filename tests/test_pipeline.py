"""make_pipeline: scaling of combined features, and oversampling with imbalanced-learn."""

import functools
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import StandardScaler

from fer_classic.features import BlockScaledUnion, make_scaler
from fer_classic.pipeline import SAMPLERS, make_pipeline
from fer_classic.preprocessing import FlipAugmented

# A broken imblearn (one that fails to import) is an error, not a skip of the whole file.
imblearn = pytest.importorskip("imblearn", reason="samplers need pip install 'fer-classic[imbalanced]'",
                               exc_type=ModuleNotFoundError)


def _scale_kind(pipeline):
    step = pipeline.named_steps["scale"]
    return "standard" if isinstance(step, StandardScaler) else step


# -- scaling ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("features, expected", [
    ("sift", "passthrough"),
    ("hog", "standard"),
    ("hog+sift", "standard"),
    ("sift+hog", "standard"),
    ("lbp+sift+hog", "standard"),
])
def test_scaling_follows_the_set_of_extractors(features, expected):
    assert _scale_kind(make_pipeline(features, "svm")) == expected


@pytest.mark.parametrize("block_scaling", [False, True])
@pytest.mark.parametrize("names", [("hog", "sift"), ("hog", "lbp", "sift"), ("pixels", "hog")])
def test_feature_order_does_not_change_the_scaling(names, block_scaling):
    forward = make_pipeline("+".join(names), "svm", block_scaling=block_scaling)
    backward = make_pipeline("+".join(reversed(names)), "svm", block_scaling=block_scaling)
    assert _scale_kind(forward) == _scale_kind(backward)
    assert type(forward.named_steps["features"]) is type(backward.named_steps["features"])


@pytest.mark.parametrize("spec", ["hog+sift", "sift+hog"])
def test_block_scaling_keeps_sift_unstandardised_in_either_order(spec):
    pipeline = make_pipeline(spec, "svm", block_scaling=True)
    assert isinstance(pipeline.named_steps["features"], BlockScaledUnion)
    assert pipeline.named_steps["features"].normalised_blocks == ("sift",)
    assert pipeline.named_steps["scale"] == "passthrough"


@pytest.mark.parametrize("features, warned", [("hog", True), ("sift", True), ("hog+sift", False)])
def test_block_scaling_with_one_extractor_is_warned(features, warned):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        make_pipeline(features, "svm", block_scaling=True)
    assert [str(w.message).startswith("block_scaling (--block-scaling)") for w in record] == ([True] if warned else [])


def test_block_weights_multiply_their_block_only():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(12, 24 * 24)).astype(np.float64)

    def union(**weights):
        pipeline = make_pipeline("hog+lbp", "svm", block_scaling=True, block_weights=weights or None)
        return pipeline.named_steps["features"].fit(X)

    plain, weighted = union(), union(LBP=2.5)  # names as --features takes them: case ignored
    hog, lbp = plain.block_slices_
    np.testing.assert_allclose(weighted.transform(X)[:, hog], plain.transform(X)[:, hog])
    np.testing.assert_allclose(weighted.transform(X)[:, lbp], 2.5 * plain.transform(X)[:, lbp])


@pytest.mark.parametrize("features, block_scaling, weights, match", [
    ("hog+lbp", False, {"lbp": 2}, "give block_scaling=True"),
    ("hog", True, {"hog": 2}, "several extractors"),
    ("hog+lbp", True, {"sift": 2}, "no extractor of features 'hog\\+lbp'; name one of hog, lbp"),
    ("hog+lbp", True, {"lbp": 0}, "above 0"),
    ("hog+lbp", True, {"lbp": float("inf")}, "above 0"),
    ("hog+lbp", True, {"lbp": True}, "above 0"),
    ("hog+lbp", True, {"lbp": "2"}, "above 0"),
    ("hog+lbp", True, {"lbp": 1, "LBP": 2}, "twice"),
    ("hog+lbp", True, [("lbp", 2)], "must map extractor names"),
])
def test_block_weights_that_cannot_weigh_a_block_are_refused(features, block_scaling, weights, match):
    with pytest.raises(ValueError, match=match):
        make_pipeline(features, "svm", block_scaling=block_scaling, block_weights=weights)


def test_make_scaler_is_the_decision_make_pipeline_uses():
    assert make_scaler("sift") == "passthrough" and isinstance(make_scaler("sift+hog"), StandardScaler)
    assert make_scaler("hog+sift", block_scaling=True) == "passthrough"


# -- samplers ---------------------------------------------------------------------------------------

class Recorder(ClassifierMixin, BaseEstimator):
    """Remembers the rows and labels every method sees; predicts the first class."""

    def fit(self, X, y):
        self.fit_rows_, self.fit_labels_ = len(X), np.asarray(y).copy()
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        self.predict_X_ = np.asarray(X).copy()
        return np.full(len(X), self.classes_[0])


@pytest.fixture
def imbalanced(tiny_faces):
    train = tiny_faces.select("train")
    # Every class but one keeps 12 images; "angry" keeps 6 (SMOTE needs 6 for its 5 neighbours).
    keep = np.flatnonzero((train.y != "angry") | (np.cumsum(train.y == "angry") <= 6))
    return train.X[keep], train.y[keep]


def test_samplers_are_listed_for_the_command_line():
    assert set(SAMPLERS) == {"smote", "adasyn", "random"}


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_sampler_step_sits_between_the_scaler_and_the_classifier(sampler):
    pipeline = make_pipeline("hog", "logreg", sampler=sampler)
    assert isinstance(pipeline, imblearn.pipeline.Pipeline)
    assert [name for name, _ in pipeline.steps] == ["features", "scale", "sampler", "clf"]


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_sampler_is_seeded_by_random_state(sampler):
    assert make_pipeline("hog", "logreg", sampler=sampler, random_state=7).named_steps["sampler"].random_state == 7


@pytest.mark.parametrize("sampler", ["smote", "random"])  # both raise every class to the largest
def test_fit_sees_the_minority_class_oversampled(imbalanced, sampler):
    X, y = imbalanced
    pipeline = make_pipeline("hog", "logreg", sampler=sampler).set_params(clf=Recorder()).fit(X, y)
    labels, counts = np.unique(pipeline.named_steps["clf"].fit_labels_, return_counts=True)
    assert counts.min() == counts.max() == np.unique(y, return_counts=True)[1].max()
    assert pipeline.named_steps["clf"].fit_rows_ > len(X)


def test_adasyn_adds_rows_of_the_minority_class(imbalanced):
    X, y = imbalanced
    pipeline = make_pipeline("hog", "logreg", sampler="adasyn").set_params(clf=Recorder()).fit(X, y)
    seen = pipeline.named_steps["clf"].fit_labels_
    assert (seen == "angry").sum() > (y == "angry").sum()


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_predict_and_transform_see_the_rows_unchanged(imbalanced, sampler):
    X, y = imbalanced
    pipeline = make_pipeline("hog", "logreg", sampler=sampler).set_params(clf=Recorder()).fit(X, y)
    assert len(pipeline.predict(X[:5])) == 5
    # The classifier gets exactly the scaled features of the 5 rows: the sampler is skipped outside fit.
    np.testing.assert_array_equal(pipeline.named_steps["clf"].predict_X_, pipeline[:2].transform(X[:5]))


def test_sampler_composes_with_flip_and_preprocessing(imbalanced):
    X, y = imbalanced
    model = make_pipeline("hog", "logreg", sampler="random", flip=True, preprocess="clahe")
    assert isinstance(model, FlipAugmented)
    model.set_params(estimator__clf=Recorder()).fit(X, y)
    inner = model.estimator_
    assert [name for name, _ in inner.steps] == ["preprocess", "features", "scale", "sampler", "clf"]
    # Mirrors double every class; the sampler then raises each to the largest.
    assert np.unique(inner.named_steps["clf"].fit_labels_, return_counts=True)[1].tolist() == [24] * 7
    assert len(model.predict(X[:3])) == 3 and len(inner.named_steps["clf"].predict_X_) == 3


def _few_angry(faces, n):
    """``faces`` with only ``n`` training images of "angry"."""
    angry = (faces.splits == "train") & (faces.labels == "angry")
    return faces.subset(np.flatnonzero(~angry | (np.cumsum(angry) <= n)))


@pytest.mark.parametrize("run", ["fit", "search"])
@pytest.mark.parametrize("sampler, parameter", [("smote", "k_neighbors"), ("adasyn", "n_neighbors")])
def test_a_class_too_small_for_the_sampler_s_neighbours_is_refused_before_the_features(
        tiny_faces, monkeypatch, sampler, parameter, run):
    from fer_classic import fit_model
    from fer_classic.features import PixelFeatures
    from fer_classic.model_selection import search_model

    extracted = []
    monkeypatch.setattr(PixelFeatures, "fit", lambda self, X, y=None: extracted.append(len(X)) or self)
    message = (rf"sampler='{sampler}' .* {parameter}=\d nearest neighbours in the class, so every class it "
               r"oversamples needs at least \d training images; the smallest, 'angry', has .*, or --sampler random "
               r"\(sampler='random': repeats images\)")  # the advice a command-line user can follow
    with pytest.raises(ValueError, match=message):
        if run == "fit":
            fit_model(_few_angry(tiny_faces, 3), features="pixels", clf="logreg", sampler=sampler)
        else:
            search_model(_few_angry(tiny_faces, 3), features="pixels", clf="logreg", sampler=sampler, cv=2,
                         grid={f"sampler__{parameter}": [2, 5]})
    assert extracted == []


def test_the_sampler_check_of_a_search_counts_a_fold_s_training_part(tiny_faces, monkeypatch):
    # 6 images of angry are enough for SMOTE's 5 neighbours, but a 5-fold split trains on 4 of them.
    from fer_classic.features import PixelFeatures
    from fer_classic.model_selection import search_model

    monkeypatch.setattr(PixelFeatures, "fit", lambda self, X, y=None: pytest.fail("features computed"))
    with pytest.raises(ValueError, match=r"the smallest, 'angry', has 4 in a cross-validation fold's training part "
                                         r"\(of its 6, with --cv 5\)"):
        search_model(_few_angry(tiny_faces, 6), features="pixels", clf="logreg", sampler="smote", cv=5,
                     grid={"clf__estimator__C": [1.0]})


def test_the_sampler_check_counts_the_mirror_images(tiny_faces):
    from fer_classic import fit_model

    with pytest.raises(ValueError, match=r"the smallest, 'angry', has 4 \(2 and their mirror images\)"):
        fit_model(_few_angry(tiny_faces, 2), features="pixels", clf="logreg", sampler="smote", flip=True)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_sample_weight_with_a_sampler_that_adds_rows_is_refused_saying_why(imbalanced, sampler):
    X, y = imbalanced
    pipeline = make_pipeline("pixels", "logreg", sampler=sampler)
    with pytest.raises(ValueError, match=r"sample_weight has 78 values for the \d+ rows the classifier is fit on\. "
                                         r"If a sampler precedes it"):
        pipeline.fit(X, y, clf__sample_weight=np.ones(len(y)))


def test_too_many_sample_weights_without_a_sampler_get_scikit_learn_s_message():
    from sklearn.linear_model import LogisticRegression

    from fer_classic.estimators import CanonicalOrderClassifier

    X, y = np.random.default_rng(0).random((20, 3)), np.repeat(["happy", "sad"], 10)
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(21,\), expected \(20,\)"):
        CanonicalOrderClassifier(LogisticRegression()).fit(X, y, sample_weight=np.ones(21))


def test_unknown_sampler_is_an_error():
    with pytest.raises(ValueError, match="Unknown sampler 'tomek'; choose from smote, adasyn, random"):
        make_pipeline("hog", "svm", sampler="tomek")


# A HOG SVM's fit and prediction import no other extractor's or classifier's modules (their
# import is a tenth of a second of every `fer-classic fit`); a SIFT pipeline shows the probe works.
_IMPORT_PROBE = """
import json, sys
import numpy as np
from fer_classic.pipeline import make_pipeline
X, y = np.random.default_rng(0).integers(0, 256, (20, 48 * 48)).astype(np.uint8), np.repeat([0, 1], 10)
make_pipeline(sys.argv[1], "svm").fit(X, y).predict(X)
print(json.dumps(sorted(sys.modules)))
"""
_OTHER_MODULES = ("sklearn.cluster", "sklearn.ensemble", "sklearn.neural_network", "sklearn.decomposition",
                  "fer_classic.features._sift", "fer_classic.features._gabor", "fer_classic.features._cnn",
                  "fer_classic.estimators._local_svc", "fer_classic.estimators._histogram_kernels")


@pytest.fixture(scope="module")
def imported_by():
    def run(features):
        out = subprocess.run([sys.executable, "-c", _IMPORT_PROBE, features], capture_output=True, text=True,
                             check=True).stdout
        return set(json.loads(out.strip().splitlines()[-1]))

    return functools.cache(run)


@pytest.mark.parametrize("module", _OTHER_MODULES)
def test_a_hog_svm_imports_no_other_extractor_or_classifier(imported_by, module):
    assert module not in imported_by("hog")


def test_a_sift_pipeline_imports_the_sift_modules(imported_by):
    assert {"sklearn.cluster", "fer_classic.features._sift"} <= imported_by("sift")


# -- image_shape: images that are not square --------------------------------------------------

@pytest.mark.parametrize("options", [{"flip": True}, {"preprocess": "crop+clahe"}, {"mirror_kernel": True}],
                         ids=["flip", "preprocess", "mirror_kernel"])
def test_image_shape_reaches_every_step_that_reads_images(options):
    # Without it, 40x50 rows were read as 1x2000 images: flipped upside down, cropped by whole rows.
    clf = "kernel-svm" if options.get("mirror_kernel") else "svm"
    pipeline = make_pipeline("hog", clf, image_shape=(40, 50), **options)
    shapes = {name: value for name, value in pipeline.get_params(deep=True).items()
              if name.rsplit("__", 1)[-1] == "image_shape"}
    assert len(shapes) >= 2 and set(shapes.values()) == {(40, 50)}


def test_image_shape_with_a_preprocessing_that_may_change_the_size_is_refused():
    from fer_classic.preprocessing import BorderCrop

    with pytest.raises(ValueError, match=r"image_shape=\(40, 50\) is the geometry of the images given, but the "
                                         r"preprocess step BorderCrop\(resize=False\) may change their size"):
        make_pipeline("hog", "svm", preprocess=BorderCrop(resize=False), image_shape=(40, 50))


def test_image_shape_leaves_the_caller_s_preprocess_transformer_unchanged():
    from fer_classic.preprocessing import HistogramEqualizer

    equalizer = HistogramEqualizer()
    pipeline = make_pipeline("hog", "svm", preprocess=equalizer, image_shape=(40, 50))
    assert equalizer.image_shape is None and pipeline.named_steps["preprocess"].image_shape == (40, 50)


def test_image_shape_with_a_preprocess_that_is_no_transformer_gets_make_pipeline_s_message():
    # It was scikit-learn's "Cannot clone object" (the clone came first).
    with pytest.raises(ValueError, match="preprocess must be a name .* or a transformer"):
        make_pipeline("hog", "svm", preprocess=object(), image_shape=(48, 48))


@pytest.mark.parametrize("image_shape", [(40,), (0, 50), "40x50", (40.5, 50), (40, 5000)])
def test_a_bad_image_shape_is_named(image_shape):
    with pytest.raises(ValueError, match=r"image_shape must be a \(height, width\) pair of whole numbers of pixels"):
        make_pipeline("hog", "svm", image_shape=image_shape)


def test_fit_model_builds_the_pipeline_for_a_dataset_of_images_that_are_not_square():
    # HOG read the 40x50 faces as 1x2000 images and refused them, naming an image_shape fit_model does not take.
    from fer_classic import fit_model
    from fer_classic.data import make_synthetic_faces

    faces = make_synthetic_faces(6, 2, size=(40, 50), random_state=0)
    model = fit_model(faces, features="hog", clf="logreg", flip=True).model
    assert model.pipeline.image_shape_ == (40, 50)


@pytest.mark.parametrize("key, argument", [
    ("estimator__views", "mirror_kernel="), ("views", "mirror_kernel="), ("estimator__n_jobs", "n_jobs="),
    ("estimator__random_state", "random_state="),
])
def test_make_pipeline_refuses_clf_params_that_set_its_own_options(key, argument):
    # make_pipeline("lbp", "local-svm", estimator__views=2) built a mirror-view kernel without mirror_kernel.
    with pytest.raises(ValueError, match=f"'{key}' sets .*{argument}"):
        make_pipeline("lbp", "local-svm" if key.startswith("estimator") else "kernel-svm", **{key: 2})


def test_block_scaling_that_is_no_bool_is_refused_as_flip_is():
    # block_scaling="no" turned block scaling on.
    with pytest.raises(ValueError, match="block_scaling must be True or False; got 'no'"):
        make_pipeline("hog+lbp", "svm", block_scaling="no")


@pytest.mark.parametrize("option", ["flip", "mirror_kernel", "block_scaling"])
def test_fit_refuses_an_option_that_is_no_bool_before_loading(option, monkeypatch):
    from fer_classic import fit_model

    # fit_model recorded bool("no") (True) and built the pipeline with it; make_pipeline's check never saw "no".
    monkeypatch.setattr("fer_classic.workflow.load_data", lambda *a, **k: pytest.fail("data loaded"))
    with pytest.raises(ValueError, match=f"{option} must be True or False; got 'no'"):
        fit_model(None, features="hog+lbp", clf="svm", **{option: "no"})


def test_a_cuml_backend_without_cuml_is_refused_when_the_pipeline_is_built():
    """It was refused at fit, after the steps before the SVM (a CNN's training) had run."""
    from fer_classic.estimators import cuml_status
    from fer_classic.exceptions import MissingDependencyError

    if cuml_status()[0]:
        pytest.skip("cuML is usable here")
    with pytest.raises(MissingDependencyError, match=r"backend='cuml' cannot run.*'fer-classic\[gpu\]'"):
        make_pipeline("cnn", "svm", backend="cuml")
