"""Spark Copilot: why a Spark application was slow or expensive, and what to change."""

__version__ = "0.1.0"
