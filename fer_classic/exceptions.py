"""Exception and warning types raised by fer-classic.

Every error names the input at fault (a file, a CSV row, a label, a
parameter) and says what to do about it.
"""

__all__ = [
    "FerClassicError",
    "DatasetError",
    "DatasetFormatError",
    "ImageDecodeError",
    "UnknownLabelError",
    "EmptyClassError",
    "ModelFileError",
    "IncompatibleModelError",
    "ModelIntegrityError",
    "UntrustedModelError",
    "ImageTooLargeError",
    "VersionMismatchWarning",
    "SkippedFilesWarning",
    "ReportError",
    "DataLeakageWarning",
    "VideoDecodeError",
    "FaceDetectorError",
    "NoFaceError",
    "DisplayUnavailableError",
    "MissingWeightsError",
    "MissingDependencyError",
    "ClassMismatchWarning",
    "CropMismatchWarning",
    "ImageSizeError",
    "DegenerateImageWarning",
    "LabelMergeWarning",
    "UnusedLabelMapWarning",
    "UnmappedIdsWarning",
    "InputPathError",
    "OutputPathError",
    "DuplicateRowsWarning",
    "SkippedRowsWarning",
    "WorkerError",
]


class FerClassicError(Exception):
    """Base class of every error fer-classic raises on purpose."""


class DatasetError(FerClassicError, ValueError):
    """A dataset path is missing, empty or not usable as given."""


class DatasetFormatError(DatasetError):
    """A dataset file does not follow the expected format (row and field named)."""


class ImageDecodeError(FerClassicError, ValueError):
    """An image file could not be decoded (corrupt, empty or not an image)."""


class UnknownLabelError(FerClassicError, ValueError):
    """A label name or id is not in the canonical vocabulary or the user's label map."""


class EmptyClassError(DatasetError):
    """A class folder or requested class holds no usable image."""


class ModelFileError(FerClassicError, ValueError):
    """A file is not a fer-classic model, or it is damaged."""


class IncompatibleModelError(ModelFileError):
    """A model file was written by an incompatible fer-classic format version."""


class ModelIntegrityError(ModelFileError):
    """A model file is truncated or corrupted (its checksum does not match)."""


class UntrustedModelError(ModelFileError):
    """Loading a model file could run code, and it was not marked as trusted."""


class ImageTooLargeError(ImageDecodeError):
    """An image declares more pixels than fer-classic decodes (see ``MAX_IMAGE_PIXELS``)."""


class VersionMismatchWarning(UserWarning):
    """A model file was written with other library versions than the ones installed."""


class SkippedFilesWarning(UserWarning):
    """Some files of a dataset could not be read and were skipped (never deleted)."""


class ReportError(FerClassicError, ValueError):
    """A report, comparison or diagnostics output cannot be written or computed as asked."""


class DataLeakageWarning(UserWarning):
    """Evaluation images also occur in the training images (pixel-identical or nearly)."""


class VideoDecodeError(ImageDecodeError):
    """A video file could not be opened or decoded (corrupt, empty or an unsupported codec)."""


class FaceDetectorError(FerClassicError, ValueError):
    """A face detector cannot be built as configured (missing or invalid model file, bad parameter)."""


class NoFaceError(FerClassicError, ValueError):
    """No face was found where one is required (e.g. cropping training images)."""


class DisplayUnavailableError(FerClassicError, RuntimeError):
    """A live window was asked for where OpenCV cannot open one (headless build, no display)."""


class MissingWeightsError(FerClassicError, OSError):
    """Pretrained network weights are neither in the local cache nor downloadable (offline)."""


class MissingDependencyError(FerClassicError, ImportError):
    """An optional library is not installed; the message names the pip extra to install."""


class WorkerError(FerClassicError, RuntimeError):
    """A Dask or Ray worker failed outside fer-classic's own code (it died, ran out of memory, lost data)."""


class InputPathError(FerClassicError, ValueError):
    """An input path is missing, or is a folder, FIFO, device or socket where a file is expected."""


class OutputPathError(FerClassicError, ValueError):
    """An output path is, or leads to, an input of the command, or cannot be written (option named)."""


class ImageSizeError(FerClassicError, ValueError):
    """An image geometry (``size``, ``--size``) is invalid, or its arrays would not fit in memory."""


class DegenerateImageWarning(UserWarning):
    """An image is so small or so elongated that resizing it leaves almost no face (files named)."""


class LabelMergeWarning(UserWarning):
    """Several folders or label-map entries fold into one label (all of them named)."""


class UnusedLabelMapWarning(UserWarning):
    """Label-map keys match no folder name or label in the data read (keys and the names found are named)."""


class UnmappedIdsWarning(UserWarning):
    """A label map renumbering a fer2013.csv's ids leaves some to FER2013's own table (ids and labels named)."""


class ClassMismatchWarning(UserWarning):
    """A model is scored on data with classes it cannot predict, or models with different classes are compared."""


class CropMismatchWarning(UserWarning):
    """Faces are cut for prediction unlike the model's training images (the override and the recorded value named)."""


class DuplicateRowsWarning(UserWarning):
    """A labels file lists the same image (and face box) twice with the same label; it is kept once (rows named)."""


class SkippedRowsWarning(UserWarning):
    """Rows of a labels file carry no emotion and were skipped (counted per reason).

    AffectNet's none/uncertain/no-face rows, FER+ ties.
    """
