"""Horizontal-flip augmentation: fit sees 2n rows (the mirrors), predict sees exactly its input."""

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import has_fit_parameter

from fer_classic import make_pipeline
from fer_classic.features import PixelFeatures
from fer_classic.preprocessing import BorderCrop, FlipAugmented, HistogramEqualizer, MirrorViews, mirror_rows

CALLS: list = []  # (method, X, y, sample_weight) of every Spy call, shared by clones


class Spy(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Records what each method receives; predicts the first class."""

    def __init__(self, param=1):
        self.param = param

    def fit(self, X, y, sample_weight=None):
        CALLS.append(("fit", X, y, sample_weight))
        self.classes_ = np.unique(y)
        return self

    def _record(self, method, X):
        CALLS.append((method, X, None, None))
        return np.zeros(len(X))

    def predict(self, X):
        self._record("predict", X)
        return np.full(len(X), self.classes_[0])

    def predict_proba(self, X):
        self._record("predict_proba", X)
        return np.tile([1.0] + [0.0] * (len(self.classes_) - 1), (len(X), 1))

    def decision_function(self, X):
        return self._record("decision_function", X)

    def transform(self, X):
        return self._record("transform", X)[:, None]


@pytest.fixture(autouse=True)
def clear_calls():
    CALLS.clear()


def images(n, shape=(2, 3), seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, shape[0] * shape[1]), dtype=np.uint8)


def test_mirror_rows_flips_each_image_left_to_right():
    X = np.array([[1, 2, 3, 4, 5, 6]])  # one 2x3 image: rows 1 2 3 / 4 5 6
    np.testing.assert_array_equal(mirror_rows(X, (2, 3)), [[3, 2, 1, 6, 5, 4]])


def test_fit_sees_the_images_then_their_mirrors_with_labels_repeated():
    X, y = images(4), np.array(["a", "b", "a", "b"])
    FlipAugmented(Spy(), image_shape=(2, 3)).fit(X, y)
    (method, seen, seen_y, _), = CALLS
    assert method == "fit" and seen.shape == (8, 6)
    np.testing.assert_array_equal(seen[:4], X)
    np.testing.assert_array_equal(seen[4:], mirror_rows(X, (2, 3)))
    np.testing.assert_array_equal(seen_y, np.r_[y, y])


def test_sample_weight_is_repeated_for_the_mirrors():
    FlipAugmented(Spy(), image_shape=(2, 3)).fit(images(3), [0, 1, 0], sample_weight=[1.0, 2.0, 3.0])
    np.testing.assert_array_equal(CALLS[0][3], [1, 2, 3, 1, 2, 3])


@pytest.mark.parametrize("weights", [np.ones(6), np.ones(2)], ids=["one per mirrored row", "too few"])
def test_sample_weight_of_another_length_than_the_images_is_refused(weights):
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(\d+,\), expected \(3,\)"):
        FlipAugmented(Spy(), image_shape=(2, 3)).fit(images(3), [0, 1, 0], sample_weight=weights)


@pytest.mark.parametrize("weights", [np.ones(6), np.ones(2)], ids=["one per mirrored row", "too few"])
def test_a_steps_sample_weight_of_another_length_than_the_images_is_refused(weights):
    flip = FlipAugmented(Pipeline([("spy", Spy())]), image_shape=(2, 3))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(\d+,\), expected \(3,\)"):
        flip.fit(images(3), [0, 1, 0], spy__sample_weight=weights)


def test_a_fit_parameter_named_with_estimator_prefix_is_refused_naming_the_right_name():
    flip = FlipAugmented(Pipeline([("spy", Spy())]), image_shape=(2, 3))  # a Pipeline's KeyError: 'estimator'
    with pytest.raises(ValueError, match=r"spy__sample_weight, not estimator__spy__sample_weight"):
        flip.fit(images(3), [0, 1, 0], estimator__spy__sample_weight=np.ones(3))


def test_sample_weight_reaches_an_estimator_taking_keyword_arguments():
    search = GridSearchCV(Spy(), {"param": [1]}, cv=2)
    FlipAugmented(search, image_shape=(2, 3)).fit(images(4), [0, 1, 0, 1], sample_weight=[1.0, 2.0, 3.0, 4.0])
    assert CALLS[-1][3].tolist() == [1, 2, 3, 4, 1, 2, 3, 4]  # the refit on all rows


def test_sample_weight_reaches_the_last_step_of_a_pipeline():
    model = FlipAugmented(Pipeline([("scale", StandardScaler()), ("spy", Spy())]), image_shape=(2, 3))
    model.fit(images(4), [0, 1, 0, 1], sample_weight=[1.0, 2.0, 3.0, 4.0])
    assert CALLS[-1][3].tolist() == [1, 2, 3, 4, 1, 2, 3, 4]


def test_sample_weight_given_twice_for_a_pipeline_is_refused():
    model = FlipAugmented(Pipeline([("spy", Spy())]), image_shape=(2, 3))
    with pytest.raises(ValueError, match="sample_weight and spy__sample_weight were both given"):
        model.fit(images(4), [0, 1, 0, 1], sample_weight=[1.0] * 4, spy__sample_weight=[1.0] * 4)


@pytest.mark.parametrize("wrap", [
    lambda inner: FlipAugmented(Pipeline([("pixels", inner), ("spy", Spy())])),
    lambda inner: MirrorViews(inner),
    lambda inner: MirrorViews(Pipeline([("pixels", inner)])),
], ids=["FlipAugmented(Pipeline)", "MirrorViews", "MirrorViews(Pipeline)"])
def test_the_wrapped_estimators_image_shape_is_the_mirrors_geometry(wrap):
    X = np.arange(12.0).reshape(2, 6)  # two 2x3 images: not square
    model = wrap(PixelFeatures(image_shape=(2, 3), scale="none")).fit(X, [0, 1])
    assert model.image_shape_ == (2, 3)


@pytest.mark.parametrize("wrap", [FlipAugmented, MirrorViews])
@pytest.mark.parametrize("inner", [
    lambda: FeatureUnion([("pixels", PixelFeatures(image_shape=(2, 3), scale="none"))]),
    lambda: Pipeline([("equalize", HistogramEqualizer(method="global")),
                      ("pixels", PixelFeatures(image_shape=(2, 3), scale="none"))]),
    lambda: Pipeline([("union", FeatureUnion([("pixels", PixelFeatures(image_shape=(2, 3)))])), ("spy", Spy())]),
], ids=["FeatureUnion", "past an image step without image_shape", "Pipeline(FeatureUnion)"])
def test_a_geometry_declared_past_the_first_step_is_found(wrap, inner):
    # Only a Pipeline's first step was searched: (1, 6), and the "mirror" turned the image upside down.
    model = wrap(inner()).fit(np.arange(12.0).reshape(2, 6), [0, 1])
    assert model.image_shape_ == (2, 3)


def test_steps_declaring_different_geometries_are_refused():
    union = FeatureUnion([("a", PixelFeatures(image_shape=(2, 3))), ("b", PixelFeatures(image_shape=(3, 2)))])
    with pytest.raises(ValueError, match=r"MirrorViews: the steps of FeatureUnion declare different image "
                                         r"geometries, 'a' image_shape=\(2, 3\) and 'b' image_shape=\(3, 2\)"):
        MirrorViews(union).fit(np.zeros((2, 6)))


def test_non_square_rows_with_a_geometry_only_past_an_unknown_step_are_refused():
    pipe = Pipeline([("scale", StandardScaler()), ("pixels", PixelFeatures(image_shape=(2, 3)))])
    with pytest.raises(ValueError, match=r"rows of 6 pixels are not square images, and the only geometry declared, "
                                         r"'features__pixels' image_shape=\(2, 3\), comes after a step that may "
                                         r"change the images; pass image_shape=\(height, width\) to FlipAugmented"):
        FlipAugmented(Pipeline([("features", pipe), ("spy", Spy())])).fit(images(2), [0, 1])


def test_a_geometry_past_a_crop_that_changes_the_images_is_not_the_input_geometry():
    X = np.zeros((2, 36))
    pipe = Pipeline([("crop", BorderCrop(border=1, resize=False)), ("pixels", PixelFeatures(image_shape=(4, 4)))])
    assert MirrorViews(pipe).fit(X).image_shape_ == (6, 6)


def test_mirror_views_refuse_input_features_of_the_wrong_length():
    views = MirrorViews(PixelFeatures()).fit(images(2, (2, 2)))
    assert list(views.get_feature_names_out(["a", "b", "c", "d"])) == [
        "pixel0", "pixel1", "pixel2", "pixel3", "mirror__pixel0", "mirror__pixel1", "mirror__pixel2", "mirror__pixel3"]
    with pytest.raises(ValueError, match=r"input_features should have length equal to number of features \(4\)"):
        views.get_feature_names_out(["a", "b"])


def test_mirror_views_mirror_a_wrapped_geometry_left_to_right():
    X = np.arange(12.0).reshape(2, 6)
    views = MirrorViews(PixelFeatures(image_shape=(2, 3), scale="none")).fit(X).transform(X[:1])
    np.testing.assert_array_equal(views[0, 6:], [2, 1, 0, 5, 4, 3])


def test_sample_weight_for_an_estimator_without_it_is_refused_naming_it():
    with pytest.raises(ValueError, match="PixelFeatures.fit takes no sample_weight"):
        FlipAugmented(PixelFeatures()).fit(images(3, (2, 2)), [0, 1, 0], sample_weight=np.ones(3))


def test_sample_weight_is_a_parameter_of_fit():
    assert has_fit_parameter(FlipAugmented(Spy()), "sample_weight")


@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function", "transform"])
def test_every_prediction_method_sees_exactly_the_unflipped_input(method):
    model = FlipAugmented(Spy(), image_shape=(2, 3)).fit(images(4), [0, 1, 0, 1])
    X_test = images(5, seed=1)
    getattr(model, method)(X_test)
    name, seen, _, _ = CALLS[-1]
    assert name == method and seen is X_test  # the very same array: not copied, flipped or doubled


def test_score_predicts_the_unflipped_input():
    model = FlipAugmented(Spy(), image_shape=(2, 3)).fit(images(4), [0, 1, 0, 1])
    X_test = images(5, seed=1)
    model.score(X_test, np.zeros(5))
    assert CALLS[-1][0] == "predict" and CALLS[-1][1] is X_test


def test_in_a_pipeline_only_fit_is_augmented():
    X, X_test = images(4, (4, 4)), images(3, (4, 4), seed=2)
    pipe = Pipeline([("equalize", HistogramEqualizer(method="global")), ("flip", FlipAugmented(Spy()))])
    pipe.fit(X, [0, 1, 0, 1]).predict(X_test)
    assert [(name, len(seen)) for name, seen, _, _ in CALLS] == [("fit", 8), ("predict", 3)]


def test_grid_search_fits_doubled_folds_and_validates_on_plain_folds():
    X, y = images(8), np.array([0, 1] * 4)
    search = GridSearchCV(FlipAugmented(Spy(), image_shape=(2, 3)), {"estimator__param": [1, 2]}, cv=2, refit=False)
    search.fit(X, y)
    fits = [len(seen) for name, seen, _, _ in CALLS if name == "fit"]
    predicts = [len(seen) for name, seen, _, _ in CALLS if name == "predict"]
    assert fits == [8] * 4 and predicts == [4] * 4  # 2 candidates x 2 folds of 4 training images


def test_make_pipeline_flip_wraps_the_whole_pipeline(tiny_faces):
    train, test = tiny_faces.select("train"), tiny_faces.select("test")
    model = make_pipeline("hog", "linear-svm", flip=True)
    assert isinstance(model, FlipAugmented) and isinstance(model.estimator, Pipeline)
    model.fit(train.X, train.y)
    assert model.estimator_["clf"].estimator_.n_iter_ is not None and list(model.classes_) == sorted(train.classes)
    assert model.predict(test.X).shape == (len(test),)


def test_make_pipeline_flip_works_in_grid_search(tiny_faces):
    train = tiny_faces.select("train")
    search = GridSearchCV(make_pipeline("hog", "linear-svm", flip=True),
                          {"estimator__clf__estimator__C": [0.1, 1.0]}, cv=2).fit(train.X, train.y)
    assert search.best_params_["estimator__clf__estimator__C"] in (0.1, 1.0)


def test_flip_must_be_a_bool():
    with pytest.raises(ValueError, match="flip must be True or False; got 'yes'"):
        make_pipeline("hog", "svm", flip="yes")


def test_predict_before_fit_is_an_error():
    with pytest.raises(NotFittedError):
        FlipAugmented(Spy()).predict(images(2))


def test_predict_with_another_image_size_is_an_error():
    model = FlipAugmented(Spy(), image_shape=(2, 3)).fit(images(2), [0, 1])
    with pytest.raises(ValueError, match="X has 4 features, but FlipAugmented is expecting 6"):
        model.predict(np.zeros((1, 4)))


def test_image_shape_that_does_not_match_rows_is_an_error():
    with pytest.raises(ValueError, match=r"image_shape=\(2, 2\) holds 4 pixels but X has 6"):
        FlipAugmented(Spy(), image_shape=(2, 2)).fit(images(2), [0, 1])


def test_set_output_is_offered_for_a_wrapped_estimator_that_has_it():
    model = FlipAugmented(StandardScaler(), image_shape=(2, 3))
    assert model.set_output(transform="default") is model
    assert not hasattr(FlipAugmented(Spy(), image_shape=(2, 3)), "set_output")


def test_set_output_pandas_reaches_the_wrapped_estimator():
    pd = pytest.importorskip("pandas")
    model = FlipAugmented(StandardScaler(), image_shape=(2, 3)).set_output(transform="pandas").fit(images(4))
    assert isinstance(model.transform(images(2)), pd.DataFrame)


def test_a_data_frame_reaches_the_wrapped_estimator_as_in_fit_without_a_feature_name_warning():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(images(4), columns=[f"pixel{i}" for i in range(6)])
    model = FlipAugmented(Pipeline([("scale", StandardScaler()), ("spy", Spy())]), image_shape=(2, 3))
    model.fit(frame, [0, 1, 0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "X has feature names, but StandardScaler was fitted without feature names"
        model.predict(frame)
    assert isinstance(CALLS[-1][1], np.ndarray)
