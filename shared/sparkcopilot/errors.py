"""The errors a user can meet, each with the exit code DESIGN.md §7 assigns to it.

Every message is one line that names the file and, for corrupt data, the byte offset,
so the CLI can print ``str(error)`` as-is.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_BAD_INPUT = 3


class SparkCopilotError(Exception):
    """Base of every error the product raises on purpose."""

    exit_code = EXIT_BAD_INPUT


class UsageError(SparkCopilotError):
    """The command line asks for something that makes no sense."""

    exit_code = EXIT_USAGE


class BadInputError(SparkCopilotError):
    """The input cannot be read as a Spark event log.

    ``source`` names the file (or ``<stdin>``); ``offset`` is the byte position in the
    *stored* (compressed) file where the problem was found, when one is known.
    """

    def __init__(self, source: str, reason: str, offset: int | None = None) -> None:
        self.source = source
        self.reason = reason
        self.offset = offset
        where = f"{source}: " if offset is None else f"{source} at byte {offset}: "
        super().__init__(where + reason)


class NotAnEventLogError(BadInputError):
    """The bytes are readable but are not Spark listener events (CSV, binary, empty...)."""


class CorruptLogError(BadInputError):
    """A compressed block or frame cannot be decoded (bad magic, checksum, length)."""


class LogTooLargeError(BadInputError):
    """The log, once decompressed, exceeds a configured size or expansion-ratio limit."""
