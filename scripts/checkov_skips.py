"""Every checkov skip in the repository, with the reason written next to it.

Skips live next to what they exempt: `# checkov:skip=<ID>:<reason>` in Terraform and
workflows, `Metadata.checkov.skip[].comment` in the CloudFormation template. This is the
one reader of them: docs/security.md's "Skipped checks" table is generated from it
(scripts/generated_docs.py) and tests/policies/test_skip_reasons.py holds every reason to
a minimum length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from scripts.bootstrap_policies import load_template

REPO_ROOT = Path(__file__).resolve().parents[1]
INLINE_SKIP = re.compile(r"#\s*checkov:skip=([A-Za-z0-9_]+)(?::(.*))?$")
INLINE_PATTERNS = (
    "*.tf",
    "terraform/**/*.tf",
    ".github/workflows/*.yml",
    ".github/workflows/*.yaml",
)
TEMPLATE_PATTERNS = ("bootstrap/*.yaml", "bootstrap/*.yml")
# Not the repository's own files: tools' state and build output.
SKIP_DIRS = {".terraform", ".venv", ".venv-tools", ".local", "dist", "node_modules", ".git"}


@dataclass(frozen=True)
class Skip:
    check_id: str
    file: str  # relative to the repository root
    reason: str


def _files(root: Path, patterns: tuple[str, ...]) -> list[Path]:
    found = {
        path
        for pattern in patterns
        for path in root.glob(pattern)
        if not SKIP_DIRS.intersection(path.relative_to(root).parts)
    }
    return sorted(found)


def inline_skips(root: Path = REPO_ROOT) -> list[Skip]:
    """Every skip, by file, in the order they appear."""
    skips = []
    for path in _files(root, INLINE_PATTERNS):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = INLINE_SKIP.search(line.strip())
            if match:
                rel = path.relative_to(root).as_posix()
                skips.append(Skip(match.group(1), rel, (match.group(2) or "").strip()))
    for path in _files(root, TEMPLATE_PATTERNS):
        for resource in (load_template(path).get("Resources") or {}).values():
            metadata = (resource or {}).get("Metadata") or {}
            for skip in (metadata.get("checkov") or {}).get("skip") or []:
                rel = path.relative_to(root).as_posix()
                skips.append(Skip(skip["id"], rel, str(skip.get("comment") or "").strip()))
    return sorted(skips, key=lambda s: s.file)
