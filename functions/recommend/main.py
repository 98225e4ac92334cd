"""Placeholder for the bundle and infra tests; the pipeline branch brings the real one."""


def recommend(event: object) -> None:
    raise NotImplementedError


def api(request: object) -> None:
    raise NotImplementedError
