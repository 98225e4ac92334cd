"""Knowledge-base entries: markdown files with TOML front matter, validated and chunked.

An entry summarises one official documentation page in the project's own words. Its front
matter sits between ``+++`` lines (the TOML flavour of front matter, read with the standard
library)::

    +++
    id = "aqe-skew-join"                  # the file's name without .md
    title = "AQE skew join optimization"
    url = "https://spark.apache.org/docs/latest/sql-performance-tuning.html#optimizing-skew-join"
    kinds = ["data_skew"]                 # finding kinds it explains
    config = ["spark.sql.adaptive.skewJoin.enabled"]   # settings it documents
    since = "Spark 3.0"                   # optional
    +++

The body's first paragraph is the entry's summary; each ``## `` section after it becomes a
passage of its own. Every problem is reported as one line naming the file.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import get_args
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..analysis.findings import Kind
from ..errors import SparkCopilotError

KB_DIR = Path(__file__).resolve().parent / "kb"

#: The only hosts an entry may cite: the projects' and vendors' own documentation.
OFFICIAL_DOMAINS: frozenset[str] = frozenset(
    {
        "spark.apache.org",
        "arrow.apache.org",
        "docs.delta.io",
        "delta.io",
        "docs.databricks.com",
        "cloud.google.com",
        "docs.python.org",
    }
)

_FENCE = "+++"
_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Spark/Databricks session settings and Delta table properties, as users type them.
_CONFIG_KEY = re.compile(r"^(?:spark|delta)\.[A-Za-z0-9_.\-]+$")
_SECTION = re.compile(r"^## +(.+)$", re.MULTILINE)


class KnowledgeBaseError(SparkCopilotError):
    """An entry cannot be used: broken front matter, a non-official url, a duplicate id."""

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    title: str = Field(min_length=1)
    url: str
    kinds: tuple[Kind, ...] = Field(min_length=1)
    config: tuple[str, ...] = ()
    since: str = ""
    #: The markdown after the front matter.
    body: str = Field(min_length=1)

    @field_validator("id")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError(f"{value!r} is not a lower-case slug like 'aqe-skew-join'")
        return value

    @field_validator("url")
    @classmethod
    def _official(cls, value: str) -> str:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        if parts.scheme != "https" or host not in OFFICIAL_DOMAINS:
            allowed = ", ".join(sorted(OFFICIAL_DOMAINS))
            raise ValueError(f"{value!r} is not an https page of official docs ({allowed})")
        return value

    @field_validator("config")
    @classmethod
    def _config_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [key for key in value if not _CONFIG_KEY.match(key)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a spark.* setting or delta.* table property")
        return value

    @property
    def summary(self) -> str:
        """The first paragraph of the body."""
        return _clean(self.body.strip().split("\n\n", 1)[0])


@dataclass(frozen=True, slots=True)
class Chunk:
    """One passage of an entry: its summary, or one of its sections."""

    id: str
    entry_id: str
    heading: str
    text: str


def _clean(markdown: str) -> str:
    """Markdown prose as plain sentences: no backticks, no line breaks."""
    return " ".join(markdown.replace("`", "").split())


def _split_front_matter(path: Path, text: str) -> tuple[str, str]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != _FENCE:
        raise KnowledgeBaseError(path, f"front matter: the file must start with a {_FENCE} line")
    try:
        end = next(i for i, line in enumerate(lines[1:], 1) if line.strip() == _FENCE)
    except StopIteration:
        raise KnowledgeBaseError(path, f"front matter: no closing {_FENCE} line") from None
    return "\n".join(lines[1:end]), "\n".join(lines[end + 1 :])


def parse_entry(path: Path) -> Entry:
    """Read and validate one entry file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KnowledgeBaseError(path, f"cannot read: {exc}") from exc
    header, body = _split_front_matter(path, text)
    try:
        fields = tomllib.loads(header)
    except tomllib.TOMLDecodeError as exc:
        raise KnowledgeBaseError(path, f"front matter: {exc}") from exc
    try:
        entry = Entry.model_validate({**fields, "body": body.strip()})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "front matter"
        if first["type"] == "literal_error":
            message = (
                f"unknown finding kind {first['input']!r} (one of {', '.join(get_args(Kind))})"
            )
        else:
            message = first["msg"].removeprefix("Value error, ")
        raise KnowledgeBaseError(path, f"front matter: {where}: {message}") from exc
    if entry.id != path.stem:
        raise KnowledgeBaseError(path, f"front matter: id {entry.id!r} must match the file name")
    return entry


def entry_files(directory: Path = KB_DIR) -> list[Path]:
    return sorted(directory.glob("*.md"))


def load_entries(directory: Path = KB_DIR) -> tuple[Entry, ...]:
    """Every entry of the knowledge base, validated, in file-name order."""
    files = entry_files(directory)
    if not files:
        raise KnowledgeBaseError(directory, "no knowledge-base entries (*.md) found")
    return tuple(parse_entry(path) for path in files)


def digest(directory: Path = KB_DIR) -> str:
    """Content hash of the entry files: tells whether a built index is still current."""
    sha = hashlib.sha256()
    for path in entry_files(directory):
        sha.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()


def chunk_entry(entry: Entry) -> tuple[Chunk, ...]:
    """The summary paragraph, then one passage per ``## `` section."""
    parts = _SECTION.split(entry.body)
    lead, sections = parts[0], list(zip(parts[1::2], parts[2::2], strict=True))
    chunks = [Chunk(f"{entry.id}#0", entry.id, "Summary", _clean(lead))]
    chunks += [
        Chunk(f"{entry.id}#{n}", entry.id, heading.strip(), _clean(text))
        for n, (heading, text) in enumerate(sections, 1)
        if text.strip()
    ]
    return tuple(chunks)
