"""What a plan will do, for people and for the approved apply: `python3 -m scripts.plan_report`.

Reads `terraform show -json <plan>` on stdin (it holds sensitive values in clear: it is
never written to disk here) and writes only redacted forms:

    write  --env E --json dist/E.plan.json --markdown dist/E.plan.md [--text dist/E.plan.txt]
    verify --reviewed reviewed/E.plan.json [--digest D] --current dist/E.plan.json
    digest dist/E.plan.json
    drift  --env E --exit-code N --markdown dist/E.drift.md

- The **change set** (`write --json`): every resource change that is not a no-op, with its
  address, actions and before/after values, each sensitive value replaced by
  "(sensitive value)" (Terraform's own `*_sensitive` marks), plus the output changes;
  and its **digest**, the sha256 of its canonical JSON.
- The **summary** (`write --markdown`): counts, one line per changed resource (replace
  and delete called out), then the full plan text (`terraform show`, which redacts the
  same values; any sensitive value that still appears in it verbatim is masked too).
- `verify`: the approved apply re-plans and compares. It goes ahead only when the new
  change set is exactly the reviewed one (same digest); otherwise it refuses, printing
  what differs. The saved plan it then applies is Terraform's own: Terraform refuses it
  too if the state moved after that plan.
- `drift`: for a `-detailed-exitcode` plan, names the resources changed outside
  Terraform and the changes a plan would make; exits 2 when there are any.

Standard library only: deploy jobs run it without installing anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REDACTED = "(sensitive value)"
FORMAT = 1
# The GitHub step summary takes at most 1 MiB per step.
SUMMARY_LIMIT = 900_000
ACTION_SYMBOLS = {
    ("create",): "+ create",
    ("update",): "~ update in place",
    ("delete",): "- DESTROY",
    ("delete", "create"): "-/+ REPLACE (destroy first)",
    ("create", "delete"): "+/- REPLACE (create first)",
    ("read",): "<= read",
    ("forget",): ". forget (stays in AWS)",
}
DESTRUCTIVE = {"delete"}


def redact(value: Any, sensitive: Any) -> Any:
    """`value` with every part that `sensitive` (Terraform's mask) marks replaced."""
    if sensitive is True:
        return REDACTED
    if isinstance(value, dict) and isinstance(sensitive, dict):
        return {k: redact(v, sensitive.get(k, False)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(sensitive, list):
        return [
            redact(v, sensitive[i] if i < len(sensitive) else False) for i, v in enumerate(value)
        ]
    return value


def sensitive_values(value: Any, sensitive: Any) -> Iterator[str]:
    """The clear-text scalars that `sensitive` marks (to mask them anywhere else)."""
    if sensitive is True:
        if isinstance(value, dict | list):
            for inner in value.values() if isinstance(value, dict) else value:
                yield from sensitive_values(inner, True)
        elif value is not None and not isinstance(value, bool):
            yield str(value)
    elif isinstance(value, dict) and isinstance(sensitive, dict):
        for k, v in value.items():
            yield from sensitive_values(v, sensitive.get(k, False))
    elif isinstance(value, list) and isinstance(sensitive, list):
        for i, v in enumerate(value):
            yield from sensitive_values(v, sensitive[i] if i < len(sensitive) else False)


def _changes(plan: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [rc for rc in plan.get(key) or [] if rc["change"]["actions"] != ["no-op"]]


def change_set(plan: dict[str, Any]) -> dict[str, Any]:
    """The redacted, canonical form of what the plan will do (what reviewers approve)."""
    resources = []
    for rc in _changes(plan, "resource_changes"):
        change = rc["change"]
        resources.append(
            {
                "address": rc["address"],
                "actions": change["actions"],
                "action_reason": rc.get("action_reason"),
                "before": redact(change.get("before"), change.get("before_sensitive", False)),
                "after": redact(change.get("after"), change.get("after_sensitive", False)),
                "after_unknown": change.get("after_unknown", False),
                "replace_paths": change.get("replace_paths"),
            }
        )
    outputs = {}
    for name, change in sorted((plan.get("output_changes") or {}).items()):
        if change["actions"] == ["no-op"]:
            continue
        outputs[name] = {
            "actions": change["actions"],
            "before": redact(change.get("before"), change.get("before_sensitive", False)),
            "after": redact(change.get("after"), change.get("after_sensitive", False)),
            "after_unknown": change.get("after_unknown", False),
        }
    resources.sort(key=lambda r: r["address"])
    return {"format": FORMAT, "resource_changes": resources, "output_changes": outputs}


def digest(changes: dict[str, Any]) -> str:
    canonical = json.dumps(changes, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def all_sensitive_values(plan: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for key in ("resource_changes", "resource_drift"):
        for rc in plan.get(key) or []:
            change = rc["change"]
            found |= set(sensitive_values(change.get("before"), change.get("before_sensitive")))
            found |= set(sensitive_values(change.get("after"), change.get("after_sensitive")))
    for change in (plan.get("output_changes") or {}).values():
        found |= set(sensitive_values(change.get("before"), change.get("before_sensitive")))
        found |= set(sensitive_values(change.get("after"), change.get("after_sensitive")))
    # Short values ("true", "1") would mask unrelated text; secrets are long.
    return {v for v in found if len(v) >= 8}


def mask(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _label(actions: list[str]) -> str:
    return ACTION_SYMBOLS.get(tuple(actions), "/".join(actions))


def counts(changes: dict[str, Any]) -> dict[str, int]:
    out = {"create": 0, "update": 0, "delete": 0, "replace": 0, "read": 0}
    for rc in changes["resource_changes"]:
        actions = set(rc["actions"])
        if {"create", "delete"} <= actions:
            out["replace"] += 1
        else:
            for action in actions & set(out):
                out[action] += 1
    return out


def summary_markdown(env: str, changes: dict[str, Any], plan_text: str | None) -> str:
    c = counts(changes)
    lines = [f"### terraform plan: {env}", ""]
    resources = changes["resource_changes"]
    if not resources and not changes["output_changes"]:
        lines.append("**No changes.** The infrastructure matches the configuration.")
    else:
        tally = (
            f"{c['create']} to add, {c['update']} to change in place, {c['replace']} to "
            f"replace, {c['delete']} to destroy"
        )
        lines.append(f"**{tally}** (change set digest `{digest(changes)}`).")
        destructive = [r["address"] for r in resources if DESTRUCTIVE & set(r["actions"])]
        if destructive:
            lines += [
                "",
                f"> **Warning:** {len(destructive)} resource(s) will be destroyed or replaced:",
            ]
            lines += [f"> - `{a}`" for a in destructive]
        lines += ["", "| action | resource |", "|---|---|"]
        lines += [f"| {_label(r['actions'])} | `{r['address']}` |" for r in resources]
        if changes["output_changes"]:
            lines += ["", "Outputs: " + ", ".join(f"`{n}`" for n in changes["output_changes"])]
    if plan_text is not None:
        lines += [
            "",
            "<details><summary>full plan (sensitive values redacted)</summary>",
            "",
            "```",
        ]
        room = SUMMARY_LIMIT - sum(len(x) + 1 for x in lines) - 200
        shown = (
            plan_text
            if len(plan_text) <= room
            else plan_text[:room] + "\n... (cut: see the job log)"
        )
        lines += [shown.rstrip("\n"), "```", "</details>"]
    return "\n".join(lines) + "\n"


def verify(
    reviewed: dict[str, Any], current: dict[str, Any], reviewed_digest: str | None
) -> list[str]:
    """Why the current change set may not be applied as the reviewed one ([] = it may)."""
    problems = []
    if reviewed.get("format") != FORMAT:
        problems.append(f"the reviewed plan has format {reviewed.get('format')!r}, not {FORMAT}")
    if reviewed_digest is not None and digest(reviewed) != reviewed_digest:
        problems.append(
            f"the reviewed plan file (digest {digest(reviewed)}) is not the one the plan job "
            f"reported ({reviewed_digest})"
        )
    if digest(reviewed) != digest(current):
        before = {r["address"]: r for r in reviewed["resource_changes"]}
        now = {r["address"]: r for r in current["resource_changes"]}
        for address in sorted(set(before) | set(now)):
            if address not in now:
                problems.append(
                    f"{address}: reviewed {_label(before[address]['actions'])}, now no change"
                )
            elif address not in before:
                problems.append(
                    f"{address}: not in the reviewed plan, now {_label(now[address]['actions'])}"
                )
            elif before[address] != now[address]:
                was, becomes = _label(before[address]["actions"]), _label(now[address]["actions"])
                detail = (
                    f"reviewed {was}, now {becomes}"
                    if was != becomes
                    else f"{was} with other values"
                )
                problems.append(f"{address}: {detail}")
        if reviewed["output_changes"] != current["output_changes"]:
            problems.append("the output changes differ")
        if not problems:
            problems.append("the change sets differ")
    return problems


def drift_markdown(env: str, plan: dict[str, Any], exit_code: int) -> str:
    """Terraform decides (exit code 2: the plan has changes); this names the resources."""
    drifted = _changes(plan, "resource_drift")
    pending = _changes(plan, "resource_changes")
    lines = [f"### drift: {env}", ""]
    if exit_code != 2:
        lines.append("**No drift.** The infrastructure matches the code on the default branch.")
        if drifted:
            lines.append(
                f"({len(drifted)} object(s) changed outside Terraform in attributes the "
                "configuration ignores: " + ", ".join(f"`{rc['address']}`" for rc in drifted) + ")"
            )
        return "\n".join(lines) + "\n"
    lines.append(f"**DRIFT: {env} differs from the code on the default branch.**")
    lines.append("")
    if drifted:
        lines += [f"{len(drifted)} resource(s) changed outside Terraform:", ""]
        lines += [f"- `{rc['address']}` ({'/'.join(rc['change']['actions'])})" for rc in drifted]
        lines.append("")
    if pending:
        lines += [f"A plan would make {len(pending)} change(s) to match the code:", ""]
        lines += [f"- {_label(rc['change']['actions'])} `{rc['address']}`" for rc in pending]
        lines.append("")
    lines.append(
        "Apply the code again (re-run the deploy workflow) or bring the change into the "
        f"code; `make plan ENV={env}` shows every attribute."
    )
    return "\n".join(lines) + "\n"


def _read_plan() -> dict[str, Any]:
    data = sys.stdin.read()
    if not data.strip():
        raise SystemExit(
            "plan_report: error: no plan JSON on stdin (terraform show -json <plan> | ...)"
        )
    plan: dict[str, Any] = json.loads(data)
    return plan


def _append_github_summary(markdown: str) -> None:
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(markdown)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("write", help="redacted change set + summary from show -json")
    write.add_argument("--env", required=True)
    write.add_argument("--json", type=Path, required=True, help="the change set (redacted)")
    write.add_argument("--markdown", type=Path, required=True, help="the summary")
    write.add_argument(
        "--text", type=Path, help="`terraform show` output: masked in place, summarised"
    )
    check = commands.add_parser("verify", help="is the current change set the reviewed one?")
    check.add_argument("--reviewed", type=Path, required=True)
    check.add_argument("--digest", help="the digest the plan job reported")
    check.add_argument("--current", type=Path, required=True)
    of = commands.add_parser("digest", help="print a change set file's digest")
    of.add_argument("change_set", type=Path)
    drift = commands.add_parser("drift", help="summarise a -detailed-exitcode plan")
    drift.add_argument("--env", required=True)
    drift.add_argument("--exit-code", type=int, required=True, help="terraform plan's exit code")
    drift.add_argument("--markdown", type=Path, required=True)
    args = parser.parse_args(argv)

    if args.command == "write":
        plan = _read_plan()
        changes = change_set(plan)
        text = None
        if args.text is not None:
            text = mask(args.text.read_text(encoding="utf-8"), all_sensitive_values(plan))
            args.text.write_text(text, encoding="utf-8")
        args.json.write_text(json.dumps(changes, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        markdown = summary_markdown(args.env, changes, text)
        args.markdown.write_text(markdown, encoding="utf-8")
        c = counts(changes)
        print(
            f"plan {args.env}: {c['create']} to create, {c['update']} to update, {c['replace']} to "
            f"replace, {c['delete']} to destroy; change set {args.json} (digest {digest(changes)})"
        )
        return 0
    if args.command == "verify":
        reviewed = json.loads(args.reviewed.read_text(encoding="utf-8"))
        current = json.loads(args.current.read_text(encoding="utf-8"))
        problems = verify(reviewed, current, args.digest)
        if problems:
            print(
                "plan_report: REFUSED: this plan is not the one that was reviewed and approved "
                "(the environment or the code changed in between):",
                file=sys.stderr,
            )
            for problem in problems:
                print(f"  - {problem}", file=sys.stderr)
            print(
                "Nothing was applied. Re-run the workflow so that reviewers approve the new plan.",
                file=sys.stderr,
            )
            return 1
        print(f"plan_report: the plan is the reviewed one (digest {digest(current)}): applying it")
        return 0
    if args.command == "digest":
        print(digest(json.loads(args.change_set.read_text(encoding="utf-8"))))
        return 0
    plan = _read_plan()
    markdown = drift_markdown(args.env, plan, args.exit_code)
    args.markdown.write_text(markdown, encoding="utf-8")
    _append_github_summary(markdown)
    print(markdown)
    return 2 if args.exit_code == 2 else 0


if __name__ == "__main__":
    sys.exit(main())
