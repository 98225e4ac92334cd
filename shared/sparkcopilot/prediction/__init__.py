"""Runtime prediction: what an application would take under other settings.

``simulator`` replays the recorded tasks through a model of Spark's scheduler;
``features`` turns an application into documented numbers; ``predictor`` learns wall time
from history rows; ``history`` and ``registry`` are the ports where rows and trained
models live; ``training`` ties them together.
"""
