"""Training, thresholds, metrics, backtest and reports."""
