"""An unsupervised anomaly signal over the model's features, for fraud no label has shown."""

from ml_model.anomaly.detector import AnomalyDetector, combined_alerts

__all__ = ["AnomalyDetector", "combined_alerts"]
