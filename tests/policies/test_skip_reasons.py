"""Every checkov skip carries a reason inline, and docs/security.md lists each one.

Skips live next to the resource they exempt (scripts/checkov_skips.py reads them): `#
checkov:skip=<ID>:<reason>` in Terraform and workflows, `Metadata.checkov.skip[].comment`
in the CloudFormation template. The table under "## Skipped checks" in docs/security.md is
generated from them (scripts/generated_docs.py), so the reviewers' list never drifts from
the code.
"""

from __future__ import annotations

from scripts import generated_docs
from scripts.checkov_skips import inline_skips

MIN_REASON_CHARS = 20


def test_every_inline_skip_has_a_reason() -> None:
    skips = inline_skips()
    assert skips, "found no checkov skips at all: the scan of the repository is broken"
    assert {s.file for s in skips} >= {"bootstrap/template.yaml", "main.tf"}
    short = [s for s in skips if len(s.reason) < MIN_REASON_CHARS]
    assert not short, f"skips without a real reason (>= {MIN_REASON_CHARS} chars): {short}"


def test_security_doc_lists_exactly_the_inline_skips_with_their_reasons() -> None:
    (section,) = [s for s in generated_docs.sections() if s.path.name == "security.md"]
    text = section.path.read_text(encoding="utf-8")
    assert generated_docs.rendered(section, generated_docs.REPO_ROOT) == text, (
        "docs/security.md '## Skipped checks' is out of date: run `make docs`"
    )
    for skip in inline_skips():
        assert f"| `{skip.check_id}` | `{skip.file}` |" in text
