"""Deploy bundles: one reproducible zip per Cloud Function.

``python -m infra.bundle`` writes ``build/bundles/<function>-<sha256-12>.zip`` for every
``functions/<function>/main.py``, and ``manifest.json`` naming them. Each zip holds the
function's modules, the ``sparkcopilot`` package (the files its wheel ships, the knowledge
index included) and a
``requirements.txt`` pinning exactly what the function declares in its ``requirements.in``
plus everything those need, at the versions installed here (the Pulumi program and Cloud
Build run in the environment the tests passed in). Entries are sorted, timestamps and
permissions fixed: the same sources give the same bytes, so the same name, and Pulumi
redeploys a function only when its bundle changed.

A line of ``requirements.in`` may name ``spark-copilot[extra]``: its dependencies are
pinned, the package itself is vendored rather than installed. Without a
``requirements.in``, a function needs what ``spark-copilot[gcp]`` does (the core, the
Google Cloud clients and the Functions Framework).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from sparkcopilot.errors import UsageError
from sparkcopilot.knowledge.entries import digest
from sparkcopilot.knowledge.index import INDEX_FILE, build_index, save_index

ROOT: Final = Path(__file__).resolve().parent.parent
FUNCTIONS_DIR: Final = ROOT / "functions"
OUT_DIR: Final = ROOT / "build" / "bundles"
MANIFEST: Final = "manifest.json"
#: What a function without a ``requirements.in`` needs.
DEFAULT_REQUIREMENTS: Final = ("spark-copilot[gcp]",)
#: The Cloud Functions runtime the bundles are pinned for (and the program deploys).
RUNTIME: Final = "python311"
RUNTIME_PYTHON: Final = (3, 11)

# The earliest time a zip entry can carry; with fixed modes, nothing of the machine leaks in.
_ZIP_TIME: Final = (1980, 1, 1, 0, 0, 0)
_FILE_MODE: Final = 0o100644 << 16
_UNIX: Final = 3


class BundleError(UsageError):
    """A function cannot be bundled (a requirement not installed here, a wrong Python)."""


@dataclass(frozen=True, slots=True)
class Bundle:
    function: str
    path: Path
    #: sha256 of the zip's bytes; its first 12 hex digits are in the file name.
    sha256: str


@dataclass(frozen=True, slots=True)
class _Project:
    name: str
    dependencies: tuple[str, ...]
    extras: dict[str, tuple[str, ...]]
    package_dir: Path
    #: Package-data globs by directory relative to the package ("" = the package itself).
    data_globs: tuple[tuple[str, str], ...]


def _project(root: Path) -> _Project:
    pyproject: dict[str, Any] = tomllib.loads((root / "pyproject.toml").read_text())
    project = pyproject["project"]
    setuptools = pyproject["tool"]["setuptools"]
    package = "sparkcopilot"
    globs = tuple(
        (module.removeprefix(package).lstrip(".").replace(".", "/"), pattern)
        for module, patterns in setuptools.get("package-data", {}).items()
        if module == package or module.startswith(package + ".")
        for pattern in patterns
    )
    return _Project(
        name=canonicalize_name(project["name"]),
        dependencies=tuple(project["dependencies"]),
        extras={k: tuple(v) for k, v in project.get("optional-dependencies", {}).items()},
        package_dir=root / setuptools["package-dir"][""] / package,
        data_globs=globs,
    )


def _requirement_lines(text: str) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def pinned_requirements(requirements: Iterable[str], root: Path = ROOT) -> list[str]:
    """``name==version`` for the requirements and everything they need, as installed here,
    sorted; markers are evaluated for this interpreter (the runtime's Python)."""
    project = _project(root)
    environment = {key: str(value) for key, value in default_environment().items()}
    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    queue = [(Requirement(line), "") for line in requirements]
    while queue:
        requirement, extra = queue.pop()
        if requirement.marker and not requirement.marker.evaluate({**environment, "extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        if name == project.name:
            own = [*project.dependencies]
            for wanted in sorted(requirement.extras):
                own += project.extras.get(wanted, ())
            queue += [(Requirement(line), "") for line in own]
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise BundleError(
                f"{requirement} is not installed here: install it (pip install -e '.[infra]') "
                "so the bundle can pin it"
            ) from None
        if not requirement.specifier.contains(dist.version, prereleases=True):
            raise BundleError(f"{requirement} is needed but {name} {dist.version} is installed")
        pins[name] = dist.version
        for line in dist.requires or ():
            queue += [(Requirement(line), wanted) for wanted in ("", *requirement.extras)]
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def _package_files(project: _Project) -> Iterator[tuple[str, Path]]:
    """(name in the zip, file) for what the wheel ships of ``sparkcopilot``."""
    base = project.package_dir.parent
    for path in project.package_dir.rglob("*.py"):
        yield path.relative_to(base).as_posix(), path
    for directory, pattern in project.data_globs:
        for path in (project.package_dir / directory).glob(pattern):
            yield path.relative_to(base).as_posix(), path


def _knowledge_index(project: _Project, cache_dir: Path) -> tuple[str, bytes]:
    """The knowledge index a wheel ships (setup.py builds it; without it the function would
    build it at every cold start), re-zipped to depend on its content only. Built once per
    knowledge-base digest."""
    kb = project.package_dir / "knowledge" / "kb"
    cached = cache_dir / f"knowledge-index-{digest(kb)}.npz"
    if not cached.is_file():
        with tempfile.TemporaryDirectory() as scratch:
            built = Path(scratch) / INDEX_FILE.name
            save_index(build_index(kb), built)
            with zipfile.ZipFile(built) as npz:
                members = {info.filename: npz.read(info) for info in npz.infolist()}
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(cached, zip_bytes(members))
    name = (project.package_dir / "knowledge" / INDEX_FILE.name).relative_to(
        project.package_dir.parent
    )
    return name.as_posix(), cached.read_bytes()


def bundle_entries(function_dir: Path, root: Path = ROOT) -> dict[str, bytes]:
    """What goes into one function's zip, by name in the zip."""
    if not (function_dir / "main.py").is_file():
        raise BundleError(f"{function_dir}: no main.py")
    project = _project(root)
    declared = function_dir / "requirements.in"
    requirements = (
        _requirement_lines(declared.read_text()) if declared.is_file() else DEFAULT_REQUIREMENTS
    )
    pins = pinned_requirements(requirements, root)
    entries = {path.name: path.read_bytes() for path in function_dir.glob("*.py")}
    entries.update((name, path.read_bytes()) for name, path in _package_files(project))
    index_name, index = _knowledge_index(project, root / "build" / "cache")
    entries[index_name] = index
    header = f"# {function_dir.name}: pinned by infra/bundle.py for {RUNTIME}\n"
    entries["requirements.txt"] = (header + "".join(f"{pin}\n" for pin in pins)).encode()
    return entries


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    """A zip of the entries that depends on nothing but their names and contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = _FILE_MODE
            info.create_system = _UNIX
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the bundles from other users
    os.replace(temporary, path)


def build_bundle(function_dir: Path, out_dir: Path = OUT_DIR, root: Path = ROOT) -> Bundle:
    """Write one function's bundle (and remove its older ones); the same sources give the
    same file."""
    data = zip_bytes(bundle_entries(function_dir, root))
    sha256 = hashlib.sha256(data).hexdigest()
    name = function_dir.name
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}-{sha256[:12]}.zip"
    for stale in out_dir.glob(f"{name}-*.zip"):
        # Same length: this function's older bundle, not one of a function ``<name>-x``.
        if stale != path and len(stale.stem) == len(path.stem):
            stale.unlink()
    if not path.is_file():
        _write_atomically(path, data)
    return Bundle(name, path, sha256)


def function_dirs(functions_dir: Path = FUNCTIONS_DIR) -> list[Path]:
    """Every ``functions/<name>/`` with a ``main.py``, by name."""
    return sorted(path.parent for path in functions_dir.glob("*/main.py"))


def build_bundles(
    functions_dir: Path = FUNCTIONS_DIR, out_dir: Path = OUT_DIR, root: Path = ROOT
) -> list[Bundle]:
    """Bundle every function and write ``manifest.json`` (function → file name)."""
    if sys.version_info[:2] != RUNTIME_PYTHON:
        wanted = ".".join(map(str, RUNTIME_PYTHON))
        raise BundleError(f"bundles pin for the {RUNTIME} runtime: run them with Python {wanted}")
    bundles = [build_bundle(path, out_dir, root) for path in function_dirs(functions_dir)]
    manifest = {bundle.function: bundle.path.name for bundle in bundles}
    _write_atomically(out_dir / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return bundles


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bundle", description=__doc__)
    parser.add_argument("--functions", type=Path, default=FUNCTIONS_DIR)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    try:
        bundles = build_bundles(args.functions, args.out)
    except BundleError as exc:
        print(f"infra.bundle: {exc}", file=sys.stderr)
        return exc.exit_code
    for bundle in bundles:
        print(bundle.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
