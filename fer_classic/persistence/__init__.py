"""Saving and loading fitted models with everything needed to reuse them, safely."""

from ._files import (
    DEFAULT_TRUSTED_MODULES,
    FORMAT,
    FORMAT_VERSION,
    MODEL_FORMATS,
    format_model_info,
    inspect_model,
    load_model,
    model_format,
    save_model,
)
from ._model import PREPROCESSING, FERModel, library_versions, plain_metadata, utc_now
from ._signing import config_dir, key_path

__all__ = [
    "DEFAULT_TRUSTED_MODULES",
    "FERModel",
    "FORMAT",
    "FORMAT_VERSION",
    "MODEL_FORMATS",
    "PREPROCESSING",
    "config_dir",
    "format_model_info",
    "inspect_model",
    "key_path",
    "library_versions",
    "load_model",
    "model_format",
    "plain_metadata",
    "save_model",
    "utc_now",
]
