"""Saving and loading fitted models with everything needed to reuse them, safely."""

from ._files import PendingSave, load_model, save_model, start_save
from ._header import FORMAT, FORMAT_VERSION, MODEL_FORMATS, REQUIRED_METADATA, model_format
from ._inspect import component_sizes, format_model_info, inspect_model
from ._model import PREPROCESSING, FERModel, library_versions, plain_metadata, utc_now
from ._signing import config_dir, key_path
from ._trust import DEFAULT_TRUSTED_MODULES, TRUSTED_TYPES, is_trusted

__all__ = [
    "DEFAULT_TRUSTED_MODULES",
    "FERModel",
    "FORMAT",
    "FORMAT_VERSION",
    "MODEL_FORMATS",
    "PendingSave",
    "PREPROCESSING",
    "REQUIRED_METADATA",
    "TRUSTED_TYPES",
    "component_sizes",
    "config_dir",
    "format_model_info",
    "inspect_model",
    "is_trusted",
    "key_path",
    "library_versions",
    "load_model",
    "model_format",
    "plain_metadata",
    "save_model",
    "start_save",
    "utc_now",
]
