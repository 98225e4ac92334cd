"""Placeholder for the bundle and infra tests; the pipeline branch brings the real one."""


def analyze_metadata(event: object) -> None:
    raise NotImplementedError


def analyze_partition(event: object) -> None:
    raise NotImplementedError


def analyze_runtime(event: object) -> None:
    raise NotImplementedError


def analyze_skew(event: object) -> None:
    raise NotImplementedError


def analyze_delta(event: object) -> None:
    raise NotImplementedError


def analyze_cost(event: object) -> None:
    raise NotImplementedError
