"""Every checkov skip carries a reason inline, and docs/security.md lists each one.

Skips live next to the resource they exempt: `# checkov:skip=<ID>:<reason>` in Terraform
and workflows, `Metadata.checkov.skip[].comment` in the CloudFormation template. The
table under "## Skipped checks" in docs/security.md must name exactly the same
(check id, file) pairs, so the reviewers' list never drifts from the code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SECURITY_DOC = REPO_ROOT / "docs" / "security.md"
INLINE_SKIP = re.compile(r"#\s*checkov:skip=([A-Za-z0-9_]+)(?::(.*))?$")
MIN_REASON_CHARS = 20
SKIP_DIRS = {".terraform", ".venv", ".venv-tools", ".local", "dist", "node_modules", ".git"}


def _files(patterns: list[str]) -> list[Path]:
    found = []
    for pattern in patterns:
        for path in REPO_ROOT.glob(pattern):
            if not SKIP_DIRS.intersection(path.relative_to(REPO_ROOT).parts):
                found.append(path)
    return sorted(set(found))


class _AnyTagLoader(yaml.SafeLoader):
    """Loads CloudFormation YAML (!Sub, !Ref, ...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_AnyTagLoader.add_multi_constructor("!", _any_tag)


def inline_skips() -> list[tuple[str, str, str]]:
    """(check id, repo-relative file, reason) of every skip in the repository."""
    skips = []
    for path in _files(
        ["*.tf", "terraform/**/*.tf", ".github/workflows/*.yml", ".github/workflows/*.yaml"]
    ):
        for line in path.read_text().splitlines():
            match = INLINE_SKIP.search(line.strip())
            if match:
                rel = path.relative_to(REPO_ROOT).as_posix()
                skips.append((match.group(1), rel, (match.group(2) or "").strip()))
    for path in _files(["bootstrap/*.yaml", "bootstrap/*.yml"]):
        template = yaml.load(path.read_text(), Loader=_AnyTagLoader)  # noqa: S506 - safe loader subclass
        for resource in (template.get("Resources") or {}).values():
            metadata = (resource or {}).get("Metadata") or {}
            for skip in (metadata.get("checkov") or {}).get("skip") or []:
                rel = path.relative_to(REPO_ROOT).as_posix()
                skips.append((skip["id"], rel, str(skip.get("comment") or "").strip()))
    return skips


def documented_skips() -> set[tuple[str, str]]:
    text = SECURITY_DOC.read_text()
    section = text.split("## Skipped checks", 1)[1].split("\n## ", 1)[0]
    rows = set()
    for line in section.splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"CKV2?_[A-Z0-9]+_\d+", cells[0]):
            rows.add((cells[0], cells[1]))
    return rows


def test_every_inline_skip_has_a_reason() -> None:
    skips = inline_skips()
    assert skips, "found no checkov skips at all: the scan of the repository is broken"
    short = [(c, f, r) for c, f, r in skips if len(r) < MIN_REASON_CHARS]
    assert not short, f"skips without a real reason (>= {MIN_REASON_CHARS} chars): {short}"


def test_security_doc_lists_exactly_the_inline_skips() -> None:
    in_code = {(check_id, path) for check_id, path, _ in inline_skips()}
    in_doc = documented_skips()
    missing = sorted(in_code - in_doc)
    stale = sorted(in_doc - in_code)
    rows = "\n".join(
        f"| `{c}` | `{p}` | {r} |" for c, p, r in sorted(inline_skips()) if (c, p) in missing
    )
    assert not missing and not stale, (
        f"docs/security.md '## Skipped checks' is out of date.\nmissing rows:\n{rows}\n"
        f"rows without a skip in the code: {stale}"
    )
