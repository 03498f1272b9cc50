"""Configuration: the one schema, YAML loading, and problems reported with file and key."""

from watchd.config.folder_schema import FolderConfig
from watchd.config.loader import load_config
from watchd.config.problems import ConfigError, Problem
from watchd.config.schema import Config

__all__ = ["Config", "ConfigError", "FolderConfig", "Problem", "load_config"]
