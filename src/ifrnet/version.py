"""The package's version, on the ground floor: results files, job manifests and graph metadata
record it without importing the package's face (``ifrnet/__init__.py``)."""

__version__ = "0.1.0"
