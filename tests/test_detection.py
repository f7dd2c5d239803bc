"""Face detection, cropping, alignment and tracking (fer_classic.detection)."""

import json
import os
import pickle

import cv2
import numpy as np
import pytest
from skimage.data import astronaut
from sklearn.base import clone

from conftest import random_gray
from fer_classic.data._images import resize_gray
from fer_classic.detection import Face, FaceCropper, FaceTracker, HaarFaceDetector, eye_angle, find_eyes, iou
from fer_classic.data import perceptual_hashes
from fer_classic.exceptions import FaceDetectorError, ImageDecodeError, NoFaceError

# Hand-marked on skimage.data.astronaut() (512x512): cheek to cheek, hairline to chin.
ASTRONAUT_FACE = (180, 70, 90, 107)
# Hand-marked eye centres (image's left eye first).
ASTRONAUT_EYES = ((203, 100), (247, 102))


@pytest.fixture(scope="module")
def photo():
    """The astronaut as OpenCV holds a colour photo (BGR)."""
    return np.ascontiguousarray(astronaut()[..., ::-1])


@pytest.fixture(scope="module")
def cropper():
    return FaceCropper().fit()


def eye_image(tilt: float, size: int = 200) -> tuple[np.ndarray, Face]:
    """A gray square with two dark 'eyes' 80 px apart on a line tilted by ``tilt`` degrees."""
    image = np.full((size, size), 200, np.uint8)
    c, r = size / 2, 40
    dx, dy = r * np.cos(np.radians(tilt)), r * np.sin(np.radians(tilt))
    eyes = ((c - dx, c - dy), (c + dx, c + dy))
    for x, y in eyes:
        cv2.circle(image, (round(x), round(y)), 6, 0, -1)
    return image, Face((50, 50, 100, 100), eyes=eyes)


def dark_rows(crop: np.ndarray) -> list[float]:
    """Mean row of the dark pixels in the left and right halves of a crop."""
    half = crop.shape[1] // 2
    return [np.nonzero(part < 100)[0].mean() for part in (crop[:, :half], crop[:, half:])]


# -- detection -------------------------------------------------------------------------------

def test_astronaut_face_is_found_where_a_person_would_crop_it(photo, cropper):
    faces = cropper.find_faces(photo)
    assert len(faces) == 1 and faces[0].detected
    assert iou(faces[0].box, ASTRONAUT_FACE) > 0.6


@pytest.mark.parametrize("min_face_size", [24, 48, 80])
def test_searches_at_every_resolution_agree(photo, min_face_size):
    faces = FaceCropper(min_face_size=min_face_size).fit().find_faces(photo)
    assert len(faces) == 1 and iou(faces[0].box, ASTRONAUT_FACE) > 0.6


def test_faces_smaller_than_min_face_size_are_not_searched(photo):
    assert FaceCropper(min_face_size=120).fit().find_faces(photo) == []


def test_image_without_a_face_gives_no_face(cropper):
    assert cropper.find_faces(np.full((300, 400, 3), 127, np.uint8)) == []


@pytest.fixture(scope="module")
def two_astronauts(photo):
    """The photo, and beside it a half-size copy: faces about 95 and 48 px wide."""
    canvas = np.full((512, 900, 3), 127, np.uint8)
    canvas[:, :512] = photo
    canvas[100:356, 600:856] = cv2.resize(photo, (256, 256), interpolation=cv2.INTER_AREA)
    return canvas


def test_all_faces_come_largest_first(two_astronauts):
    faces = FaceCropper(min_face_size=40).fit().find_faces(two_astronauts)
    assert len(faces) == 2 and faces[0].area > faces[1].area and faces[1].box[0] > 600


def test_largest_keeps_one_face(two_astronauts):
    faces = FaceCropper(min_face_size=40, faces="largest").fit().find_faces(two_astronauts)
    assert len(faces) == 1 and faces[0].box[0] < 512


def test_search_near_a_previous_box_finds_only_that_face(two_astronauts):
    cropper = FaceCropper(min_face_size=40).fit()
    small = cropper.find_faces(two_astronauts)[1]
    moved = (small.box[0] - 6, small.box[1] + 4, *small.box[2:])
    found = cropper.find_faces_near(two_astronauts, [moved])
    assert len(found) == 1 and iou(found[0].box, small.box) > 0.7


@pytest.mark.parametrize("box", [(600, 100, 106, 106), (170, 62, 0, 0), (-300, -300, 100, 100)],
                         ids=["right of the image", "no area", "far above left"])
def test_a_box_outside_the_image_or_of_no_area_is_skipped_by_the_search_near(photo, cropper, box):
    # Were "ImageDecodeError: An image array has shape (212, 0)", and a negative end sliced from the far side.
    assert cropper.crop_faces(photo, near=[box]) == []
    assert len(cropper.crop_faces(photo, near=[box, ASTRONAUT_FACE])) == 1


def test_overlapping_search_regions_find_a_face_once(photo, cropper):
    box = cropper.find_faces(photo)[0].box
    assert len(cropper.find_faces_near(photo, [box, (box[0] + 5, *box[1:])])) == 1


@pytest.mark.parametrize("detect, shape, searched", [
    ("auto", (48, 48), False),      # FER2013 crop
    ("auto", (96, 96), False),      # up to twice the model side
    ("auto", (97, 60), True),
    ("auto", (480, 640, 3), True),
    (True, (48, 48), True),
    (False, (480, 640, 3), False),
])
def test_documented_rule_for_skipping_detection(detect, shape, searched):
    assert FaceCropper(detect=detect).fit().needs_detection(shape) is searched


def test_a_face_crop_is_resized_like_the_dataset_loaders(cropper):
    image = random_gray((60, 50), seed=3)
    (face, crop), = cropper.crop_faces(image)
    assert face == Face((0, 0, 50, 60), detected=False) and face.how == "crop"
    np.testing.assert_array_equal(crop, resize_gray(image, (48, 48)))


def test_fer2013_sized_crops_pass_unchanged(cropper):
    image = random_gray((48, 48), seed=4)
    np.testing.assert_array_equal(cropper.transform([image]), image.reshape(1, -1))


# -- cropping ----------------------------------------------------------------------------------

def test_crop_is_the_box_resized_to_the_model_geometry(photo, cropper):
    face, crop = cropper.crop_faces(photo)[0]
    x, y, w, h = face.box
    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    np.testing.assert_array_equal(crop, resize_gray(gray[y : y + h, x : x + w], (48, 48)))


@pytest.mark.parametrize("margin, border_dark", [(0.0, False), (0.5, True)])
def test_margin_widens_the_crop_around_the_box(margin, border_dark):
    image = np.zeros((300, 300), np.uint8)
    image[100:200, 100:200] = 255
    crop = FaceCropper(margin=margin).fit().crop(image, Face((100, 100, 100, 100)))
    assert crop[24, 24] == 255
    assert bool(crop[1, 1] == 0) is border_dark


@pytest.mark.parametrize("shape", [(48, 48), (64, 48), (32, 40)])
def test_crops_take_the_output_shape(photo, shape):
    (_, crop), = FaceCropper(output_shape=shape).fit().crop_faces(photo)
    assert crop.shape == shape and crop.dtype == np.uint8


def test_a_box_leaving_the_image_repeats_its_border():
    image = random_gray((100, 100), seed=5)
    crop = FaceCropper(output_shape=(40, 40)).fit().crop(image, Face((-20, -20, 40, 40)))
    assert crop.shape == (40, 40)
    assert (crop[:20, :20] == image[0, 0]).all()


# -- alignment ---------------------------------------------------------------------------------

@pytest.mark.parametrize("eyes, angle", [
    (((0, 0), (10, 0)), 0.0),
    (((0, 0), (10, 10)), 45.0),
    (((10, 0), (0, 10)), -45.0),  # order-free: the image's left eye is taken first
])
def test_eye_angle(eyes, angle):
    assert eye_angle(eyes) == pytest.approx(angle)


@pytest.mark.parametrize("tilt", [-20.0, 12.0])
def test_alignment_levels_the_eyes(tilt):
    image, face = eye_image(tilt)
    left, right = dark_rows(FaceCropper(align=True, output_shape=(100, 100)).fit().crop(image, face))
    assert abs(left - right) < 1.5


def test_without_alignment_tilted_eyes_stay_tilted():
    image, face = eye_image(12.0)
    left, right = dark_rows(FaceCropper(output_shape=(100, 100)).fit().crop(image, face))
    assert right - left > 10


def test_eye_cascade_finds_the_astronauts_eyes(photo, cropper):
    face = cropper.find_faces(photo)[0]
    eyes = find_eyes(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), face.box)
    assert eyes is not None
    np.testing.assert_allclose(eyes, ASTRONAUT_EYES, atol=8)


# -- fitting, transform, parameters --------------------------------------------------------------

def test_transform_gives_one_row_per_image(photo, cropper):
    rows = cropper.transform([photo, random_gray((48, 48))])
    assert rows.shape == (2, 48 * 48) and rows.dtype == np.uint8


def test_transform_names_images_without_a_face(photo, cropper):
    with pytest.raises(NoFaceError, match=r"1 of 2 images \(index 1\).*detect=False"):
        cropper.transform([photo, np.full((200, 300), 90, np.uint8)])  # not square: no fallback


@pytest.mark.parametrize("params, message", [
    ({"detect": "yes"}, r"'detect' parameter .* among \{'auto'\} or .*'bool'.* Got 'yes'"),
    ({"fallback": "crop"}, r"'fallback' parameter .* among .*'whole'.* Got 'crop'"),
    ({"detector": "dnn"}, r"'detector' parameter .* among .*'yunet'.* Got 'dnn'"),
    ({"faces": "one"}, r"'faces' parameter .* among .*'largest'.* Got 'one'"),
    ({"margin": 3}, r"'margin' parameter .* range \[-0.4, 2.0\]. Got 3"),
    ({"align": "yes"}, r"'align' parameter .*'bool'.* Got 'yes'"),
    ({"min_face_size": 0}, r"'min_face_size' parameter .* range \[1, inf\). Got 0"),
    ({"scale_factor": 1.0}, r"'scale_factor' parameter .* range \[1.01, 10.0\]. Got 1.0"),
    ({"scale_factor": 1.0000001}, r"'scale_factor' parameter .* range \[1.01, 10.0\]. Got 1.0000001"),
    ({"scale_factor": 1e9}, r"'scale_factor' parameter .* range \[1.01, 10.0\]. Got 1000000000.0"),
    ({"min_neighbors": 10**12}, r"'min_neighbors' parameter .* range \[0, 2147483647\]. Got 1000000000000"),
    ({"detector_model": ""}, r"'detector_model' parameter of FaceCropper is an empty string \(''\)"),
    ({"output_shape": 2}, r"'output_shape' parameter .* range \[4, inf\).* Got 2"),
    ({"portrait_aspect": 0.5}, r"'portrait_aspect' parameter .* range \[1.0, inf\) or None. Got 0.5"),
    ({"detector": "yunet"}, "needs detector_model"),
    ({"detector": "yunet", "detector_model": "/no/such/yunet.onnx"}, "/no/such/yunet.onnx does not exist"),
    ({"detector_model": "/no/such/cascade.xml"}, "cascade '/no/such/cascade.xml' not found"),
])
def test_invalid_parameters_are_named_at_fit(params, message):
    cropper = FaceCropper(**params)  # __init__ only stores them
    with pytest.raises(FaceDetectorError, match=message):
        cropper.fit()


@pytest.mark.parametrize("detector", ["haar", "yunet"])
def test_a_file_that_is_no_detector_model_is_rejected(tmp_path, detector):
    bogus = tmp_path / "model.onnx"
    bogus.write_text("not a model")
    with pytest.raises(FaceDetectorError, match="model.onnx"):
        FaceCropper(detector=detector, detector_model=bogus).fit()


@pytest.mark.parametrize("kind, message", [
    ("folder", r"YuNet model file .*/yunet is a folder, not a file; give the path of the file itself\.$"),
    ("fifo", r"YuNet model file .*/yunet is not a regular file \(it is a FIFO \(named pipe\)\)"),
])
def test_a_yunet_path_that_is_no_regular_file_is_named_so(tmp_path, kind, message):
    # It said "does not exist" for a file that exists, and a FIFO must never be opened (it blocks).
    path = tmp_path / "yunet"
    path.mkdir() if kind == "folder" else os.mkfifo(path)
    with pytest.raises(FaceDetectorError, match=message):
        FaceCropper(detector="yunet", detector_model=path).fit()


def test_a_missing_yunet_file_names_the_option_of_the_command_line_too():
    with pytest.raises(FaceDetectorError, match=r"does not exist; .* or use detector='haar' \(on the command line: "
                       r"leave out --yunet\)\.$"):
        FaceCropper(detector="yunet", detector_model="/no/such/yunet.onnx").fit()


def test_a_dangling_yunet_link_gets_the_whole_advice(tmp_path):
    # It passed lexists and got only the regular-file check's "does not exist", without where to download.
    link = tmp_path / "yunet.onnx"
    link.symlink_to(tmp_path / "models" / "face_detection_yunet_2023mar.onnx")
    with pytest.raises(FaceDetectorError, match=r"yunet\.onnx is a symbolic link to .*/models/face_detection_yunet_"
                       r"2023mar\.onnx, which does not exist; download .* leave out --yunet\)\.$"):
        FaceCropper(detector="yunet", detector_model=link).fit()


def test_pil_images_are_transformed_as_predict_image_converts_them(photo, cropper):
    from PIL import Image

    rgb = Image.fromarray(np.ascontiguousarray(photo[..., ::-1]))  # its RGB was read as BGR
    np.testing.assert_array_equal(cropper.transform([rgb]), cropper.transform([photo]))


def test_pil_images_are_cropped_as_predict_image_converts_them(photo, cropper):
    from PIL import Image

    rgb = Image.fromarray(np.ascontiguousarray(photo[..., ::-1]))
    (face, crop), = cropper.crop_faces(rgb)
    np.testing.assert_array_equal(crop, cropper.crop_faces(photo)[0][1])


def test_transform_of_one_pil_image_asks_for_a_list(photo, cropper):
    from PIL import Image

    with pytest.raises(TypeError, match=r"transform\(\[image\]\)"):
        cropper.transform(Image.fromarray(np.ascontiguousarray(photo[..., ::-1])))


def _stub_yunet_cropper(boxes_for):
    """A fitted cropper searching at full size with a stub of YuNet: ``boxes_for(image)`` gives its boxes."""
    import threading

    from fer_classic.detection._yunet import YuNetFaceDetector

    class Net:
        def setInputSize(self, size):
            pass

        def detect(self, image):
            boxes = boxes_for(image)
            return 1, np.array([[*box, *eyes, 0, 0, 0, 0, 0, 0, 0.95] for box, eyes in boxes], np.float32)

    detector = YuNetFaceDetector.__new__(YuNetFaceDetector)
    detector.model_file, detector._lock, detector._net = "stub.onnx", threading.Lock(), Net()
    detector.window = 10_000  # no search shrinks the image: the stub's boxes are in its pixels
    cropper = FaceCropper(detect=True, fallback="none", min_face_size=10).fit()
    cropper._detector = detector
    return cropper


def _marked_centre(crop: np.ndarray) -> tuple[int, int]:
    """Column and row of the bright cross drawn by :func:`_cross` in a crop."""
    return int(np.argmax(crop.mean(axis=0))), int(np.argmax(crop.mean(axis=1)))


def _cross(x: int, y: int, shape=(300, 300)) -> np.ndarray:
    """A dark image with a bright vertical and horizontal line crossing at ``(x, y)``: a face's centre."""
    image = np.full(shape, 40, np.uint8)
    image[:, x - 1 : x + 2] = 230
    image[y - 1 : y + 2, :] = 230
    return image


def test_a_yunet_box_past_the_left_and_top_edges_is_kept_whole():
    # YuNet's output for a 100x100 face whose left 40 and top 10 px lie outside the 300x300 image
    cropper = _stub_yunet_cropper(lambda image: [((-40, -10, 100, 100), (-15, 30, 35, 30))])
    (face, _), = cropper.crop_faces(_cross(10, 40))
    assert face.box == (-40, -10, 100, 100)  # it slid to (0, 0, 100, 100): 40 % background, off the eyes


def test_a_yunet_box_past_the_left_and_top_edges_gives_a_crop_centred_on_the_face():
    cropper = _stub_yunet_cropper(lambda image: [((-40, -10, 100, 100), (-15, 30, 35, 30))])
    (_, crop), = cropper.crop_faces(_cross(10, 40))  # the face's centre: (-40 + 50, -10 + 50)
    column, row = _marked_centre(crop)
    assert abs(column - 23.5) <= 1 and abs(row - 23.5) <= 1


def _found_only_in_the_border(image):
    # Nothing in the 300x300 image itself; in its bordered copy a 200 px face 60 px past the left edge.
    pad = (image.shape[1] - 300) // 2
    return [((pad - 60, pad + 50, 200, 200), (pad - 10, pad + 110, pad + 90, pad + 110))] if pad else []


def test_a_face_found_inside_the_border_keeps_its_box_past_the_edge():
    (face, _), = _stub_yunet_cropper(_found_only_in_the_border).crop_faces(_cross(40, 150))
    assert face.box == (-60, 50, 200, 200)  # clipped to (0, 50, 140, 200) before


def test_a_face_found_inside_the_border_gives_a_crop_centred_on_the_face():
    (_, crop), = _stub_yunet_cropper(_found_only_in_the_border).crop_faces(_cross(40, 150))
    column, row = _marked_centre(crop)  # the face's centre (40, 150): column 16 of 48 when clipped
    assert abs(column - 23.5) <= 1 and abs(row - 23.5) <= 1


def test_an_opencv_failure_is_named_and_does_not_break_later_detection(photo, cropper):
    # The thread's cached cascade stayed broken: every later cropper failed with the same cv2.error.
    with pytest.raises(FaceDetectorError, match=r"213x213 image \(scale_factor=1.0000001"):
        HaarFaceDetector(scale_factor=1.0000001).detect(cv2.resize(photo[..., 0], (213, 213)), 24)
    assert len(cropper.find_faces(photo)) == len(FaceCropper().fit().find_faces(photo)) == 1


def test_an_opencv_failure_while_cropping_names_the_image_size(monkeypatch):
    def fail(*args, **kwargs):
        raise cv2.error("Failed to allocate 118755187200 bytes")

    monkeypatch.setattr(cv2, "copyMakeBorder", fail)  # the border of the padded search
    with pytest.raises(FaceDetectorError, match="from a 120x100 image failed in OpenCV: Failed to allocate"):
        FaceCropper(detect=True).fit().crop_faces(np.full((100, 120), 90, np.uint8))


def test_unfitted_cropper_refuses_to_crop(photo):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        FaceCropper().crop_faces(photo)


@pytest.mark.parametrize("copy", [lambda c: pickle.loads(pickle.dumps(c)), clone])
def test_cropper_pickles_and_clones_without_opencv_objects(photo, cropper, copy):
    copied = copy(cropper)
    copied = copied if hasattr(copied, "output_shape_") else copied.fit()
    assert copied.find_faces(photo) == cropper.find_faces(photo)


def test_metadata_round_trip_is_json_ready():
    cropper = FaceCropper(margin=0.1, align=True, output_shape=(64, 48), faces="largest")
    stored = json.loads(json.dumps(cropper.to_metadata()))
    assert FaceCropper.from_metadata(stored).get_params() == cropper.get_params()


def test_unknown_stored_parameter_is_named():
    with pytest.raises(FaceDetectorError, match=r"\['blur'\].*upgrade fer-classic"):
        FaceCropper.from_metadata({"blur": 3})


# -- boxes and tracking -----------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, expected", [
    ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
    ((0, 0, 10, 10), (5, 0, 10, 10), 1 / 3),
    ((0, 0, 10, 10), (10, 0, 10, 10), 0.0),
    ((0, 0, 10, 10), (2, 2, 5, 5), 0.25),
])
def test_iou(a, b, expected):
    assert iou(a, b) == pytest.approx(expected)


def test_tracker_follows_two_moving_faces():
    tracker = FaceTracker()
    scores = np.eye(2)
    ids = [[t.id for t in tracker.update(f, [(10 + 3 * f, 10, 40, 40), (200 - 3 * f, 50, 40, 40)], scores)]
           for f in range(6)]
    assert ids == [[1, 2]] * 6


def test_tracker_starts_a_new_track_after_too_many_misses():
    tracker = FaceTracker(max_missed=1)
    box, scores = [(10, 10, 40, 40)], np.ones((1, 2))
    first = tracker.update(0, box, scores)[0].id
    tracker.update(1, [], np.empty((0, 2)))
    assert tracker.update(2, box, scores)[0].id == first       # one miss: kept
    tracker.update(3, [], np.empty((0, 2)))
    tracker.update(4, [], np.empty((0, 2)))
    assert tracker.update(5, box, scores)[0].id != first       # two misses: ended


def test_smoothed_scores_average_the_window():
    tracker = FaceTracker(window=2)
    for frame, row in enumerate([[1.0, 0.0], [0.0, 1.0], [0.0, 0.5]]):
        track = tracker.update(frame, [(0, 0, 10, 10)], np.array([row]))[0]
    np.testing.assert_allclose(track.smoothed(), [0.0, 0.75])
    summary, = tracker.summary(["a", "b"])
    assert summary["label"] == "b" and summary["n_frames"] == 3 and summary["first_frame"] == 0


def test_tracks_seen_in_too_few_frames_are_not_confirmed():
    tracker = FaceTracker(min_frames=3)
    for frame in range(4):
        boxes = [(10, 10, 40, 40)] + ([(200, 10, 40, 40)] if frame == 2 else [])
        tracker.update(frame, boxes, np.ones((len(boxes), 2)))
    assert tracker.confirmed() == {1}
    assert [t["track"] for t in tracker.summary(["a", "b"])] == [1]


class _ReferenceTracker:
    """FaceTracker's algorithm as first written: every update scans every track ever made (the specification)."""

    def __init__(self, iou_threshold=0.3, max_missed=5, window=5, min_frames=3):
        self.iou_threshold, self.max_missed = iou_threshold, max_missed
        self.window, self.min_frames = window, min_frames
        self.tracks, self.updates = [], 0

    def update(self, frame, boxes, scores):
        from collections import deque

        self.updates += 1
        alive = [t for t in self.tracks if t["missed"] <= self.max_missed]
        pairs = sorted(((iou(t["box"], box), ti, bi) for ti, t in enumerate(alive) for bi, box in enumerate(boxes)),
                       reverse=True)
        owner, taken = {}, set()
        for overlap, ti, bi in pairs:
            if overlap < self.iou_threshold:
                break
            if ti not in taken and bi not in owner:
                owner[bi] = alive[ti]
                taken.add(ti)
        for ti, t in enumerate(alive):
            if ti not in taken:
                t["missed"] += 1
        result = []
        for bi, box in enumerate(boxes):
            row = np.asarray(scores[bi], dtype=float)
            t = owner.get(bi)
            if t is None:
                t = {"id": len(self.tracks) + 1, "first_frame": frame, "recent": deque(maxlen=self.window),
                     "total": np.zeros_like(row), "n_frames": 0}
                self.tracks.append(t)
            t.update(box=tuple(box), last_frame=frame, missed=0, n_frames=t["n_frames"] + 1, total=t["total"] + row)
            t["recent"].append(row)
            result.append(t)
        return result

    def confirmed(self):
        return {t["id"] for t in self.tracks if t["n_frames"] >= min(self.min_frames, self.updates)}


def _churning_detections(n_frames, seed):
    """Faces entering, moving, jumping, flickering and leaving; coarse positions, so equal overlaps (ties) occur."""
    rng = np.random.default_rng(seed)
    faces, frames = [], []
    for _ in range(n_frames):
        faces = [f for f in faces if rng.random() > 0.03]                        # leaving
        faces += [[rng.integers(0, 8) * 20, rng.integers(0, 4) * 20] for _ in range(rng.poisson(0.15))]  # entering
        for face in faces:
            face[0] += int(rng.integers(-1, 2)) * 4                              # moving
            if rng.random() < 0.03:
                face[1] += 40                                                    # jumping: a new track
        boxes = [(x, y, 40, 40) for x, y in faces if rng.random() > 0.1]         # detector flicker
        if boxes and rng.random() < 0.05:
            boxes.append(boxes[0])                                               # a face detected twice
        frames.append((boxes, rng.random((len(boxes), 3))))
    return frames


@pytest.mark.parametrize("params", [{}, {"max_missed": 0, "window": 1, "min_frames": 1},
                                    {"max_missed": 2, "iou_threshold": 0.5, "window": 3, "min_frames": 5}])
def test_tracker_gives_what_scanning_every_track_gives(params):
    # The tracker keeps only the tracks that can still match in its per-frame scan (F3): every id, smoothed
    # score, track field, confirmed set and summary must stay those of the full scan, equal overlaps included.
    tracker, reference = FaceTracker(**params), _ReferenceTracker(**params)
    got, want = [], []
    for frame, (boxes, scores) in enumerate(_churning_detections(2000, seed=len(repr(params)))):
        if frame == 1500:  # a parameter set between updates (ended tracks with few misses come back)
            tracker.max_missed = reference.max_missed = reference.max_missed + 3
        got.append([(t.id, t.box, t.first_frame, t.last_frame, t.n_frames, t.missed, t.smoothed().tolist(),
                     t.total.tolist()) for t in tracker.update(frame, boxes, scores)])
        want.append([(t["id"], t["box"], t["first_frame"], t["last_frame"], t["n_frames"], t["missed"],
                      np.mean(t["recent"], axis=0).tolist(), t["total"].tolist())
                     for t in reference.update(frame, boxes, scores)])
    first_difference = next((frame for frame, (g, w) in enumerate(zip(got, want)) if g != w), None)
    assert first_difference is None
    assert len(reference.tracks) > 300  # churn enough to end many tracks
    assert [(t.id, t.missed) for t in tracker._tracks] == [(t["id"], t["missed"]) for t in reference.tracks]
    assert tracker.confirmed() == reference.confirmed()
    summary = tracker.summary(["a", "b", "c"])
    assert [s["track"] for s in summary] == sorted(reference.confirmed())
    assert [s["n_frames"] for s in summary] == [t["n_frames"] for t in reference.tracks if t["id"] in
                                                reference.confirmed()]


def test_tracker_update_examines_only_live_tracks(monkeypatch):
    # The work of an update must not grow with the tracks that ended (F3: a long video's every track was scanned
    # per frame). Counted as the Track objects an update reads, not seconds.
    from fer_classic.detection import _tracking

    examined = set()

    class CountingTrack(_tracking.Track):
        def __getattribute__(self, name):
            examined.add(object.__getattribute__(self, "id"))
            return object.__getattribute__(self, name)

    monkeypatch.setattr(_tracking, "Track", CountingTrack)
    tracker, scores = FaceTracker(max_missed=2), np.ones((1, 2))

    def examined_per_update(n_ended):
        # A face jumping every frame: each update ends one track (after 2 misses) and starts one.
        start = tracker._updates
        for frame in range(start, start + n_ended):
            tracker.update(frame, [(50 * frame, 0, 40, 40)], scores)
        counts = []
        for frame in range(start + n_ended, start + n_ended + 5):
            examined.clear()
            tracker.update(frame, [(50 * frame, 0, 40, 40)], scores)
            counts.append(len(examined))
        return max(counts)

    few, many = examined_per_update(20), examined_per_update(2000)
    assert len(tracker._tracks) > 2000
    assert few == many <= tracker.max_missed + 2  # the live tracks and the new one


@pytest.mark.parametrize("shape", [(0, 48), (48,), (48, 48, 2), (48, 48, 5)])
@pytest.mark.parametrize("use", [lambda x: FaceCropper().fit().crop_faces(x), lambda x: perceptual_hashes([x])],
                         ids=["crop_faces", "perceptual_hashes"])
def test_an_array_that_is_not_one_image_is_named_with_its_shape(shape, use):
    # Were an IndexError deep in the cropper and OpenCV's "Bad number of channels".
    with pytest.raises(ImageDecodeError, match=rf"has shape \({shape[0]},"):
        use(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("shape", [(48, 48, 3), (64, 48, 4), (48, 48)])
def test_transform_of_one_image_asks_for_a_list(cropper, shape):
    # Iterated, a 48x48x3 image gave 48 rows of garbage (48x3 "images"), a gray one "shape (48,)".
    with pytest.raises(ImageDecodeError, match=rf"X has shape \({shape[0]}, .*pass a list of images: transform"):
        cropper.transform(np.full(shape, 90, np.uint8))


@pytest.mark.parametrize("X", ["face.png", ["face.png"]], ids=["path", "list of paths"])
def test_transform_of_paths_says_it_takes_image_arrays(cropper, X):
    with pytest.raises(TypeError, match=r"is a path \('face.png'\); FaceCropper.transform takes .*image arrays"):
        cropper.transform(X)
