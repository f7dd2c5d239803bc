"""Loading face datasets: class folders, FER2013's CSV and a generated default."""

from ._csv import load_fer2013_csv
from ._dataset import FaceDataset
from ._folder import load_folder
from ._images import IMAGE_EXTENSIONS, read_image
from ._load import DEFAULT_DATASET, load_dataset
from ._synthetic import make_synthetic_faces

__all__ = [
    "DEFAULT_DATASET",
    "FaceDataset",
    "IMAGE_EXTENSIONS",
    "load_dataset",
    "load_fer2013_csv",
    "load_folder",
    "make_synthetic_faces",
    "read_image",
]
