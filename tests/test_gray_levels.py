"""One picture, one prediction: pixels reach 8-bit levels by one rule per image, never stretched by their own range."""

import cv2
import numpy as np
import pytest

from fer_classic import fit_model
from fer_classic.data import decode_image, gray_levels
from fer_classic.exceptions import ImageDecodeError
from fer_classic.prediction import predict_image
from fer_classic.prediction._draw import draw_faces

LOW = np.random.default_rng(0).integers(60, 121, (48, 48)).astype(np.uint8)  # low contrast: a stretch would show


@pytest.mark.parametrize("stored", [
    LOW.astype(np.uint16) * 257,  # 16-bit
    LOW.astype(">u2") * 257,      # 16-bit, big-endian (as some TIFFs)
    LOW.astype(np.uint16),        # 16-bit integers holding levels (arr.astype(np.uint16))
    LOW / 255.0,                  # floats in 0..1
    LOW.astype(np.float32),       # floats as levels
    LOW.astype(np.int32),         # wide integers holding levels
    LOW.astype(np.int64) * 257,   # wide integers holding 16-bit values
], ids=["uint16", "uint16-big-endian", "uint16-levels", "float-0-1", "float-levels", "int32-levels", "int64-16bit"])
def test_every_depth_gives_the_same_levels(stored):
    np.testing.assert_array_equal(gray_levels(stored), LOW)


def test_uint8_is_taken_as_it_is():
    assert gray_levels(LOW) is LOW


def test_bool_is_black_and_white():
    np.testing.assert_array_equal(gray_levels(np.array([[False, True]])), [[0, 255]])


@pytest.mark.parametrize("pixels, message", [
    (np.full((4, 4), np.nan), "NaN or infinite"),
    (np.full((4, 4), np.inf, np.float32), "NaN or infinite"),
    (LOW - 100.0, r"span -40\.\.20, not gray levels"),
    (LOW * 10.0, r"span 600\.\.1200, not gray levels"),
    (np.full((4, 4), 70_000, np.int32), "not gray levels"),
    (LOW.astype(object), "type object are not gray levels"),
    (LOW / 100.0, r"float pixels reach 1\.2, above 1 \(so not values in 0\.\.1\)"),  # 0..1 overshooting
])
def test_values_that_are_not_gray_levels_are_named(pixels, message):
    with pytest.raises(ImageDecodeError, match=rf"^frame 3: .*{message}"):
        gray_levels(pixels, "frame 3")


def test_16_bit_values_round_to_the_nearest_level():
    values = np.arange(65536, dtype=np.uint16)
    np.testing.assert_array_equal(gray_levels(values.reshape(256, 256)).ravel(), np.rint(values / 257))


def test_each_image_of_a_batch_is_converted_by_its_own_values():
    batch = np.stack([LOW, LOW]).astype(np.int32)
    batch[1, 0, 0] = 65535  # the second image is 16-bit: the first stays levels
    converted = gray_levels(batch, batch=True)
    np.testing.assert_array_equal(converted[0], LOW)
    assert converted[1, 0, 0] == 255 and converted[1, 0, 1] == round(LOW[0, 1] / 257)


def test_a_bad_image_of_a_batch_is_named_by_its_index():
    batch = np.stack([LOW / 255.0] * 3)
    batch[2, 5, 5] = np.nan
    with pytest.raises(ImageDecodeError, match=r"^images \(image 2\): holds NaN"):
        gray_levels(batch, "images", batch=True)


def test_an_8_bit_and_a_16_bit_file_of_one_face_decode_alike(tmp_path):
    assert cv2.imwrite(str(tmp_path / "8.png"), LOW)
    assert cv2.imwrite(str(tmp_path / "16.png"), LOW.astype(np.uint16) * 257)
    np.testing.assert_array_equal(decode_image(tmp_path / "16.png"), decode_image(tmp_path / "8.png"))


def test_a_float_file_with_infinite_pixels_is_a_decode_error_naming_it(tmp_path):
    path = tmp_path / "inf.tiff"
    assert cv2.imwrite(str(path), np.where(LOW > 100, np.inf, LOW).astype(np.float32))
    with pytest.raises(ImageDecodeError, match=f"{path}: holds NaN or infinite"):
        decode_image(path)


@pytest.fixture(scope="module")
def pixels_model(tiny_faces):
    """Pixels scaled by a linear model: its answer depends on the scale of the input."""
    return fit_model(tiny_faces, features="pixels", clf="logreg").model


@pytest.mark.parametrize("scale", [lambda x: x / 255.0, lambda x: x.astype(np.uint16) * 257],
                         ids=["float-0-1", "uint16"])
def test_a_model_answers_the_same_for_any_scale_of_its_levels(pixels_model, tiny_faces, scale):
    X = tiny_faces.images
    assert pixels_model.scores(scale(X))[1] == pytest.approx(pixels_model.scores(X)[1])


def test_a_models_answer_for_a_face_does_not_depend_on_its_batch(pixels_model, tiny_faces):
    X = tiny_faces.images[:8].astype(np.int32)
    alone = pixels_model.scores(X[:7])[1]
    X[7, 0, 0] = 256  # one 16-bit image in the batch
    np.testing.assert_allclose(pixels_model.scores(X)[1][:7], alone)


@pytest.mark.parametrize("shape", [(0, 0), (2304,), (48, 48, 2), (1, 48, 48, 1)])
def test_an_array_that_is_not_one_image_is_named(pixels_model, shape):
    with pytest.raises(ImageDecodeError, match=rf"An image array has shape \({', '.join(map(str, shape))},?\)"):
        predict_image(pixels_model, np.zeros(shape, np.uint8))


def test_faces_are_drawn_on_a_signed_integer_image():
    canvas = draw_faces(LOW.astype(np.int32), [{"status": "ok", "box": [4, 4, 20, 20], "label": "happy"}])
    assert canvas.dtype == np.uint8 and canvas.shape == (48, 48, 3)
