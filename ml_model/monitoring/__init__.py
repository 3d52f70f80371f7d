"""Model monitoring shared by training and the stream: the training baseline the manifest
records and the population stability index (PSI) the processor measures against it."""

from ml_model.monitoring.baseline import Baseline, Bins, build_baseline, top_features
from ml_model.monitoring.psi import bin_counts, psi

__all__ = ["Baseline", "Bins", "bin_counts", "build_baseline", "psi", "top_features"]
