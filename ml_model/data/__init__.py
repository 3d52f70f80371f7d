"""Loaders that turn labelled history (handbook dataset, generator output) into canonical frames."""

from ml_model.data.history import History, load_history, parse_day

__all__ = ["History", "load_history", "parse_day"]
