"""Witaj: helps a city welcome foreigners."""

__version__ = "0.1.0"
