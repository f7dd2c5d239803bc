"""Metrics, plots, learning/validation curves, model comparison and the HTML report.

Plots need matplotlib (``pip install 'fer-classic[plot]'``); it is imported
only when a figure is made.
"""

from ._compare import COMPARE_COLUMNS, Comparison, compare_models
from ._curves import CurveResult, compute_learning_curve, compute_validation_curve
from ._metrics import (
    HELD_OUT,
    MAX_RESAMPLES,
    accuracy_interval,
    classification_metrics,
    format_confusion_matrix,
    format_metrics,
    metrics_summary,
    normalize_confusion_matrix,
    roc_auc_ovr,
    training_images_scored,
    warn_class_mismatch,
    warn_training_images,
)
from ._plots import (
    figure_to_png,
    plot_average_faces,
    plot_class_distribution,
    plot_confusion_matrix,
    plot_feature_pca,
    plot_learning_curve,
    plot_per_class_f1,
    plot_roc_curves,
    plot_sample_predictions,
    plot_validation_curve,
    require_matplotlib,
)
from ._report import REPORT_FILES, REPORT_PLOTS, Predictions, Report, predict_with_scores, write_report
from ._significance import mcnemar_test

__all__ = [
    "COMPARE_COLUMNS",
    "HELD_OUT",
    "Comparison",
    "CurveResult",
    "MAX_RESAMPLES",
    "Predictions",
    "REPORT_FILES",
    "REPORT_PLOTS",
    "Report",
    "accuracy_interval",
    "classification_metrics",
    "compare_models",
    "compute_learning_curve",
    "compute_validation_curve",
    "figure_to_png",
    "format_confusion_matrix",
    "format_metrics",
    "mcnemar_test",
    "metrics_summary",
    "normalize_confusion_matrix",
    "plot_average_faces",
    "plot_class_distribution",
    "plot_confusion_matrix",
    "plot_feature_pca",
    "plot_learning_curve",
    "plot_per_class_f1",
    "plot_roc_curves",
    "plot_sample_predictions",
    "plot_validation_curve",
    "require_matplotlib",
    "predict_with_scores",
    "roc_auc_ovr",
    "training_images_scored",
    "warn_class_mismatch",
    "warn_training_images",
    "write_report",
]
