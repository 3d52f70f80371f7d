"""Features defined once, for whole batches, shared by the training-set builder and the stream.

::

    from ml_model.features import FeatureConfig, FeatureEngine

    engine = FeatureEngine(FeatureConfig.from_dict(manifest["feature_config"]), lateness_ms)
    matrix = engine.compute(transactions, labels)   # per micro-batch; float32, FEATURE_NAMES order

:func:`build` replays labelled history through the same engine in chunks of time.
"""

from ml_model.features.builder import build
from ml_model.features.engine import FeatureEngine
from ml_model.features.schema import (
    FEATURE_COUNT,
    FEATURE_DESCRIPTIONS,
    FEATURE_INDEX,
    FEATURE_NAMES,
    UNKNOWN,
    FeatureConfig,
)

__all__ = [
    "FEATURE_COUNT",
    "FEATURE_DESCRIPTIONS",
    "FEATURE_INDEX",
    "FEATURE_NAMES",
    "UNKNOWN",
    "FeatureConfig",
    "FeatureEngine",
    "build",
]
