"""How FaceCropper takes each face: found (also inside a border), taken as a crop, or taken whole;
overlapping boxes merged; and the real-photo benchmark on a generated folder."""

import itertools
import json
import pickle

import cv2
import numpy as np
import pytest
from skimage.data import astronaut

from conftest import FER_FOLDER, benchmark_module, requires_fer_folder
from fer_classic import save_model
from fer_classic.data._images import resize_gray
from fer_classic.detection import CROP, FOUND, WHOLE_IMAGE, Face, FaceCropper, clip_box, iou, suppress_overlaps
from fer_classic.prediction import predict_image, predict_paths

# The middle of the astronaut's face (skimage.data.astronaut(), 512x512), and the default cropper's
# Haar box (FaceCropper's docstring example).
FACE_CENTRE = (225, 123)
ASTRONAUT_BOX = (170, 62, 106, 106)


@pytest.fixture(scope="module")
def photo():
    return np.ascontiguousarray(astronaut()[..., ::-1])


@pytest.fixture(scope="module")
def cropper():
    return FaceCropper().fit()


def tight_crop(photo, side: int, out: int) -> np.ndarray:
    """A ``side`` px square around the astronaut's face (the face fills it), enlarged to ``out`` px."""
    cx, cy = FACE_CENTRE
    crop = photo[cy - side // 2 : cy + side // 2, cx - side // 2 : cx + side // 2]
    return cv2.resize(crop, (out, out), interpolation=cv2.INTER_CUBIC)


def fer_test_faces(n: int, side: int) -> list[np.ndarray]:
    """``n`` FER2013 test images spread over the classes (every k-th file), enlarged to ``side`` px."""
    files = sorted(FER_FOLDER.glob("test/*/*.jpg"))
    files = files[:: max(1, len(files) // n)][:n]
    return [cv2.resize(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), (side, side), interpolation=cv2.INTER_CUBIC)
            for f in files]


class StubDetector:
    """A detector giving fixed boxes (at full resolution: its window equals min_face_size)."""

    window = 48

    def __init__(self, boxes):
        self.boxes = boxes

    def detect(self, image, min_size, max_size=None):
        return [Face(box) for box in self.boxes]


def with_stub(boxes, **params) -> FaceCropper:
    cropper = FaceCropper(detect=True, **params).fit()
    cropper._detector = StubDetector(boxes)
    return cropper


# -- Face.how ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, how, detected", [
    ({}, FOUND, True),
    ({"detected": False}, CROP, False),
    ({"how": WHOLE_IMAGE}, WHOLE_IMAGE, False),
    ({"how": CROP, "detected": True}, CROP, False),  # how decides
])
def test_how_and_detected_agree(kwargs, how, detected):
    face = Face((0, 0, 10, 10), **kwargs)
    assert (face.how, face.detected) == (how, detected)


def test_unknown_how_is_named():
    with pytest.raises(ValueError, match="Face.how must be one of .*'whole image'.*got 'guessed'"):
        Face((0, 0, 10, 10), how="guessed")


def test_how_travels_through_mapping_and_dict():
    face = Face((1, 2, 3, 4), how=WHOLE_IMAGE).mapped(2.0)
    assert face.how == WHOLE_IMAGE and face.to_dict()["how"] == WHOLE_IMAGE


# -- tight crops: found inside a border ------------------------------------------------------------

@pytest.mark.parametrize("side", [80, 100])
@pytest.mark.parametrize("out", [100, 150, 300, 600])
def test_a_tight_crop_of_any_size_is_found(photo, side, out):
    faces = FaceCropper(fallback="none").fit().find_faces(tight_crop(photo, side, out))
    assert len(faces) == 1 and faces[0].how == FOUND
    assert faces[0].area > 0.4 * out * out  # the face, not a part of it


@pytest.mark.parametrize("out", [150, 300])
def test_boxes_found_inside_the_border_are_reported_clipped_to_the_image(photo, fitted_model, out):
    # The cropper keeps the box past the edge (its crop centred on the face); rows give it in the image's pixels.
    row, = predict_image(fitted_model, tight_crop(photo, 80, out), cropper=FaceCropper(fallback="none").fit())
    x, y, w, h = row["box"]
    assert x >= 0 and y >= 0 and x + w <= out and y + h <= out


def test_a_face_found_without_the_border_is_unchanged(photo, cropper):
    (face,) = cropper.find_faces(photo)
    assert face.how == FOUND and iou(face.box, ASTRONAUT_BOX) > 0.9


@pytest.mark.parametrize("box, expected", [
    ((-10, 5, 50, 50), (0, 5, 30, 35)),
    ((5, 5, 10, 10), (5, 5, 10, 10)),
    ((40, 50, 10, 10), (30, 40, 0, 0)),
])
def test_clip_box(box, expected):
    assert clip_box(box, 30, 40) == expected


# -- whole-image fallback -------------------------------------------------------------------------

@pytest.mark.parametrize("params, shape, whole", [
    ({}, (200, 200), True),
    ({}, (480, 480, 3), True),              # WHOLE_FACTOR: 10 x 48
    ({}, (481, 481), False),
    ({}, (200, 250), True),                 # aspect 1.25
    ({}, (240, 320, 3), False),             # a 4:3 frame
    ({"fallback": "none"}, (200, 200), False),
    ({"output_shape": (64, 48)}, (256, 192), True),  # the output's own aspect
    ({"output_shape": (64, 48)}, (192, 192), False),
    ({}, (104, 78), True),                  # portrait, 1.33 times taller: the portrait rule
    ({}, (140, 78), True),                  # 1.79: within PORTRAIT_ASPECT, 1.8
    ({}, (150, 78), False),                 # 1.92: a strip
    ({}, (78, 104), False),                 # landscape 1.33: a camera frame's shape
    ({}, (481, 300), False),                # portrait but taller than WHOLE_FACTOR x 48
    ({"portrait_aspect": None}, (104, 78), False),
    ({"portrait_aspect": 2.0}, (150, 78), True),
    ({"output_shape": (64, 48)}, (256, 144), True),  # 1.33 times the output's own aspect
])
def test_documented_rule_for_taking_the_whole_image(params, shape, whole):
    assert FaceCropper(**params).fit().takes_whole(shape) is whole


@pytest.mark.parametrize("fallback, expected", [("whole", [Face((0, 0, 200, 200), how=WHOLE_IMAGE)]),
                                                ("none", [])])
def test_a_square_image_without_a_face_follows_fallback(fallback, expected):
    image = np.full((200, 200), 90, np.uint8)
    assert FaceCropper(fallback=fallback).fit().find_faces(image) == expected


def test_a_whole_image_is_cropped_like_the_dataset_loaders(cropper):
    from fer_classic.data._images import resize_gray

    image = np.random.default_rng(0).integers(0, 256, (150, 150), dtype=np.uint8)
    ((face, crop),) = cropper.crop_faces(image)
    assert face.how == WHOLE_IMAGE
    np.testing.assert_array_equal(crop, resize_gray(image, (48, 48)))


# -- portrait rule: tight portrait crops the cascade cannot read ------------------------------------

def portrait(rows: int = 104, cols: int = 78) -> np.ndarray:
    """A faceless portrait-shaped image (like a tight crop of a head) with a dark left and a light right edge."""
    image = np.full((rows, cols), 90, np.uint8)
    image[:, :5], image[:, -5:] = 20, 230
    return image


def test_a_portrait_crop_without_a_face_is_taken_whole(cropper):
    assert cropper.find_faces(portrait()) == [Face((0, 0, 78, 104), how=WHOLE_IMAGE)]


def test_a_portrait_taken_whole_is_framed_as_a_face_box_of_its_height(cropper):
    ((_, crop),) = cropper.crop_faces(portrait())
    # A centred 104 x 104 square, its sides repeating the edge columns: not the portrait stretched.
    framed = cv2.copyMakeBorder(portrait(), 0, 0, 13, 13, cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(crop, resize_gray(framed, (48, 48)))


def test_a_portrait_taken_whole_is_reported_so(fitted_model):
    (row,) = predict_image(fitted_model, portrait())
    assert row["status"] == "ok" and row["how"] == WHOLE_IMAGE and row["box"] == [0, 0, 78, 104]


def test_fallback_none_turns_the_portrait_rule_off():
    assert FaceCropper(fallback="none").fit().find_faces(portrait()) == []


@pytest.mark.parametrize("shape", [(150, 78), (78, 104)], ids=["narrower-than-1.8", "landscape"])
def test_aspect_ratios_beyond_the_portrait_rule_give_no_face(cropper, shape):
    assert cropper.find_faces(portrait(*shape)) == []


def test_video_frames_are_never_taken_whole(tmp_path, fitted_model):
    frame = cv2.cvtColor(portrait(120, 80), cv2.COLOR_GRAY2BGR)
    writer = cv2.VideoWriter(str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (80, 120))
    assert writer.isOpened(), "OpenCV cannot write MJPG/AVI here"
    for _ in range(3):
        writer.write(frame)
    writer.release()
    cv2.imwrite(str(tmp_path / "frame.png"), frame)  # the same picture as a photo is taken whole
    rows = predict_paths(fitted_model, [tmp_path / "clip.avi", tmp_path / "frame.png"]).rows
    video = [row for row in rows if row["source"].endswith("clip.avi")]
    assert video and all(row["status"] == "no face" for row in video)
    assert [row["how"] for row in rows if row["source"].endswith("frame.png")] == [WHOLE_IMAGE]


def test_models_recorded_before_the_portrait_rule_keep_their_rule():
    params = FaceCropper().to_metadata()
    del params["portrait_aspect"]  # what a model saved before the rule records
    old = FaceCropper.from_metadata(params).fit()
    assert old.portrait_aspect is None and old.find_faces(portrait()) == []
    assert FaceCropper.from_metadata(FaceCropper().to_metadata()).portrait_aspect == 1.8


def test_croppers_pickled_before_the_portrait_rule_keep_their_rule():
    cropper = FaceCropper().fit()
    del cropper.portrait_aspect  # a FaceCropper pickled before the rule has no such attribute
    old = pickle.loads(pickle.dumps(cropper))
    assert old.get_params()["portrait_aspect"] is None and old.find_faces(portrait()) == []


def test_images_taken_as_crops_say_so(cropper):
    (face,) = cropper.find_faces(np.zeros((48, 48), np.uint8))
    assert face.how == CROP and not face.detected


# -- overlapping boxes ------------------------------------------------------------------------------

@pytest.mark.parametrize("boxes, kept", [
    ([(0, 0, 100, 100), (30, 45, 40, 40)], [(0, 0, 100, 100)]),          # nose and mouth inside the face
    ([(0, 0, 100, 100), (10, 10, 100, 100)], [(0, 0, 100, 100)]),        # the same face twice
    ([(0, 0, 100, 100), (80, 0, 60, 60)], [(0, 0, 100, 100), (80, 0, 60, 60)]),  # two faces touching
    ([(0, 0, 50, 50), (200, 0, 60, 60)], [(200, 0, 60, 60), (0, 0, 50, 50)]),
])
def test_overlapping_boxes_are_merged_into_the_largest(boxes, kept):
    assert [face.box for face in suppress_overlaps(Face(b) for b in boxes)] == kept


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_faces_of_equal_area_come_in_reading_order_whatever_the_detector_order(order):
    boxes = [(200, 0, 40, 40), (0, 0, 40, 40), (0, 100, 40, 40), (300, 90, 20, 80)]  # all 1,600 pixels
    found = suppress_overlaps(Face(boxes[i]) for i in order)
    assert [face.box for face in found] == [(0, 0, 40, 40), (200, 0, 40, 40), (300, 90, 20, 80), (0, 100, 40, 40)]


@pytest.mark.parametrize("boxes", [[(10, 10, 40, 40), (14, 10, 40, 40)], [(14, 10, 40, 40), (10, 10, 40, 40)]])
def test_a_face_found_twice_near_a_track_keeps_the_same_box_whatever_the_detector_order(boxes):
    cropper = with_stub(boxes)  # two equal boxes of one face (overlap 0.82), in either order
    found = cropper.find_faces_near(np.zeros((160, 160), np.uint8), [(50, 50, 40, 40)])
    assert [face.box for face in found] == [(40, 40, 40, 40)]  # the region starts at (30, 30)


def test_the_cropper_keeps_one_box_per_face():
    cropper = with_stub([(20, 40, 30, 30), (0, 0, 100, 100)])
    assert [face.box for face in cropper.find_faces(np.zeros((120, 160), np.uint8))] == [(0, 0, 100, 100)]


@pytest.mark.parametrize("variant", [
    lambda p: p,
    lambda p: p[:, ::-1],
    lambda p: cv2.resize(p, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA),  # face ~66 px
    lambda p: cv2.resize(p, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC),
    lambda p: cv2.convertScaleAbs(p, alpha=0.6, beta=20),
    lambda p: tight_crop(p, 110, 300),
    lambda p: tight_crop(p, 160, 400),
], ids=["photo", "mirrored", "smaller", "enlarged", "dim", "tight-300", "loose-400"])
def test_a_real_single_face_photo_gives_one_box(photo, cropper, variant):
    # (Faces below min_face_size are not searched: a square photo of up to 480 px would then be taken whole.)
    faces = cropper.find_faces(np.ascontiguousarray(variant(photo)))
    assert len(faces) == 1 and faces[0].how == FOUND


# -- FER2013 faces enlarged (tight crops of real faces) ---------------------------------------------

@requires_fer_folder
@pytest.mark.parametrize("side", [150, 300])
def test_enlarged_fer2013_faces_are_found_or_taken_whole(cropper, side):
    faces = [cropper.find_faces(image) for image in fer_test_faces(150, side)]
    assert np.mean([bool(f) for f in faces]) >= 0.97  # measured: 100 % (about 76 % found, the rest whole)
    assert not any(len(f) > 1 for f in faces)


@requires_fer_folder
def test_enlarged_fer2013_faces_are_mostly_found_by_the_detector():
    cropper = FaceCropper(fallback="none").fit()
    found = [bool(cropper.find_faces(image)) for image in fer_test_faces(150, 150)]
    assert np.mean(found) >= 0.65  # measured 75 % on 1,000 (54 % without the border)


# -- the real-photo benchmark --------------------------------------------------------------------

def load_benchmark():
    return benchmark_module("bench_photos")


@pytest.fixture
def photo_folder(tmp_path, photo):
    """happy/: the astronaut and a tight crop of her face; sad/: a flat square and a flat 4:3 wall."""
    root = tmp_path / "photos"
    (root / "Happy").mkdir(parents=True)
    (root / "sad").mkdir()
    cv2.imwrite(str(root / "Happy" / "astronaut.jpg"), photo)
    cv2.imwrite(str(root / "Happy" / "tight.png"), tight_crop(photo, 100, 300))
    cv2.imwrite(str(root / "sad" / "square.png"), np.full((200, 200), 90, np.uint8))
    cv2.imwrite(str(root / "sad" / "wall.png"), np.full((240, 320), 90, np.uint8))
    return root


def test_benchmark_reports_rules_per_class(tmp_path, fitted_model, photo_folder, capsys):
    bench = load_benchmark()
    model = save_model(fitted_model, tmp_path / "m.joblib")
    out = tmp_path / "result.json"
    assert bench.main([str(model), str(photo_folder), "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["per_class"]["happy"]["found"] == 1.0
    assert result["per_class"]["sad"]["whole image"] == 0.5 and result["per_class"]["sad"]["no face"] == 0.5
    assert result["n_photos"] == 4 and 0 <= result["accuracy"] <= 1
    assert "whole image" in capsys.readouterr().out


def test_benchmark_can_turn_the_portrait_rule_off(tmp_path, fitted_model):
    bench = load_benchmark()
    model = save_model(fitted_model, tmp_path / "m.joblib")
    (tmp_path / "photos" / "sad").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "photos" / "sad" / "tight.png"), portrait())
    rates = {}
    for value in ("1.8", "none"):
        out = tmp_path / f"{value}.json"
        bench.main([str(model), str(tmp_path / "photos"), "--portrait-aspect", value, "--out", str(out)])
        rates[value] = json.loads(out.read_text())["rates"]
    assert rates["1.8"]["whole image"] == 1.0 and rates["none"]["no face"] == 1.0


def test_benchmark_reads_a_labels_file(tmp_path, photo_folder):
    bench = load_benchmark()
    labels = photo_folder / "labels.csv"
    labels.write_text("path,label\nHappy/tight.png,happiness\nsad/wall.png,sad\n")
    assert bench.read_photos(labels) == [(photo_folder / "Happy" / "tight.png", "happy"),
                                         (photo_folder / "sad" / "wall.png", "sad")]


def test_the_border_of_an_elongated_image_stays_bounded(monkeypatch):
    # The border was PAD_FRACTION of the longer side: a 1x100000 strip padded to gigapixels
    # (OpenCV: "Failed to allocate 118755187200 bytes").
    cropper = FaceCropper(detect=True, fallback="none").fit()
    searched = []
    monkeypatch.setattr(cropper, "_search", lambda image, *args: searched.append(image.shape) or [])
    cropper.find_faces(np.full((10, 4000), 128, np.uint8))
    (first, padded) = searched
    assert padded[0] * padded[1] <= 5 * first[0] * first[1]
