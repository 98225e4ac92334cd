"""Placeholder for the bundle and infra tests; the pipeline branch brings the real one."""


def ingest(event: object) -> None:
    raise NotImplementedError
