"""`describe`: counts, sizes, unreadable files, exact and near duplicates, leakage; `dedupe` in memory."""

import csv
import json
import shutil
import struct
import warnings

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from conftest import random_gray, tree_digest, write_csv_dataset
from fer_classic import fit_model
from fer_classic.cli import main
from fer_classic.data import (
    DEFAULT_NEAR_THRESHOLD,
    DUPLICATE_CSV_COLUMNS,
    FaceDataset,
    dedupe,
    describe_dataset,
    duplicate_groups,
    duplicates_of,
    hamming_distance,
    perceptual_hashes,
    pixel_digest,
)
from fer_classic.data import _images
from fer_classic.exceptions import DataLeakageWarning, DatasetError


def smooth_faces(n: int, seed: int, size: int = 48) -> np.ndarray:
    """Distinct smooth random images (unlike noise, they behave like photos under pHash)."""
    noise = random_gray((n, 12, 12), seed=seed)
    images = [cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC) for img in noise]
    return np.stack([(img // 2 + 60).astype(np.uint8) for img in images])  # 60..187: room to brighten


@pytest.fixture
def planted(tmp_path):
    """train/test class folders with known duplicates, one unreadable file and one 64x64 color image.

    Planted: within train 1 exact copy; across train/test 1 exact copy (test/sad/leak.png);
    within test 1 near pair; across train/test 1 near pair; train/sad/broken.png unreadable.
    """
    root = tmp_path / "planted"
    images = iter(smooth_faces(30, seed=11))
    for split, n in (("train", 6), ("test", 3)):
        for label in ("happy", "sad"):
            folder = root / split / label
            folder.mkdir(parents=True)
            for i in range(n):
                cv2.imwrite(str(folder / f"{label}{i}.png"), next(images))
    shutil.copy(root / "train/happy/happy0.png", root / "train/happy/copy_of_happy0.png")
    shutil.copy(root / "train/sad/sad1.png", root / "test/sad/leak.png")
    brighter = cv2.imread(str(root / "test/happy/happy0.png"), cv2.IMREAD_GRAYSCALE) + 3
    cv2.imwrite(str(root / "test/happy/near_happy0.png"), brighter)
    brighter = cv2.imread(str(root / "train/happy/happy2.png"), cv2.IMREAD_GRAYSCALE) + 3
    cv2.imwrite(str(root / "test/happy/near_train_happy2.png"), brighter)
    color = cv2.cvtColor(cv2.resize(next(images), (64, 64)), cv2.COLOR_GRAY2BGR)
    cv2.imwrite(str(root / "train/sad/color.png"), color)
    (root / "train/sad/broken.png").write_bytes(b"not an image")
    return root


@pytest.fixture
def described(planted):
    with pytest.warns(DataLeakageWarning):
        return describe_dataset(planted)


@pytest.mark.parametrize("kind, scope, key, expected", [
    ("exact", "within train", "extra_copies", 1),
    ("exact", "within test", "groups", 0),
    ("exact", "across train/test", "test_images", 1),
    ("exact", "across train/test", "train_images", 1),
    ("near", "within train", "pairs", 0),
    ("near", "within test", "pairs", 1),
    ("near", "across train/test", "test_images", 1),
])
def test_planted_duplicates_are_counted(described, kind, scope, key, expected):
    assert described.duplicates.counts()[kind][scope][key] == expected


def test_leakage_counts_test_images_found_in_train(described):
    assert described.leaked() == (1, 1)


def test_leakage_warning_names_the_fix(planted):
    with pytest.warns(DataLeakageWarning, match="test image.*dedupe"):
        describe_dataset(planted)


def test_clean_dataset_gives_no_leakage_warning(planted, recwarn):
    (planted / "test/sad/leak.png").unlink()
    (planted / "test/happy/near_train_happy2.png").unlink()
    result = describe_dataset(planted)
    assert result.leaked() == (0, 0) and result.leakage_message() is None
    assert not [w for w in recwarn if issubclass(w.category, DataLeakageWarning)]


def test_a_validation_copy_of_a_training_image_is_warned(planted):
    (planted / "val" / "sad").mkdir(parents=True)
    shutil.copy(planted / "train/sad/sad2.png", planted / "val/sad/val_leak.png")
    with pytest.warns(DataLeakageWarning, match="1 validation image.*validation scores are inflated"):
        found = describe_dataset(planted)
    assert "score the validation images of fer_classic.data.dedupe" in found.leakage_message()


def test_summary_counts_validation_images_found_in_train(planted):
    (planted / "val" / "sad").mkdir(parents=True)
    shutil.copy(planted / "train/sad/sad2.png", planted / "val/sad/val_leak.png")
    assert describe_dataset(planted, warn=False).summary()["val_in_train"] == {"exact": 1, "near": 0}


@pytest.mark.parametrize("n_images, words", [(1, "1 readable image,"), (2, "2 readable images,")])
def test_the_text_counts_readable_images_in_words(tmp_path, n_images, words):
    for i in range(n_images):
        folder = tmp_path / "data" / "train" / "happy"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(random_gray((48, 48), seed=i)).save(folder / f"{i}.png")
    assert words in describe_dataset(tmp_path / "data", warn=False).format().splitlines()[0]


def test_an_unreadable_file_with_a_newline_in_its_name_is_listed_on_one_line(tmp_path):
    folder = tmp_path / "data" / "train" / "happy"
    folder.mkdir(parents=True)
    Image.fromarray(random_gray((48, 48))).save(folder / "ok.png")
    (folder / "bad\nname.png").write_bytes(b"not an image")
    lines = describe_dataset(tmp_path / "data", warn=False).format().splitlines()
    listed = [line for line in lines if "bad" in line]
    assert len(listed) == 1 and "bad\\nname.png" in listed[0] and all(line.isprintable() for line in lines)


def test_an_unreadable_file_of_a_labels_file_is_named_once(tmp_path):
    # "/x/notes.csv: /x/notes.csv: not a decodable image": the loader's reason names the file already.
    cv2.imwrite(str(tmp_path / "a.png"), smooth_faces(1, seed=2)[0])
    (tmp_path / "notes.csv").write_text("not an image\n")
    (tmp_path / "labels.csv").write_text("image,label\na.png,happy\nnotes.csv,happy\n")
    with pytest.warns(UserWarning, match="notes.csv"):
        found = describe_dataset(tmp_path / "labels.csv")
    assert [(source, reason[:26]) for source, reason in found.unreadable] == [
        (str(tmp_path / "notes.csv"), "not a decodable image: its")]


def test_the_modes_of_a_labels_file_s_images_are_said_to_be_the_loaded_ones(tmp_path):
    # "Modes: unsplit: L 1" for a color photo: the loaded gray array's mode, read as the file's.
    cv2.imwrite(str(tmp_path / "a.png"), np.dstack([smooth_faces(1, seed=2)[0]] * 3))
    (tmp_path / "labels.csv").write_text("image,label\na.png,happy\n")
    lines = describe_dataset(tmp_path / "labels.csv", warn=False).format().splitlines()
    assert "Modes, of the loaded images (every image is read as gray): unsplit: L 1" in lines


def test_a_sideways_photo_s_size_is_reported_upright(tmp_path):
    # Stored 48 wide, 24 high, EXIF orientation 6: loading reads it 24x48; describe said 48x24.
    (tmp_path / "happy").mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(smooth_faces(1, seed=3, size=48)[0][:24]).save(tmp_path / "happy" / "phone.jpg", exif=exif)
    assert describe_dataset(tmp_path).sizes == {"unsplit": {"24x48": 1}}


def test_class_counts_per_split(described):
    assert described.class_counts["train"] == {"happy": 7, "sad": 7}
    assert described.class_counts["test"] == {"happy": 5, "sad": 4}


@pytest.mark.parametrize("table, value", [("sizes", "64x64"), ("modes", "RGB"), ("formats", "PNG")])
def test_sizes_modes_and_formats_come_from_the_files(described, table, value):
    assert value in getattr(described, table)["train"]


def test_unreadable_file_is_listed_with_reason(described, planted):
    assert [source for source, _ in described.unreadable] == [str(planted / "train/sad/broken.png")]
    assert "not a decodable image" in described.unreadable[0][1]


def test_describe_never_changes_the_files(planted, tmp_path):
    before = tree_digest(planted)
    with pytest.warns(DataLeakageWarning):
        describe_dataset(planted).write_duplicates_csv(tmp_path / "d.csv")
    assert tree_digest(planted) == before


def test_duplicates_csv_marks_the_leaked_test_copy_for_dropping(described, planted, tmp_path):
    with open(described.write_duplicates_csv(tmp_path / "d.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == DUPLICATE_CSV_COLUMNS
    leak = next(r for r in rows if r["source"] == str(planted / "test/sad/leak.png"))
    train_copy = next(r for r in rows if r["source"] == str(planted / "train/sad/sad1.png"))
    assert (leak["kind"], leak["dedupe"], train_copy["dedupe"]) == ("exact", "drop", "keep")


def test_summary_is_json_ready(described):
    summary = json.loads(json.dumps(described.summary()))
    assert summary["test_in_train"] == {"exact": 1, "near": 1}


def test_describe_csv_counts_duplicated_rows(tmp_path, tiny_faces):
    train = np.flatnonzero(tiny_faces.splits == "train")
    doubled = tiny_faces.subset(np.concatenate([np.arange(len(tiny_faces)), train[:2]]))
    path = write_csv_dataset(tmp_path / "f.csv", doubled)
    result = describe_dataset(path, warn=False)  # the synthetic cartoons are near duplicates
    assert result.duplicates.counts()["exact"]["within train"]["extra_copies"] == 2
    assert result.sizes["train"] == {"48x48": len(train) + 2}


@pytest.mark.parametrize("threshold", [-1, 65, 2.5, True])
def test_threshold_is_validated_before_reading(threshold):
    with pytest.raises(ValueError, match="threshold must be an int from 0 to 64"):
        describe_dataset("/no/such/dataset", threshold=threshold)


def test_missing_path_is_a_dataset_error():
    with pytest.raises(DatasetError, match="does not exist"):
        describe_dataset("/no/such/dataset")


@pytest.mark.parametrize("data", ["", " "])
def test_an_empty_path_is_refused_as_load_dataset_refuses_it(tmp_path, monkeypatch, data):
    # Path("") is ".": the current folder was described as the dataset.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "happy").mkdir()
    cv2.imwrite(str(tmp_path / "happy" / "a.png"), smooth_faces(1, seed=1)[0])
    with pytest.raises(DatasetError, match="The dataset path is empty; give a class-folder tree"):
        describe_dataset(data)


# --- hashes ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def face():
    return smooth_faces(1, seed=5)[0]


@pytest.mark.parametrize("change, near", [
    (lambda im: im, True),
    (lambda im: im + 10, True),  # brighter
    (lambda im: cv2.imdecode(cv2.imencode(".jpg", im, [cv2.IMWRITE_JPEG_QUALITY, 70])[1], 0), True),
    (lambda im: cv2.resize(cv2.resize(im, (96, 96)), (48, 48)), True),
    (lambda im: smooth_faces(1, seed=99)[0], False),  # another image
])
def test_phash_distance_separates_copies_from_other_images(face, change, near):
    distance = hamming_distance(*perceptual_hashes([face, change(face)]))
    assert bool(distance <= DEFAULT_NEAR_THRESHOLD) is near


def test_phash_sets_32_of_64_bits(face):
    assert hamming_distance(perceptual_hashes([face])[0], 0) == 32


def test_phash_accepts_color_and_other_sizes(face):
    color = cv2.cvtColor(cv2.resize(face, (96, 96)), cv2.COLOR_GRAY2BGR)
    assert hamming_distance(*perceptual_hashes([face, color])) <= DEFAULT_NEAR_THRESHOLD


@pytest.mark.parametrize("a, b, expected", [(0, 0, 0), (0b1011, 0, 3), (2**64 - 1, 0, 64)])
def test_hamming_distance_counts_bits(a, b, expected):
    assert hamming_distance(np.uint64(a), np.uint64(b)) == expected


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_popcount_without_bitwise_count_counts_bits_of_any_shape(monkeypatch, shape):
    """numpy < 2 has no bitwise_count: its fallback failed on a 0-d array (one pair of hashes)."""
    from fer_classic.data import _duplicates

    monkeypatch.delattr(np, "bitwise_count", raising=False)
    values = np.full(shape, 0b1011 | 2**63, dtype=np.uint64)
    counted = _duplicates._popcount(values)
    assert counted.shape == shape and np.all(counted == 4)
    assert _duplicates._popcount(np.arange(8, dtype=np.uint64)[::2]).tolist() == [0, 1, 1, 2]  # strided


def test_pixel_digest_depends_on_pixels_and_shape(face):
    assert pixel_digest(face) == pixel_digest(face.copy())
    assert pixel_digest(face) != pixel_digest(face.reshape(24, 96))
    assert pixel_digest(face) != pixel_digest(face + 1)


# --- dedupe ---------------------------------------------------------------------------------

@pytest.fixture
def leaky(tiny_faces):
    """tiny_faces plus one train image copied into test and one train image repeated in train."""
    train = np.flatnonzero(tiny_faces.splits == "train")
    base = tiny_faces.subset(np.concatenate([np.arange(len(tiny_faces)), train[:2]]))
    splits = base.splits.copy()
    splits[-2] = "test"
    return FaceDataset(base.images, base.labels, splits, base.usages, base.sources, "leaky")


def test_duplicate_groups_are_the_report_s_groups_id_for_id(leaky):
    # The hold-out's folds depend on the ids themselves: a model's held-out images are recomputed from them.
    near = leaky.subset(np.concatenate([np.arange(len(leaky)), [0]]))
    images = near.images.copy()
    images[-1, 0, 0] ^= 1  # one bit off: a near copy, not an exact one
    near = FaceDataset(images, near.labels, near.splits, near.usages, near.sources, "near")
    assert np.array_equal(duplicate_groups(near), duplicates_of(near).group_ids())


def _near_identical_frames(n):
    base = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    frames = np.repeat(base[None], n, axis=0)
    frames[np.arange(n), np.arange(n) // 48 % 48, np.arange(n) % 48] ^= 1  # distinct pixels, one pHash
    return FaceDataset(frames, np.array(["happy"] * n, dtype=object), np.array(["train"] * n, dtype=object),
                       np.array([""] * n, dtype=object), np.array([f"f{i}.png" for i in range(n)], dtype=object),
                       "frames")


@pytest.mark.parametrize("indexed", [False, True], ids=["brute force", "index"])
@pytest.mark.parametrize("find, n_groups", [
    (duplicate_groups, 1),
    (lambda frames: dedupe(frames, near=True).sources, 1),
    (lambda frames: dedupe(frames).sources, 2000),  # exact copies only: no near pair is needed
])
def test_duplicate_finding_memory_grows_with_the_images_not_their_pairs(find, n_groups, indexed, monkeypatch):
    # 2,000 near-identical frames: 2 million near pairs, which the report's list held all at once (192 MB).
    import tracemalloc

    from fer_classic.data import _duplicates

    if indexed:  # the banded index for these 2,000 hashes too (its default starts at 2,048)
        monkeypatch.setattr(_duplicates, "_MIN_INDEXED_HASHES", 0)
    frames = _near_identical_frames(2000)
    tracemalloc.start()
    found = find(frames)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(np.unique(found)) == n_groups and peak < 60e6


def test_dedupe_drops_test_copy_and_repeat_in_train(leaky):
    cleaned = dedupe(leaky)
    assert len(cleaned) == len(leaky) - 2
    kept = {pixel_digest(im) for im in cleaned.select("train").images}
    assert not any(pixel_digest(im) in kept for im in cleaned.select("test").images)


def test_dedupe_keeps_the_train_copy(leaky):
    assert len(dedupe(leaky).select("train")) == len(leaky.select("train")) - 1


@pytest.fixture
def relabelled(leaky):
    """``leaky`` with its repeated training image under another label than its copy's."""
    labels = leaky.labels.copy()
    labels[-1] = "surprise" if labels[-1] != "surprise" else "sad"
    return FaceDataset(leaky.images, labels, leaky.splits, leaky.usages, leaky.sources, "relabelled")


def test_dedupe_of_copies_with_different_labels_warns_naming_them(relabelled):
    with pytest.warns(UserWarning, match=rf"1 group\(s\) of pixel-identical copies carry different labels.*"
                                         rf"\({relabelled.labels[-1]}\)"):
        dedupe(relabelled)


def test_dedupe_of_copies_with_one_label_is_quiet(leaky):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dedupe(leaky)


def test_fit_without_dedupe_warns_of_test_copies_of_training_images(leaky):
    # fit scored 1 test image it had trained on without a word (describe and --dedupe said so, fit did not).
    from fer_classic.exceptions import DataLeakageWarning

    with pytest.warns(DataLeakageWarning, match=r"leaky: 1 of the \d+ test images are pixel-identical to training "
                                                r"images, so the test score is inflated: .*fit --dedupe.*"
                                                r"'fer-classic describe --data leaky --duplicates-csv FILE'"):
        fit_model(leaky, features="pixels", clf="knn")


@pytest.mark.filterwarnings("ignore::fer_classic.exceptions.DataLeakageWarning")  # its test copy: the test above
def test_fit_without_dedupe_warns_of_copies_with_different_labels(relabelled):
    with pytest.warns(UserWarning, match=rf"relabelled: 1 group\(s\) of pixel-identical images carry different "
                                         rf"labels.*\({relabelled.labels[-1]}\)"):
        fit_model(relabelled, features="pixels", clf="knn")


def test_fit_of_data_without_copies_says_nothing_of_copies(tiny_faces):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_model(tiny_faces, features="pixels", clf="knn")


def test_fit_dedupe_does_not_warn_of_the_copies_it_dropped(leaky):
    from fer_classic.exceptions import DataLeakageWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataLeakageWarning)
        fit_model(leaky, features="pixels", clf="knn", dedupe_data=True)


def test_dedupe_near_also_drops_near_copies(leaky):
    assert len(dedupe(leaky, near=True)) < len(dedupe(leaky))  # the synthetic cartoons are near-identical


@pytest.mark.filterwarnings("ignore::fer_classic.exceptions.SkippedFilesWarning")
@pytest.mark.filterwarnings("ignore::fer_classic.exceptions.DataLeakageWarning")  # the plain fit's test copy
def test_fit_dedupe_leaves_files_untouched_and_scores_fewer_test_images(planted, tmp_path):
    before = tree_digest(planted)
    plain = fit_model(planted, features="pixels", clf="knn")
    cleaned = fit_model(planted, features="pixels", clf="knn", dedupe_data=True)
    assert (plain.n_train - cleaned.n_train, plain.n_test - cleaned.n_test) == (1, 1)
    assert tree_digest(planted) == before


def test_fit_dedupe_that_empties_the_test_split_warns(tiny_faces):
    # Every test image a copy of a training one: the test split vanished with only a log line.
    train = tiny_faces.select("train")
    copies = train.subset(np.arange(8))
    data = FaceDataset(np.concatenate([train.images, copies.images]), np.concatenate([train.labels, copies.labels]),
                       np.array(["train"] * len(train) + ["test"] * 8, dtype=object),
                       np.concatenate([train.usages, copies.usages]), np.concatenate([train.sources, copies.sources]),
                       "copied")
    with pytest.warns(UserWarning, match="--dedupe dropped every test image .* held out instead"):
        result = fit_model(data, features="pixels", clf="knn", dedupe_data=True)
    assert result.held_out


# --- command line ---------------------------------------------------------------------------

@pytest.fixture
def runner():
    return CliRunner()


def test_describe_help(runner):
    result = runner.invoke(main, ["describe", "--help"])
    assert result.exit_code == 0 and "--duplicates-csv" in result.output and "--threshold" in result.output


def test_cli_describe_prints_counts_and_leak_warning(runner, planted, tmp_path):
    out = tmp_path / "dups.csv"
    result = runner.invoke(main, ["describe", "--data", str(planted), "--duplicates-csv", str(out)])
    assert result.exit_code == 0, result.output
    assert "across train/test" in result.stdout and "WARNING: 1 test image(s)" in result.stdout
    assert out.is_file()


def test_cli_describe_gives_the_leak_warning_once(runner, planted):
    result = runner.invoke(main, ["describe", "--data", str(planted)])
    assert (result.stdout + result.stderr).count("1 test image(s)") == 1


def test_cli_describe_json(runner, planted):
    result = runner.invoke(main, ["describe", "--data", str(planted), "--json"])
    assert json.loads(result.stdout)["duplicates"]["exact"]["within train"]["extra_copies"] == 1


@pytest.mark.parametrize("args, message", [
    (["--data", "/no/such/path"], "does not exist"),
    (["--threshold", "65"], "65 is not in the range"),
])
def test_cli_describe_errors_are_clean(runner, args, message):
    result = runner.invoke(main, ["describe", *args])
    assert result.exit_code != 0 and message in result.output and "Traceback" not in result.output


# --- the same bounded decoder as the loaders (issue 16) ---------------------------


def _gif_bomb(width=30000, height=30000):
    return (b"GIF89a" + struct.pack("<HH", width, height) + b"\x80\x00\x00" + b"\0\0\0\xff\xff\xff"
            + b"\x2c" + struct.pack("<HHHH", 0, 0, width, height) + b"\x00\x02\x02\x44\x01\x00\x3b")


def test_bomb_named_png_is_listed_unreadable_without_decoding(planted, monkeypatch):
    bomb = planted / "train" / "happy" / "bomb.png"
    bomb.write_bytes(_gif_bomb())

    def must_not_decode(*args, **kwargs):
        raise AssertionError("cv2.imdecode was called on a bomb")

    real = _images.cv2.imdecode
    monkeypatch.setattr(_images.cv2, "imdecode", lambda data, flags: (
        must_not_decode() if data.size == bomb.stat().st_size else real(data, flags)))
    with pytest.warns(DataLeakageWarning):
        description = describe_dataset(planted, n_jobs=1)
    reasons = dict(description.unreadable)
    assert "declares 900,000,000 pixels, more than the 100,000,000" in reasons[str(bomb)]


def test_formats_are_named_from_the_content(planted):
    gif = planted / "train" / "happy" / "really_a_gif.png"
    Image.fromarray(smooth_faces(1, seed=5)[0]).save(gif, format="GIF")
    with pytest.warns(DataLeakageWarning):
        description = describe_dataset(planted, n_jobs=1)
    assert description.formats["train"]["GIF"] == 1


def test_describe_csv_honours_a_label_map(tmp_path):
    path = tmp_path / "f.csv"
    row = " ".join(["7"] * 16)
    path.write_text(f"emotion,pixels,Usage\n0,{row},Training\n1,{row[:-1]}8,Training\n")
    description = describe_dataset(path, label_map="0=neutral,1=happy")
    assert description.class_counts["train"] == {"happy": 1, "neutral": 1}


def test_a_long_split_pair_keeps_its_counts_apart(tmp_path):
    # "across train/unsplit" is as wide as the old 20-character column: its counts ran into it.
    images = smooth_faces(4, seed=3)
    data = FaceDataset(np.concatenate([images, images[:1]]), np.array(["happy"] * 5, dtype=object),
                       np.array(["train"] * 4 + [""], dtype=object), np.array([""] * 5, dtype=object),
                       np.array([f"f{i}.png" for i in range(5)], dtype=object))
    text = describe_dataset(data).format()
    assert "across train/unsplit  " in text


def test_copies_of_one_image_make_no_near_pairs_in_memory():
    """Exact copies were all paired first (n^2/2 rows: 36,000 copies, 15 GB) and dropped after."""
    from fer_classic.data._duplicates import find_duplicates, near_duplicate_pairs

    n = 3000
    hashes = np.zeros(n, dtype=np.uint64)
    pairs = near_duplicate_pairs(hashes, 0, exclude=np.zeros(n, dtype=int), max_pairs=10)  # none listed
    assert pairs.shape == (0, 3)
    report = find_duplicates(["same"] * n, hashes, splits=["train"] * n, labels=["happy"] * n,
                             sources=[f"{i}.png" for i in range(n)], threshold=64, max_pairs=10)
    assert len(report.exact_groups) == 1 and len(report.near_pairs) == 0


def test_near_pairs_beyond_the_cap_are_refused_naming_the_threshold(monkeypatch, tmp_path):
    """describe --threshold 64 on FER2013 would list 644 million pairs (15 GB): refused, memory bounded."""
    from fer_classic.exceptions import ReportError

    for i in range(40):
        folder = tmp_path / "happy"
        folder.mkdir(exist_ok=True)
        cv2.imwrite(str(folder / f"{i}.png"), random_gray((48, 48), seed=i))
    monkeypatch.setattr("fer_classic.data._describe.MAX_NEAR_PAIRS", 100)  # 40 images: 780 pairs at 64
    with pytest.raises(ReportError, match=r"threshold \(--threshold\) 64: more than 100 near-duplicate pairs "
                                          r"among 40 images; listing them would take more than 0.0024 MB\. "
                                          r"Give a lower threshold"):  # all 40 compared: no "first N"
        describe_dataset(tmp_path, threshold=64)
    assert describe_dataset(tmp_path, threshold=6).n_images == 40  # the default stays well under it
    result = CliRunner().invoke(main, ["describe", "--data", str(tmp_path), "--threshold", "64"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: threshold (--threshold) 64: more than 100")


def test_folder_is_hashed_chunk_by_chunk_with_the_same_result(planted, monkeypatch):
    """Every file's 32x32 thumbnail was kept until the end (1 KB per image: a GB for a million files)."""
    from fer_classic.data import _describe

    whole = describe_dataset(planted, n_jobs=1).summary()
    monkeypatch.setattr(_describe, "_HASH_CHUNK", 3)
    calls = []
    hashes = _describe.perceptual_hashes
    monkeypatch.setattr(_describe, "perceptual_hashes", lambda images: calls.append(len(images)) or hashes(images))
    chunked = describe_dataset(planted, n_jobs=1).summary()
    assert max(calls) <= 3 and len(calls) > 1
    whole.pop("seconds"), chunked.pop("seconds")
    assert chunked == whole


@pytest.fixture
def flat_fer2013(tmp_path):
    """Class folders without split folders, FER2013 file names: a PublicTest image copies a Training one."""
    faces = iter(smooth_faces(3, seed=5))
    for label in ("happy", "sad"):
        (tmp_path / label).mkdir()
    first = next(faces)
    cv2.imwrite(str(tmp_path / "happy/Training_1.png"), first)
    cv2.imwrite(str(tmp_path / "happy/PublicTest_2.png"), first)  # before Training_1 in name order
    cv2.imwrite(str(tmp_path / "sad/Training_3.png"), next(faces))
    cv2.imwrite(str(tmp_path / "sad/PublicTest_4.png"), next(faces))
    return tmp_path


def test_describe_counts_file_name_usages_as_the_splits_fit_uses(flat_fer2013):
    # fit trains on the Training_ files and scores the PublicTest_ ones: describe saw one unsplit set.
    with pytest.warns(DataLeakageWarning, match="1 test image"):
        found = describe_dataset(flat_fer2013)
    assert found.leaked() == (1, 0) and set(found.class_counts) == {"train", "test"}


def test_describe_reads_split_folders_named_as_fer2013_usages(tmp_path):
    # PublicTest/ and PrivateTest/ were "not read" (move them into a label folder): only Training/ was counted.
    for usage, face in zip(("Training", "PublicTest", "PrivateTest"), smooth_faces(3, seed=6)):
        (tmp_path / usage / "happy").mkdir(parents=True)
        cv2.imwrite(str(tmp_path / usage / "happy" / "a.png"), face)
    found = describe_dataset(tmp_path)
    assert found.class_counts == {"train": {"happy": 1}, "test": {"happy": 2}}


def test_dedupe_of_file_name_usages_keeps_the_training_copy(flat_fer2013):
    from fer_classic.data import load_dataset

    kept = dedupe(load_dataset(flat_fer2013)).sources.tolist()
    assert len(kept) == 3 and any(s.endswith("Training_1.png") for s in kept)


def test_a_test_image_identical_to_a_training_image_is_not_also_counted_near():
    # train A, train C (A with one pixel changed), test A' == A: one leaking image, counted once.
    a = smooth_faces(1, seed=3)[0]
    c = a.copy()
    c[0, 0] ^= 1
    other = smooth_faces(1, seed=4)[0]
    data = FaceDataset(np.stack([a, c, a, other]), np.array(["happy"] * 4, dtype=object),
                       np.array(["train", "train", "test", "test"], dtype=object), np.array([""] * 4, dtype=object),
                       np.array(["a.png", "c.png", "a2.png", "o.png"], dtype=object), "one leak")
    found = describe_dataset(data, warn=False)
    assert found.leaked() == (1, 0)
    assert found.duplicates.counts()["near"]["across train/test"]["pairs"] == 1  # the pair itself is still listed


def test_leakage_fix_for_near_copies_is_dedupe_near_which_fit_dedupe_is_not(planted):
    # fit --dedupe drops pixel-identical copies only: the warning said it dropped "those copies", near ones too.
    message = describe_dataset(planted, warn=False).leakage_message()
    assert "fer_classic.data.dedupe(dataset, near=True) in Python" in message
    # It said "pixel-identical copies only", though a colour or enlarged copy of a file is identical once loaded.
    assert ("`fer-classic fit --dedupe` and dedupe(dataset) drop copies identical once loaded only, gray at the "
            "model's size: a colour or enlarged copy is one, other near duplicates stay") in message


def test_leakage_fix_for_exact_copies_only_is_fit_dedupe(planted):
    (planted / "test/happy/near_train_happy2.png").unlink()
    message = describe_dataset(planted, warn=False).leakage_message()
    assert "(`fer-classic fit --dedupe`), which drops the test copies of training images" in message
    assert "near=True" not in message


def test_too_many_pairs_at_threshold_0_gives_advice_that_can_be_followed():
    # 'Give a lower threshold' at 0 could not be followed: near-identical frames share one pHash.
    from fer_classic.data._duplicates import near_duplicate_pairs
    from fer_classic.exceptions import ReportError

    with pytest.raises(ReportError, match=r"At threshold 0 these are images sharing one pHash; describe a subset "
                                          r".*dedupe\(dataset, near=True, threshold=0\)") as raised:
        near_duplicate_pairs(np.full(50, 0xFFFFFFFF, dtype=np.uint64), 0, max_pairs=10)  # 32 bits: a texture's
    assert "lower threshold" not in str(raised.value)


def test_blank_images_of_different_levels_are_no_near_duplicates():
    from fer_classic.data._duplicates import near_duplicate_pairs, perceptual_hashes

    # A black, a gray and a white image hashed 0 or 1 bit apart: "near copies", counted as leakage across splits.
    blanks = np.stack([np.full((48, 48), level, np.uint8) for level in (0, 128, 255)])
    assert len(near_duplicate_pairs(perceptual_hashes(blanks), 6)) == 0


@pytest.mark.parametrize("splits, labels", [
    (["test", "train", "train", "train"], ["happy", "sad", "sad", "sad"]),  # the test copy came first
    (["train", "train", "train", "test"], ["sad", "sad", "sad", "happy"]),  # the first three agreed
])
def test_label_conflict_names_the_kept_copy_first_then_a_differing_one(splits, labels):
    face, other = smooth_faces(2, seed=7)
    sources = (["t.png", "a1.png", "a2.png", "a3.png"] if splits[0] == "test"
               else ["a1.png", "a2.png", "a3.png", "t.png"])
    data = FaceDataset(np.stack([face] * 4 + [other]), np.array(labels + ["sad"], dtype=object),
                       np.array(splits + ["train"], dtype=object), np.array([""] * 5, dtype=object),
                       np.array(sources + ["o.png"], dtype=object), "conflict")
    with pytest.warns(UserWarning, match=r"copies: a1\.png \(sad\) = t\.png \(happy\)\. Fix the labels"):
        dedupe(data)


def test_duplicate_counts_are_computed_once_per_report(planted, monkeypatch):
    # leaked, leakage_message, format and summary each recounted (3.6 s a time on 4,400 near frames).
    from fer_classic.data import _duplicates

    calls = []
    pairs = _duplicates._split_pairs
    monkeypatch.setattr(_duplicates, "_split_pairs", lambda present: calls.append(1) or pairs(present))
    found = describe_dataset(planted, warn=False)
    found.format(), found.summary(), found.leaked("val")
    assert len(calls) == 1


def test_describe_seconds_include_the_duplicate_counts(planted, monkeypatch):
    import time

    from fer_classic.data import _duplicates

    pairs = _duplicates._split_pairs
    monkeypatch.setattr(_duplicates, "_split_pairs", lambda present: time.sleep(0.3) or pairs(present))
    seconds = describe_dataset(planted, warn=False).seconds
    assert seconds["duplicates"] >= 0.3 and seconds["total"] >= seconds["read"] + seconds["duplicates"] - 0.01


def test_the_leakage_paragraph_is_printed_once_by_warning_and_format(planted):
    # describe_dataset(...).format() showed the whole paragraph twice: as the warning and at the end of the text.
    with pytest.warns(DataLeakageWarning) as caught:
        description = describe_dataset(planted)
    warned = " ".join(str(w.message) for w in caught if issubclass(w.category, DataLeakageWarning))
    paragraph = description.leakage_message()
    assert paragraph in description.format() and paragraph not in warned
    assert "test scores are inflated" in warned and "leakage_message()" in warned


def _planted_hashes(seed, n):
    """Random pHash-like hashes with planted near copies, clusters, identical hashes and blanks."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2 ** 64, n, dtype=np.uint64)

    def flipped(value, most):
        bits = rng.choice(64, int(rng.integers(0, most + 1)), replace=False)
        return value ^ np.uint64(sum(1 << int(b) for b in bits))

    for _ in range(n // 3):  # near pairs at 0-12 bits
        a, b = rng.integers(0, n, 2)
        hashes[b] = flipped(hashes[a], 12)
    for _ in range(max(1, n // 40)):  # clusters (chains) within 4 bits of a centre
        members = rng.choice(n, min(n, int(rng.integers(2, 25))), replace=False)
        hashes[members[1:]] = [flipped(hashes[members[0]], 4) for _ in members[1:]]
    hashes[rng.choice(n, 4)] = hashes[0]  # identical hashes
    hashes[rng.choice(n, 3)] = 0  # blank images: paired with nothing
    hashes[rng.choice(n, 2)] = np.uint64(1 << 40)
    return hashes


@pytest.mark.parametrize("seed", range(6))
def test_banded_near_pair_search_finds_exactly_the_brute_force_pairs(seed, monkeypatch):
    """The banded index (pigeonhole over threshold + 1 bands) misses no pair and adds none, block for block."""
    from fer_classic.data import _duplicates

    monkeypatch.setattr(_duplicates, "_INDEX_SHARE", float("inf"))  # the index however full its buckets
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 600))
    hashes = _planted_hashes(seed, n)
    # Exact-copy groups as find_duplicates passes them: some share a hash, some (other hashes) do not.
    exclude = rng.integers(0, max(1, n // 3), n) if seed % 2 else None
    for threshold in (0, 1, 2, 3, 4, 6, 8, 12, 20, 40, 63):
        block = int(rng.choice([1, 7, 64, 256]))
        monkeypatch.setattr(_duplicates, "_INDEX_BUDGET", int(rng.choice([1, 200, 1 << 21])))  # chunks of any size
        brute = list(_duplicates._brute_pair_blocks(hashes, threshold, block, exclude))
        banded = list(_duplicates._indexed_pair_blocks(hashes, threshold, block, exclude))
        assert [stop for stop, _ in banded] == [stop for stop, _ in brute]
        for (_, expected), (_, got) in zip(brute, banded):
            assert got.dtype == expected.dtype and np.array_equal(got, expected), threshold
        assert threshold or not any(len(pairs) and pairs[:, 2].any() for _, pairs in banded)


@pytest.mark.parametrize("exclude", [np.full(3000, np.nan), np.array([None, "a"] * 1500, dtype=object)],
                         ids=["nan", "none and str"])
def test_groups_that_are_no_integers_are_compared_as_the_brute_force_compares_them(exclude, monkeypatch):
    from fer_classic.data import _duplicates

    hashes = _planted_hashes(1, 3000)
    monkeypatch.setattr(_duplicates, "_MIN_INDEXED_HASHES", 10 ** 9)
    brute = _duplicates.near_duplicate_pairs(hashes, 6, exclude=exclude)
    monkeypatch.setattr(_duplicates, "_MIN_INDEXED_HASHES", 0)
    assert len(brute) and np.array_equal(_duplicates.near_duplicate_pairs(hashes, 6, exclude=exclude), brute)


@pytest.mark.parametrize("threshold", [0, 6, 12, 64])
def test_near_duplicate_pairs_are_the_same_by_index_or_brute_force(threshold, monkeypatch):
    from fer_classic.data import _duplicates

    hashes = _planted_hashes(threshold, 3000)
    exclude = np.arange(3000) // 2
    monkeypatch.setattr(_duplicates, "_MIN_INDEXED_HASHES", 10 ** 9)
    brute = _duplicates.near_duplicate_pairs(hashes, threshold, exclude=exclude)
    monkeypatch.setattr(_duplicates, "_MIN_INDEXED_HASHES", 0)
    assert np.array_equal(_duplicates.near_duplicate_pairs(hashes, threshold, exclude=exclude), brute)
    assert len(brute) > (threshold > 0)


def test_near_pairs_of_many_hashes_are_not_found_by_comparing_every_pair(monkeypatch):
    """20,000 hashes at the default threshold: the brute force compared 200 million pairs (x16 per x4 images)."""
    from fer_classic.data import _duplicates

    monkeypatch.setattr(_duplicates, "_brute_pair_blocks", lambda *args: pytest.fail("compared every pair"))
    hashes = _planted_hashes(1, 20_000)
    pairs = _duplicates.near_duplicate_pairs(hashes, DEFAULT_NEAR_THRESHOLD)
    assert len(pairs) and (hamming_distance(hashes[pairs[:, 0]], hashes[pairs[:, 1]]) == pairs[:, 2]).all()


def test_hashes_all_within_a_few_bits_fall_back_to_the_brute_force(monkeypatch):
    # Near-identical video frames share every band: the index would enumerate (threshold + 1) n^2 candidates.
    from fer_classic.data import _duplicates

    rng = np.random.default_rng(0)
    hashes = np.uint64(0xF0F0F0F0F0F0F0F0) ^ (np.uint64(1) << rng.integers(0, 64, 3000).astype(np.uint64))
    calls = []
    brute = _duplicates._brute_pair_blocks
    monkeypatch.setattr(_duplicates, "_brute_pair_blocks", lambda *args: calls.append(1) or brute(*args))
    assert len(_duplicates.near_duplicate_pairs(hashes, 2)) > 4e6 // 2 and calls == [1]


def test_exact_copies_with_one_hash_cost_the_index_nothing(monkeypatch):
    from fer_classic.data import _duplicates

    monkeypatch.setattr(_duplicates, "_brute_pair_blocks", lambda *args: pytest.fail("compared every pair"))
    hashes = np.full(40_000, 0xF0F0F0F0F0F0F0F0, dtype=np.uint64)  # 800 million pairs, all one exact-copy group
    hashes[-1] ^= np.uint64(1)
    blocks = list(_duplicates._indexed_pair_blocks(hashes, 6, 256, np.r_[np.zeros(39_999, int), 1]))
    pairs = np.concatenate([pairs for _, pairs in blocks])
    assert len(blocks) == 157 and len(pairs) == 39_999 and (pairs[:, 1] == 39_999).all() and (pairs[:, 2] == 1).all()


def test_too_many_pairs_are_refused_alike_by_index_and_brute_force(monkeypatch):
    # The refusal names the rows compared: the index lists its pairs in the brute force's blocks.
    from fer_classic.data import _duplicates
    from fer_classic.exceptions import ReportError

    hashes = _planted_hashes(3, 3000)
    hashes[1000:1600] = hashes[1000]  # 600 images sharing one pHash: 179,700 pairs from row 1,000 on
    messages = []
    for min_indexed in (10 ** 9, 0):
        monkeypatch.setattr(_duplicates, "_MIN_INDEXED_HASHES", min_indexed)
        with pytest.raises(ReportError, match=r"more than 1,000 near-duplicate pairs among 3,000 images "
                                              r"\(the first [0-9,]+ compared\)") as raised:
            _duplicates.near_duplicate_pairs(hashes, 4, max_pairs=1000)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]


def test_duplicate_groups_fold_pairs_in_few_passes_over_the_images(monkeypatch):
    """Every block with a pair re-ran connected_components over all n images: n/64 passes for frames."""
    from fer_classic.data import _duplicates

    images = np.random.default_rng(0).integers(0, 256, (3000, 48, 48), dtype=np.uint8)
    images[1::2] = images[::2]
    images[1::2, 0, 0] ^= 1  # 1,500 pairs of near copies, some in every block of 64 rows
    pairs = FaceDataset(images, np.array(["happy"] * 3000, dtype=object), np.array(["train"] * 3000, dtype=object),
                        np.array([""] * 3000, dtype=object), np.array([f"{i}.png" for i in range(3000)], dtype=object))
    calls = []
    components = _duplicates._components
    monkeypatch.setattr(_duplicates, "_components", lambda n, pairs: calls.append(n) or components(n, pairs))
    groups = duplicate_groups(pairs)
    assert np.array_equal(groups, np.arange(3000) // 2) and len(calls) == 1  # was 47: one per block


def test_duplicate_groups_are_the_report_s_groups_by_the_index_too(leaky, monkeypatch):
    from fer_classic.data import _duplicates

    monkeypatch.setattr(_duplicates, "_MIN_INDEXED_HASHES", 0)
    near = leaky.subset(np.concatenate([np.arange(len(leaky)), [0, 3]]))
    images = near.images.copy()
    images[-2:, 0, 0] ^= 1  # near copies, not exact ones
    near = FaceDataset(images, near.labels, near.splits, near.usages, near.sources, "near")
    assert np.array_equal(duplicate_groups(near), duplicates_of(near).group_ids())
    kept = near.sources[~duplicates_of(near).drop_mask(near=True)]
    assert np.array_equal(dedupe(near, near=True).sources, kept)
