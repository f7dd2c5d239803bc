"""Concatenated feature blocks, each scaled on its own."""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

__all__ = ["BlockScaledUnion"]


class BlockScaledUnion(FeatureUnion):
    """A FeatureUnion whose blocks are standardised and balanced one by one.

    Each transformer's output block gets its own :class:`StandardScaler`
    (learned in ``fit``) and is then divided by the square root of its width,
    so every block has a total variance of 1 whatever its number of columns:
    1,296 HOG columns no longer outweigh 360 LBP columns in an RBF kernel or
    in a linear model's regularisation. (A plain standardisation per block
    would change nothing: StandardScaler already works column by column; the
    balance comes from the width factor.) ``transformer_weights`` multiply
    the balanced blocks.

    Parameters are those of :class:`sklearn.pipeline.FeatureUnion`, so the
    extractors keep their names (``hog__orientations``) for grid search.

    Attributes
    ----------
    block_slices_ : list of slice
        Columns of each block in the output, in ``transformer_list`` order
        (dropped transformers have none).
    scalers_ : list of StandardScaler
        The fitted scaler of each block.
    """

    def __init__(
        self,
        transformer_list,
        *,
        n_jobs=None,
        transformer_weights=None,
        verbose=False,
        verbose_feature_names_out=True,
    ):
        super().__init__(
            transformer_list,
            n_jobs=n_jobs,
            transformer_weights=transformer_weights,
            verbose=verbose,
            verbose_feature_names_out=verbose_feature_names_out,
        )

    def fit(self, X, y=None, **fit_params):
        """Fit every transformer and the scaler of each block; returns self."""
        self.fit_transform(X, y, **fit_params)
        return self

    def fit_transform(self, X, y=None, **params):
        """Fit, then return the balanced blocks side by side."""
        stacked = np.asarray(super().fit_transform(X, y, **params), dtype=np.float64)
        n_input = np.shape(X)[1]
        widths, names = [], []
        for name, transformer in self.transformer_list:
            if isinstance(transformer, str) and transformer == "drop":
                continue
            if isinstance(transformer, str) and transformer == "passthrough":
                widths.append(n_input)
            else:
                widths.append(len(transformer.get_feature_names_out()))
            names.append(name)
        if sum(widths) != stacked.shape[1]:
            raise ValueError(
                f"The blocks of {names} have {widths} columns, {sum(widths)} in all, but the union gave "
                f"{stacked.shape[1]}; each transformer's get_feature_names_out must match its output."
            )
        edges = np.concatenate([[0], np.cumsum(widths)]).astype(int)
        self.block_slices_ = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
        self.block_names_ = names
        self.scalers_ = [StandardScaler().fit(stacked[:, s]) for s in self.block_slices_]
        return self._balance(stacked)

    def transform(self, X, **params):
        """Transform with every transformer and return the balanced blocks side by side."""
        check_is_fitted(self, "scalers_")
        return self._balance(np.asarray(super().transform(X, **params), dtype=np.float64))

    def _balance(self, stacked: np.ndarray) -> np.ndarray:
        weights = self.transformer_weights or {}
        out = np.empty_like(stacked)
        for name, columns, scaler in zip(self.block_names_, self.block_slices_, self.scalers_):
            width = columns.stop - columns.start
            factor = weights.get(name, 1.0) / np.sqrt(max(width, 1))
            out[:, columns] = scaler.transform(stacked[:, columns]) * factor
        return out
