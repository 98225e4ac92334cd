"""Deploy bundles: reproducible, holding what a function needs and nothing else, and
importable in a fresh virtual environment that has only the bundle's pinned requirements.

The fresh environment: ``venv --without-pip`` (no system site-packages, nothing of the
test's environment), whose only extra path entries are the bundle's own pinned
distributions. Each is "installed" by linking the files its RECORD lists from this
environment — where exactly that version is installed, since the pins are read from it —
into a directory of its own: the same files a wheel install would write, in a second
instead of the minute pip takes to fetch ~70 wheels, while a requirement missing from a
bundle's pins still fails its import. That the pins exist on the index for the runtime is
pip's check when Cloud Functions builds the function.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from infra.bundle import (
    FUNCTIONS_DIR,
    BundleError,
    build_bundles,
    bundle_entries,
    function_dirs,
    main,
    pinned_requirements,
)
from infra.program import ENTRY_POINTS
from sparkcopilot.knowledge.entries import KB_DIR, digest
from sparkcopilot.knowledge.index import load_index

from .entry_points import defined_names


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bundles")
    return {bundle.function: bundle.path for bundle in build_bundles(out_dir=out)}


def test_every_function_directory_is_bundled(bundles: dict[str, Path]) -> None:
    assert set(bundles) == {path.name for path in function_dirs()} == set(ENTRY_POINTS)


def test_same_sources_same_bytes_whatever_the_file_times_and_modes(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    again = build_bundles(out_dir=tmp_path / "again")
    assert {b.function: b.path.name for b in again} == {f: p.name for f, p in bundles.items()}
    for bundle in again:
        assert bundle.path.read_bytes() == bundles[bundle.function].read_bytes()
    functions = tmp_path / "functions"
    shutil.copytree(FUNCTIONS_DIR, functions)
    for path in functions.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
        if path.is_file():
            path.chmod(0o600)
    touched = build_bundles(functions, tmp_path / "touched")
    assert [b.path.name for b in touched] == [b.path.name for b in again]


def test_a_changed_function_changes_only_its_own_name(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    functions = tmp_path / "functions"
    shutil.copytree(FUNCTIONS_DIR, functions)
    with (functions / "train" / "main.py").open("a") as main_py:
        main_py.write("# changed\n")
    rebuilt = {b.function: b.path.name for b in build_bundles(functions, tmp_path / "out")}
    changed = {f for f, name in rebuilt.items() if name != bundles[f].name}
    assert changed == {"train"}
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == rebuilt


def test_bundle_content(bundles: dict[str, Path]) -> None:
    for function, path in bundles.items():
        assert path.name.startswith(f"{function}-") and len(path.stem) == len(function) + 13
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            requirements = archive.read("requirements.txt").decode().splitlines()
            defined = defined_names(archive.read("main.py"))
        assert names == sorted(names)
        assert {
            "main.py",
            "requirements.txt",
            "sparkcopilot/__init__.py",
            "sparkcopilot/resources.py",
            "sparkcopilot/history_schema.py",
        } <= set(names)
        # The knowledge base's entries ship as the wheel's package data does.
        assert any(n.startswith("sparkcopilot/knowledge/kb/") and n.endswith(".md") for n in names)
        assert "sparkcopilot/knowledge/_index.npz" in names
        assert shipped_digest(path) == digest(KB_DIR)
        assert not [n for n in names if "__pycache__" in n or n.endswith((".so", ".pyc", ".in"))]
        assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {info.external_attr >> 16 for info in infos} == {0o100644}
        pins = [line for line in requirements if not line.startswith("#")]
        assert all("==" in pin for pin in pins)
        assert pins == sorted(pins, key=lambda pin: pin.split("==")[0])
        assert set(ENTRY_POINTS[function]) <= defined


def shipped_digest(bundle: Path) -> str:
    """The knowledge-base digest of the index in the bundle (what the function checks
    before it uses it)."""
    with zipfile.ZipFile(bundle) as archive, tempfile.TemporaryDirectory() as scratch:
        index = Path(scratch) / "_index.npz"
        index.write_bytes(archive.read("sparkcopilot/knowledge/_index.npz"))
        return load_index(index).digest


def test_requirements_pin_what_is_declared_and_what_that_needs_only(tmp_path: Path) -> None:
    function = tmp_path / "reader"
    function.mkdir()
    (function / "main.py").write_text("import msgspec\n")
    (function / "requirements.in").write_text("msgspec  # the only need\n")
    entries = bundle_entries(function)
    pins = entries["requirements.txt"].decode().splitlines()[1:]
    assert [pin.split("==")[0] for pin in pins] == ["msgspec"]
    closure = {pin.split("==")[0] for pin in pinned_requirements(["pydantic"])}
    assert {"pydantic", "pydantic-core", "annotated-types", "typing-extensions"} <= closure
    assert "numpy" not in closure
    # Our own distribution stands for its dependencies; the package itself is vendored.
    own = {pin.split("==")[0] for pin in pinned_requirements(["spark-copilot"])}
    assert "numpy" in own and "spark-copilot" not in own and "google-cloud-storage" not in own


def test_a_requirement_not_installed_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    function = tmp_path / "functions" / "odd"
    function.mkdir(parents=True)
    (function / "main.py").write_text("")
    (function / "requirements.in").write_text("surely-not-installed-here==1.0\n")
    with pytest.raises(BundleError, match="surely-not-installed-here"):
        bundle_entries(function)
    assert main(["--functions", str(tmp_path / "functions"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "surely-not-installed-here" in err


def _installed_copy(pin: str, into: Path) -> Path:
    """A directory holding exactly the files of the pinned distribution (linked from this
    environment, where the pin's version is installed: the pins are read from it)."""
    name, version = pin.split("==")
    dist = metadata.distribution(name)
    assert dist.version == version, pin
    target = into / pin
    for file in dist.files or ():
        if file.parts[0] == ".." or "__pycache__" in file.parts:
            continue  # scripts outside site-packages, bytecode
        copy = target / file
        copy.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(Path(str(dist.locate_file(file))), copy)
        except OSError:
            shutil.copy2(Path(str(dist.locate_file(file))), copy)
    return target


def _import_in_fresh_venv(
    bundle: Path, entry_points: tuple[str, ...], work: Path
) -> subprocess.CompletedProcess[str]:
    """Import the bundle's main.py, as Cloud Functions does, in a new venv that has only
    the bundle's pinned distributions."""
    source = work / "source"
    with zipfile.ZipFile(bundle) as archive:
        lines = archive.read("requirements.txt").decode().splitlines()
        archive.extractall(source)
    pins = sorted(line for line in lines if not line.startswith("#"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python*/site-packages")
    installed = work / "site"
    (site / "bundle.pth").write_text("".join(f"{_installed_copy(p, installed)}\n" for p in pins))
    check = (
        "import sys, main; "
        f"assert all(callable(getattr(main, e)) for e in {list(entry_points)!r}); "
        f"assert not any({sys.prefix!r} in p for p in sys.path), sys.path"
    )
    return subprocess.run(
        [str(venv / "bin" / "python"), "-E", "-s", "-c", check],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )


def test_each_bundle_imports_in_a_fresh_venv_with_only_its_pins(
    bundles: dict[str, Path], tmp_path: Path
) -> None:
    for function, bundle in bundles.items():
        result = _import_in_fresh_venv(bundle, ENTRY_POINTS[function], tmp_path / function)
        assert result.returncode == 0, f"{function}: {result.stderr}"


def test_a_bundle_missing_a_requirement_does_not_import(tmp_path: Path) -> None:
    function = tmp_path / "functions" / "needs-numpy"
    function.mkdir(parents=True)
    (function / "main.py").write_text("import numpy\n\n\ndef run():\n    pass\n")
    (function / "requirements.in").write_text("msgspec\n")
    (bundle,) = build_bundles(function.parent, tmp_path / "out")
    result = _import_in_fresh_venv(bundle.path, ("run",), tmp_path / "check")
    assert result.returncode != 0 and "No module named 'numpy'" in result.stderr
