"""`make package`: deterministic per-function zips for the Lambda platform."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from scripts import package

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = REPO_ROOT / ".cache" / "wheels"


def build(out: Path) -> dict[str, str]:
    return {a.function: a.sha256_hex for a in package.build(out, CACHE)}


@pytest.fixture(scope="module")
def first_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    out = tmp_path_factory.mktemp("dist-a")
    return out, build(out)


def test_two_builds_are_byte_identical(
    first_build: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, first = first_build
    assert build(tmp_path) == first
    assert set(first) == {"api", "authorizer", "worker", "bookkeeper"}


def test_changing_one_handler_changes_only_its_zip(
    first_build: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, before = first_build
    source = tmp_path / "lambdas"
    shutil.copytree(REPO_ROOT / "lambdas", source, ignore=shutil.ignore_patterns("__pycache__"))
    authorizer = source / "jobs_platform" / "handlers" / "authorizer.py"
    authorizer.write_text(authorizer.read_text() + "\n# a change\n")
    monkeypatch.setattr(package, "SOURCE_ROOT", source)

    after = build(tmp_path / "dist")

    assert after["authorizer"] != before["authorizer"]
    assert after["api"] == before["api"]
    assert after["worker"] == before["worker"]


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_zips_vendor_lambda_platform_wheels_and_never_boto3(
    first_build: tuple[Path, dict[str, str]],
) -> None:
    out, _ = first_build
    api = names(out / "lambda" / "api.zip")
    authorizer = names(out / "lambda" / "authorizer.zip")
    assert "jobs_platform/handlers/api.py" in api
    assert any(n.endswith("cpython-312-aarch64-linux-gnu.so") for n in api)
    assert not any(n.startswith(("boto3/", "botocore/")) for n in api + authorizer)
    # Only what a handler imports: the authorizer needs neither pydantic nor the api.
    assert not any(n.startswith("pydantic") for n in authorizer)
    assert "jobs_platform/handlers/api.py" not in authorizer


def test_every_module_ships_unchecked_hash_bytecode_for_the_lambda_python(
    first_build: tuple[Path, dict[str, str]],
) -> None:
    out, _ = first_build
    with zipfile.ZipFile(out / "lambda" / "api.zip") as archive:
        entries = {info.filename: info for info in archive.infolist()}
        sources = [n for n in entries if n.endswith(".py")]
        assert "pydantic/main.py" in sources and "jobs_platform/handlers/api.py" in sources
        for source in sources:
            directory, _, name = source.rpartition("/")
            pyc = f"{directory}/__pycache__/{name[:-3]}.cpython-312.pyc".lstrip("/")
            header = archive.read(pyc)[:8]
            assert header[:4] == importlib.util.MAGIC_NUMBER, pyc  # the 3.12 runtime's
            # PEP 552 flags: hash-based (bit 0) and not checked against the source (bit 1).
            assert int.from_bytes(header[4:8], "little") == 0b01, pyc


def test_the_shipped_bytecode_is_what_python_imports_from_a_read_only_dir(
    first_build: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """Proof that Lambda's cold start uses the pyc: with the source of a module made
    unimportable, the import still succeeds (unchecked-hash pycs never read the source)."""
    out, _ = first_build
    with zipfile.ZipFile(out / "lambda" / "worker.zip") as archive:
        archive.extractall(tmp_path)
    (tmp_path / "jobs_platform" / "clock.py").write_text("raise SystemExit('source was used')\n")
    result = subprocess.run(
        [sys.executable, "-c", "import jobs_platform.clock as c; print(c.__cached__)"],
        env={"PYTHONPATH": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("clock.cpython-312.pyc")


def test_zip_entries_have_fixed_timestamps_and_modes(
    first_build: tuple[Path, dict[str, str]],
) -> None:
    out, _ = first_build
    with zipfile.ZipFile(out / "lambda" / "worker.zip") as archive:
        infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {i.date_time for i in infos} == {package.FIXED_DATE_TIME}
    assert {i.external_attr for i in infos} == {package.FILE_MODE}


def test_tfvars_carry_base64_sha256_of_each_zip(first_build: tuple[Path, dict[str, str]]) -> None:
    out, hexes = first_build
    artifacts = package.build(out, CACHE)
    tfvars = package.tfvars(artifacts)["lambda_artifacts"]
    assert isinstance(tfvars, dict)
    for a in artifacts:
        digest = hashlib.sha256(a.path.read_bytes()).digest()
        assert tfvars[a.function]["sha256"] == __import__("base64").b64encode(digest).decode()
        assert a.sha256_hex == hexes[a.function]


def test_lambda_lock_pins_the_versions_the_tests_run_against() -> None:
    dev = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1].strip()
        for line in (REPO_ROOT / "requirements" / "dev.lock").read_text().splitlines()
        if "==" in line
    }
    for requirement in package.function_requirements().values():
        for pin in package.locked_distributions(requirement):
            name, version = pin.split("==")
            assert dev.get(name.lower().replace("_", "-")) == version, pin
