"""Loading face datasets (class folders, FER2013's CSV, a generated default) and diagnosing them."""

from ._csv import load_fer2013_csv
from ._dataset import FaceDataset
from ._describe import DUPLICATE_CSV_COLUMNS, DatasetDescription, describe_dataset
from ._duplicates import (
    DEFAULT_NEAR_THRESHOLD,
    DuplicateReport,
    dedupe,
    find_duplicates,
    hamming_distance,
    perceptual_hashes,
    pixel_digest,
)
from ._folder import load_folder
from ._headers import MAX_IMAGE_PIXELS
from ._images import IMAGE_EXTENSIONS, read_image
from ._load import DEFAULT_DATASET, load_dataset
from ._synthetic import make_synthetic_faces

__all__ = [
    "DEFAULT_DATASET",
    "DEFAULT_NEAR_THRESHOLD",
    "DUPLICATE_CSV_COLUMNS",
    "DatasetDescription",
    "DuplicateReport",
    "FaceDataset",
    "IMAGE_EXTENSIONS",
    "MAX_IMAGE_PIXELS",
    "dedupe",
    "describe_dataset",
    "find_duplicates",
    "hamming_distance",
    "load_dataset",
    "load_fer2013_csv",
    "load_folder",
    "make_synthetic_faces",
    "perceptual_hashes",
    "pixel_digest",
    "read_image",
]
