"""IAM review of the bootstrap template (scripts/lint-security; runs in .venv-tools).

Resolves bootstrap/template.yaml for the example stacks (scripts/bootstrap_policies.py)
and runs two IAM linters over the policies AWS would hold:

- parliament: each policy document's grammar, unknown actions, condition keys or operators
  that do not fit the action (e.g. StringEquals on an ARN key), resources that match no
  action;
- cloudsplaining (every risky action flagged, scoped or not): for each GitHub role, the
  privilege-escalation methods, resource-exposure, data-exfiltration and credentials-
  exposure actions its allows add up to.

Every finding must be listed with its reason in policies/iam-review.yaml (how the
guardrails contain it; tests/iam/test_escalation_paths.py proves the containment), and
every listed entry must still be found: a new risky action on a GitHub role fails the
review until someone has reasoned about it, and a stale acceptance fails it too.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import yaml

from scripts import bootstrap_policies as bp

ROOT = Path(__file__).resolve().parents[1]
ACCEPTED = ROOT / "policies" / "iam-review.yaml"
CLOUDSPLAINING_CATEGORIES = {
    "PrivilegeEscalation": "privilege_escalation",
    "ResourceExposure": "resource_exposure",
    "DataExfiltration": "data_exfiltration",
    "CredentialsExposure": "credentials_exposure",
    "ServiceWildcard": "service_wildcard",
}


def parliament_findings(documents: dict[str, dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(policy, issue, detail) of every parliament finding."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # parliament imports pkg_resources (deprecated)
        from parliament import analyze_policy_string  # noqa: PLC0415 - only in .venv-tools

    found = set()
    for name, document in documents.items():
        policy = analyze_policy_string(json.dumps(document), filepath=name)
        for finding in policy.findings:
            detail = finding.detail
            if isinstance(detail, list):
                detail = ", ".join(
                    sorted(
                        {str(d.get("action", d)) if isinstance(d, dict) else str(d) for d in detail}
                    )
                )
            found.add((name, finding.issue, str(detail)))
    return found


def cloudsplaining_findings(roles: dict[str, dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(role, category, method or action) of every cloudsplaining finding."""
    from cloudsplaining.command.scan_policy_file import scan_policy  # noqa: PLC0415 - .venv-tools

    found = set()
    for role, document in roles.items():
        results = scan_policy(
            document, {}, flag_conditional_statements=True, flag_resource_arn_statements=True
        )
        for key, category in CLOUDSPLAINING_CATEGORIES.items():
            for item in (results.get(key) or {}).get("findings", []):
                found.add(
                    (role, category, str(item.get("type") if isinstance(item, dict) else item))
                )
    return found


def role_documents(stack: bp.Stack) -> dict[str, dict[str, Any]]:
    """Each role's allows as one document (cloudsplaining adds up what a role may do)."""
    out = {}
    for role in ("DeployRole", "PlanRole"):
        statements = [
            st
            for _, doc in stack.identity_policies(role)
            for st in doc["Statement"]
            if st["Effect"] == "Allow"
        ]
        out[role] = {"Version": "2012-10-17", "Statement": statements}
    return out


def review(accepted: dict[str, Any], template: dict[str, Any] | None = None) -> list[str]:
    problems = []
    parliament_ok = {(e["policy"], e["issue"], e["detail"]) for e in accepted.get("parliament", [])}
    cloudsplaining_ok = {
        (role, category, item)
        for role, categories in accepted.get("cloudsplaining", {}).items()
        for category, items in categories.items()
        for item in items
    }
    for entry in accepted.get("parliament", []):
        if len(str(entry.get("reason", "")).strip()) < 20:
            problems.append(f"accepted parliament finding without a reason: {entry}")
    for role, categories in accepted.get("cloudsplaining", {}).items():
        for category, items in categories.items():
            for item, reason in items.items():
                if len(str(reason or "").strip()) < 20:
                    problems.append(f"accepted {role} {category} {item} without a reason")
    seen_parliament: set[tuple[str, str, str]] = set()
    seen_cloudsplaining: set[tuple[str, str, str]] = set()
    for environment in sorted(bp.EXAMPLE_STACKS):
        stack = bp.stack(environment, template)
        for finding in sorted(parliament_findings(bp.policy_documents(stack))):
            seen_parliament.add(finding)
            if finding not in parliament_ok:
                problems.append(
                    f"{environment}: parliament {finding[1]} in {finding[0]}: {finding[2]}"
                )
        for finding in sorted(cloudsplaining_findings(role_documents(stack))):
            seen_cloudsplaining.add(finding)
            if finding not in cloudsplaining_ok:
                problems.append(
                    f"{environment}: cloudsplaining {finding[0]} {finding[1]}: {finding[2]}"
                )
    for entry in sorted(parliament_ok - seen_parliament):
        problems.append(f"stale acceptance (parliament no longer finds it): {entry}")
    for entry in sorted(cloudsplaining_ok - seen_cloudsplaining):
        problems.append(f"stale acceptance (cloudsplaining no longer finds it): {entry}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accepted", type=Path, default=ACCEPTED)
    parser.add_argument("--template", type=Path, default=bp.TEMPLATE)
    args = parser.parse_args(argv)
    accepted = yaml.safe_load(args.accepted.read_text(encoding="utf-8")) or {}
    problems = review(accepted, bp.load_template(args.template))
    for problem in problems:
        print(f"iam-review: {problem}", file=sys.stderr)
    total = len(accepted.get("parliament", [])) + sum(
        len(items)
        for categories in accepted.get("cloudsplaining", {}).values()
        for items in categories.values()
    )
    print(f"iam-review: {len(problems)} problem(s); {total} accepted finding(s) with reasons")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
