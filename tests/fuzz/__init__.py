"""Fuzz targets of the decoders, run with atheris (see docs/limits.md)."""
