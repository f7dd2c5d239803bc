"""Loading face datasets and diagnosing them.

Class folders, FER2013's CSV, labels files, downloaded layouts, a generated default.

The names below are imported on first use (PEP 562, with scikit-image's
``lazy_loader``): loading a class folder needs NumPy, OpenCV and Pillow only,
so ``fit`` starts decoding images while SciPy and scikit-learn (duplicates,
the estimators) are still being imported.
"""

from __future__ import annotations

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(__name__, submod_attrs={
    "_csv": ["load_fer2013_csv"],
    "_dataset": ["FaceDataset"],
    "_describe": ["DUPLICATE_CSV_COLUMNS", "DatasetDescription", "describe_dataset"],
    "_duplicates": ["DEFAULT_NEAR_THRESHOLD", "MAX_NEAR_PAIRS", "DuplicateReport", "dedupe", "duplicate_groups",
                    "duplicates_of", "find_duplicates", "hamming_distance", "perceptual_hashes", "pixel_digest"],
    "_folder": ["load_folder"],
    "_labels_file": ["BOX_COLUMNS", "COLUMN_SPELLINGS", "load_labels_file"],
    "_layouts": ["LAYOUTS", "detect_layout", "load_affectnet", "load_ckplus", "load_expw", "load_ferplus",
                 "load_jaffe", "load_kdef", "load_rafdb"],
    "_headers": ["MAX_IMAGE_PIXELS", "READABLE_FORMATS", "ImageHeader", "read_header"],
    "_images": ["IMAGE_EXTENSIONS", "MAX_IMAGE_SIDE", "decode_image", "read_image"],
    "_levels": ["gray_levels"],
    "_load": ["DEFAULT_DATASET", "dataset_inputs", "load_dataset", "recognise_format"],
    "_synthetic": ["make_synthetic_faces"],
})
