"""Loading face datasets (class folders, FER2013's CSV, labels files, downloaded layouts, a generated default) and diagnosing them."""

from ._csv import load_fer2013_csv
from ._dataset import FaceDataset
from ._describe import DUPLICATE_CSV_COLUMNS, DatasetDescription, describe_dataset
from ._duplicates import (
    DEFAULT_NEAR_THRESHOLD,
    DuplicateReport,
    dedupe,
    duplicates_of,
    find_duplicates,
    hamming_distance,
    perceptual_hashes,
    pixel_digest,
)
from ._folder import load_folder
from ._labels_file import BOX_COLUMNS, COLUMN_SPELLINGS, load_labels_file
from ._layouts import (
    LAYOUTS,
    detect_layout,
    load_affectnet,
    load_ckplus,
    load_expw,
    load_ferplus,
    load_jaffe,
    load_kdef,
    load_rafdb,
)
from ._headers import MAX_IMAGE_PIXELS, READABLE_FORMATS, ImageHeader, read_header
from ._images import IMAGE_EXTENSIONS, MAX_IMAGE_SIDE, decode_image, read_image
from ._load import DEFAULT_DATASET, load_dataset, recognise_format
from ._synthetic import make_synthetic_faces

__all__ = [
    "BOX_COLUMNS",
    "COLUMN_SPELLINGS",
    "LAYOUTS",
    "detect_layout",
    "load_affectnet",
    "load_ckplus",
    "load_expw",
    "load_ferplus",
    "load_jaffe",
    "load_kdef",
    "load_labels_file",
    "load_rafdb",
    "DEFAULT_DATASET",
    "DEFAULT_NEAR_THRESHOLD",
    "DUPLICATE_CSV_COLUMNS",
    "DatasetDescription",
    "DuplicateReport",
    "FaceDataset",
    "IMAGE_EXTENSIONS",
    "ImageHeader",
    "MAX_IMAGE_PIXELS",
    "MAX_IMAGE_SIDE",
    "READABLE_FORMATS",
    "dedupe",
    "duplicates_of",
    "describe_dataset",
    "find_duplicates",
    "hamming_distance",
    "load_dataset",
    "load_fer2013_csv",
    "load_folder",
    "make_synthetic_faces",
    "decode_image",
    "perceptual_hashes",
    "pixel_digest",
    "read_header",
    "recognise_format",
    "read_image",
]
