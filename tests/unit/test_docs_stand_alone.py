"""The repository stands alone and its docs point at what exists: no reference to files
outside it (`../shared`, the product's DESIGN.md), every relative Markdown link resolves
inside the repository, and every repository path the docs name exists (a renamed or
deleted file fails here instead of leaving stale text)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOP_LEVEL = (
    "scripts/", "tests/", "lambdas/", "terraform/", "docs/", "policies/", "bootstrap/",
    "benchmarks/", "cost/", "environments/", ".github/",
)  # fmt: skip
# A repository path in prose or code spans: a top-level folder, then path characters.
FOLDERS = "|".join(re.escape(t) for t in TOP_LEVEL)
REPO_PATH = re.compile(rf"(?<![\w./-])((?:{FOLDERS})[\w./-]*[\w/])")
LINK = re.compile(r"\]\(([^)\s]+)\)")
EXTERNAL = ("http://", "https://", "mailto:", "#")
OUTSIDE = re.compile(r"\.\./shared|DESIGN\.md")


def tracked(*patterns: str) -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *patterns],
        cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    return [REPO_ROOT / name for name in names if (REPO_ROOT / name).is_file()]


def named_paths(text: str) -> list[str]:
    """Repository paths named in `text`, but templates (`<env>`, `*`, `{id}`, `$VAR`) and
    files a command in the text creates (`> environments/qa.tfvars`)."""
    found = []
    for match in REPO_PATH.finditer(text):
        path = match.group(1).rstrip(".")
        created = text[: match.start()].rstrip().endswith(">")
        if not created and not any(c in path for c in "<*{$"):
            found.append(path)
    return found


def inside_repository(path: Path) -> bool:
    return path.resolve().is_relative_to(REPO_ROOT) and path.exists()


def exists(path: str) -> bool:
    return (REPO_ROOT / path).exists() or (REPO_ROOT / f"{path}.py").exists()


@pytest.mark.parametrize("doc", tracked("*.md"), ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_docs_name_only_what_the_repository_has(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    assert not OUTSIDE.findall(text), "the repository must stand alone"
    local_links = [t for t in LINK.findall(text) if not t.startswith(EXTERNAL)]
    broken = [t for t in local_links if not inside_repository(doc.parent / t.split("#", 1)[0])]
    assert broken == [], "links to nothing in the repository"
    assert [p for p in named_paths(text) if not exists(p)] == []


def test_no_source_file_points_outside_the_repository() -> None:
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in tracked("*.py", "*.tf", "*.yaml", "*.yml", "*.hcl", "*.toml", "Makefile")
        if path.name != Path(__file__).name and OUTSIDE.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_a_stale_path_or_link_is_caught() -> None:
    text = "See scripts/terraform_workspace.py and [the design](../shared/DESIGN.md)."
    assert [p for p in named_paths(text) if not exists(p)] == ["scripts/terraform_workspace.py"]
    assert OUTSIDE.search(text)
    assert named_paths("sed ... > environments/qa.tfvars; cat environments/<env>.tfvars") == []
