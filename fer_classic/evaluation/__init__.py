"""Metrics and their text rendering."""

from ._metrics import classification_metrics, format_confusion_matrix, format_metrics

__all__ = ["classification_metrics", "format_confusion_matrix", "format_metrics"]
