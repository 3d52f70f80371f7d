"""Fraudstream: the shared package (event contract, settings, AWS clients, CLI, local stack).

The three services (``producer``, ``processor``, ``ml_model``) depend on this package and on
nothing of each other's, except that the processor calls ``ml_model.features`` so training and
streaming compute the same features.
"""

__version__ = "0.1.0"
