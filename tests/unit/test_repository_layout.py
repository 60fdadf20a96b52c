"""The layout a maintainer can rely on: every test folder is a package (so test modules
are named by their path and never clash by basename)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_ROOTS = ("tests", "scripts", "benchmarks", "policies")


def python_folders(root: Path) -> list[Path]:
    return sorted(
        {
            path.parent
            for path in root.rglob("*.py")
            if not any(part.startswith((".", "__pycache__")) for part in path.parts)
        }
    )


def test_every_folder_of_python_modules_is_a_package() -> None:
    missing = [
        str(folder.relative_to(REPO_ROOT))
        for name in PACKAGE_ROOTS
        for folder in python_folders(REPO_ROOT / name)
        if not (folder / "__init__.py").is_file()
    ]
    assert missing == []
