"""watchd: a watch-folder ingest daemon for Autodesk Flow Capture."""

__version__ = "0.1.0"
