"""The extractor: imports the app package and reads its APIs into a manifest."""

from .errors import BuildError, BuildFailed
from .extractor import extract

__all__ = ["BuildError", "BuildFailed", "extract"]
