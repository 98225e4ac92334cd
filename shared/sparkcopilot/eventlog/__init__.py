"""Reading Spark and Databricks event logs into the application model."""

from ._reader import STDIN, OpenPart, ReadProgress, read_application, read_objects

__all__ = ["STDIN", "OpenPart", "ReadProgress", "read_application", "read_objects"]
