"""Reading Spark and Databricks event logs into the application model."""

from ._reader import STDIN, ReadProgress, read_application

__all__ = ["STDIN", "ReadProgress", "read_application"]
