"""Reading Spark and Databricks event logs into the application model."""

from ._reader import STDIN, read_application

__all__ = ["STDIN", "read_application"]
