"""The fraud model: shared features, training, backtest, packaging, serving, scoring client."""
