"""Quartier: protected, mappable small-area statistics."""

__version__ = "0.1.0"
