"""Invariants of the GitHub Actions workflows (ci.yml, deploy.yml).

Each invariant is a pure function ``check(workflow) -> list[str]`` of violations (empty =
holds). The tests assert that the real workflows hold every invariant, and that each check
catches a broken copy (mutation tests), so a check that silently passes everything fails
the suite.

PyYAML parses the ``on:`` key as ``True``; comments (the ``# vX.Y.Z`` after a pinned SHA)
are not in the parsed document, so a ``Workflow`` carries its text as well.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"

SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\b")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
UNTRUSTED = ("github.event", "inputs.", "head_ref")
MAKE_ENV = re.compile(r"\bmake\s+(plan|apply|smoke|package)\b([^\n;&|]*)")
OIDC_ACTION = "aws-actions/configure-aws-credentials"


@dataclass(frozen=True)
class Workflow:
    name: str
    text: str
    doc: dict[Any, Any]

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        return self.doc.get("jobs") or {}


def parse(name: str, text: str) -> Workflow:
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict), f"{name}: not a mapping"
    return Workflow(name=name, text=text, doc=doc)


def load(name: str) -> Workflow:
    return parse(name, (WORKFLOWS / name).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- helpers


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def runs(job: dict[str, Any]) -> list[tuple[int, str]]:
    return [(i, str(s["run"])) for i, s in enumerate(steps(job)) if "run" in s]


def uses_action(step: dict[str, Any], action: str) -> bool:
    return str(step.get("uses", "")).split("@", 1)[0] == action


def make_calls(job: dict[str, Any], target: str) -> list[tuple[int, str | None]]:
    """(step index, ENV value or None) of every `make <target>` in the job's run steps."""
    calls = []
    for i, script in runs(job):
        for m in MAKE_ENV.finditer(script):
            if m.group(1) == target:
                env = re.search(r"\bENV=\"?([A-Za-z0-9_$.-]+)\"?", m.group(2))
                calls.append((i, env.group(1) if env else None))
    return calls


def environment_name(job: dict[str, Any]) -> str | None:
    env = job.get("environment")
    if isinstance(env, dict):
        return env.get("name")
    return env


def needs(job: dict[str, Any]) -> list[str]:
    value = job.get("needs") or []
    return [value] if isinstance(value, str) else list(value)


def permissions_of(value: Any) -> dict[str, str]:
    if value in (None, {}):
        return {}
    if isinstance(value, str):  # read-all / write-all
        return {"*": value.split("-")[0]}
    return {str(k): str(v) for k, v in value.items()}


# ---------------------------------------------------------------- invariants


def check_prod_needs_staging(wf: Workflow) -> list[str]:
    prod = wf.jobs.get("production")
    if prod is None:
        return ["no `production` job"]
    missing = {"build", "staging"} - set(needs(prod))
    return [f"production does not need {sorted(missing)}"] if missing else []


def check_environments(wf: Workflow) -> list[str]:
    want = {"staging": "staging", "production": "production"}
    out = []
    for job_id, env in want.items():
        job = wf.jobs.get(job_id)
        got = environment_name(job) if job else None
        if got != env:
            out.append(f"job {job_id!r} uses environment {got!r}, want {env!r}")
    return out


def check_applies_use_saved_plans(wf: Workflow) -> list[str]:
    """`make apply ENV=x` only after `make plan ENV=x` in the same job, nothing rebuilt or
    re-planned with another ENV in between, and no PLAN_FILE override on either side."""
    out = []
    for job_id, job in wf.jobs.items():
        plans = make_calls(job, "plan")
        for idx, env in make_calls(job, "apply"):
            if env is None:
                out.append(f"{job_id}: `make apply` without ENV=")
                continue
            earlier = [p for p in plans if p[0] < idx]
            if not earlier or earlier[-1][1] != env:
                out.append(
                    f"{job_id}: `make apply ENV={env}` is not preceded by `make plan ENV={env}`"
                )
                continue
            between = [i for i, _ in make_calls(job, "package") if earlier[-1][0] < i <= idx]
            if between:
                out.append(f"{job_id}: `make package` between plan and apply")
            for i, script in runs(job):
                if i in (earlier[-1][0], idx) and "PLAN_FILE" in script:
                    out.append(f"{job_id}: PLAN_FILE overridden in step {i}")
    for job_id in ("staging", "production"):
        if job_id in wf.jobs and not make_calls(wf.jobs[job_id], "apply"):
            out.append(f"{job_id}: no `make apply`")
    return out


def check_build_once(wf: Workflow) -> list[str]:
    """Only `build` runs `make package`; every job that plans downloads this run's artifact
    (uploaded by `build`) before planning."""
    out = []
    packagers = [j for j, job in wf.jobs.items() if make_calls(job, "package")]
    if packagers != ["build"]:
        out.append(f"`make package` runs in {packagers}, want only ['build']")
    build = wf.jobs.get("build", {})
    uploads = [s for s in steps(build) if uses_action(s, "actions/upload-artifact")]
    names = {str((s.get("with") or {}).get("name")) for s in uploads}
    if not uploads:
        out.append("build does not upload an artifact")
    for job_id, job in wf.jobs.items():
        plans = make_calls(job, "plan")
        if not plans:
            continue
        if "build" not in needs(job):
            out.append(f"{job_id}: plans but does not need build")
        downloads = [
            (i, s) for i, s in enumerate(steps(job)) if uses_action(s, "actions/download-artifact")
        ]
        if not downloads or downloads[0][0] > plans[0][0]:
            out.append(f"{job_id}: no artifact download before `make plan`")
        for _, s in downloads:
            with_ = s.get("with") or {}
            if "run-id" in with_ or "github-token" in with_:
                out.append(f"{job_id}: downloads an artifact from another run")
            if str(with_.get("name")) not in names:
                out.append(
                    f"{job_id}: downloads {with_.get('name')!r}, build uploads {sorted(names)}"
                )
    return out


def all_uses(wf: Workflow) -> list[tuple[str, str]]:
    found = []
    for job_id, job in wf.jobs.items():
        if "uses" in job:  # reusable workflow
            found.append((job_id, str(job["uses"])))
        found += [(job_id, str(s["uses"])) for s in steps(job) if "uses" in s]
    return found


def check_uses_pinned(wf: Workflow) -> list[str]:
    out = []
    lines = wf.text.splitlines()
    for job_id, ref in all_uses(wf):
        if ref.startswith("./"):
            continue
        if not SHA_PIN.match(ref):
            out.append(f"{job_id}: {ref} is not pinned by a full commit SHA")
            continue
        commented = [ln for ln in lines if re.search(rf"uses:\s*{re.escape(ref)}\s", ln + " ")]
        if not commented or not all(VERSION_COMMENT.search(ln) for ln in commented):
            out.append(f"{job_id}: {ref} has no `# vX.Y.Z` version comment")
    if not all_uses(wf):
        out.append("no `uses:` found (parser broken?)")
    return out


def check_top_level_permissions_read_only(wf: Workflow) -> list[str]:
    if "permissions" not in wf.doc:
        return ["no top-level permissions (defaults may be write)"]
    perms = permissions_of(wf.doc["permissions"])
    bad = {k: v for k, v in perms.items() if v not in ("read", "none")}
    return [f"top-level permissions grant {bad}"] if bad else []


def check_id_token_only_with_oidc(wf: Workflow) -> list[str]:
    out = []
    if permissions_of(wf.doc.get("permissions")).get("id-token") == "write":
        out.append("top-level permissions grant id-token: write")
    for job_id, job in wf.jobs.items():
        perms = permissions_of(job.get("permissions"))
        uses_oidc = any(uses_action(s, OIDC_ACTION) for s in steps(job))
        has_token = perms.get("id-token") == "write" or perms.get("*") == "write"
        if has_token and not uses_oidc:
            out.append(f"{job_id}: id-token: write without configure-aws-credentials")
        if uses_oidc and not has_token:
            out.append(f"{job_id}: configure-aws-credentials without id-token: write")
        if "permissions" not in job:
            out.append(f"{job_id}: no job-level permissions")
    return out


def check_checkout_no_persisted_credentials(wf: Workflow) -> list[str]:
    out = []
    for job_id, job in wf.jobs.items():
        for s in steps(job):
            if uses_action(s, "actions/checkout"):
                value = (s.get("with") or {}).get("persist-credentials")
                if value not in (False, "false"):
                    out.append(f"{job_id}: checkout without persist-credentials: false")
    return out


def check_no_untrusted_expressions_in_run(wf: Workflow) -> list[str]:
    out = []
    for job_id, job in wf.jobs.items():
        for i, script in runs(job):
            for expr in EXPRESSION.findall(script):
                if any(u in expr for u in UNTRUSTED):
                    out.append(f"{job_id} step {i}: `${{{{{expr.strip()}}}}}` in run: (use env:)")
    return out


def check_concurrency_per_environment(wf: Workflow) -> list[str]:
    """One concurrency group per environment; staging never cancels a running apply;
    production lets a newer run supersede one waiting for approval."""
    out = []
    groups: dict[str, str] = {}
    want_cancel = {"staging": False, "production": True}
    for job_id, job in wf.jobs.items():
        env = environment_name(job)
        if env is None:
            continue
        conc = job.get("concurrency")
        if not isinstance(conc, dict) or env not in str(conc.get("group", "")):
            out.append(f"{job_id}: no concurrency group naming environment {env!r}")
            continue
        groups[job_id] = str(conc["group"])
        if env in want_cancel and bool(conc.get("cancel-in-progress", False)) != want_cancel[env]:
            out.append(f"{job_id}: cancel-in-progress should be {want_cancel[env]}")
    if len(set(groups.values())) != len(groups):
        out.append(f"environments share a concurrency group: {groups}")
    if wf.name == "deploy.yml" and set(groups) != {"staging", "production"}:
        out.append(f"concurrency groups found for {sorted(groups)}")
    return out


COMMON: list[Callable[[Workflow], list[str]]] = [
    check_uses_pinned,
    check_top_level_permissions_read_only,
    check_id_token_only_with_oidc,
    check_checkout_no_persisted_credentials,
    check_no_untrusted_expressions_in_run,
    check_applies_use_saved_plans,
]
DEPLOY_ONLY: list[Callable[[Workflow], list[str]]] = [
    check_prod_needs_staging,
    check_environments,
    check_build_once,
    check_concurrency_per_environment,
]


# ---------------------------------------------------------------- the real workflows


@pytest.fixture(scope="module")
def deploy() -> Workflow:
    return load("deploy.yml")


@pytest.fixture(scope="module")
def ci() -> Workflow:
    return load("ci.yml")


def test_on_key_parses_as_true_and_triggers_are_as_designed(deploy: Workflow, ci: Workflow) -> None:
    assert set(deploy.doc[True]) == {"push", "workflow_dispatch"}
    assert deploy.doc[True]["push"]["branches"] == ["main"]
    assert deploy.doc[True]["workflow_dispatch"]["inputs"]["ref"]["required"] is False
    assert set(ci.doc[True]) == {"pull_request", "push"}


@pytest.mark.parametrize("check", COMMON, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_workflow_holds_common_invariant(name: str, check: Callable[[Workflow], list[str]]) -> None:
    assert check(load(name)) == []


@pytest.mark.parametrize("check", DEPLOY_ONLY, ids=lambda f: f.__name__)
def test_deploy_holds_invariant(deploy: Workflow, check: Callable[[Workflow], list[str]]) -> None:
    assert check(deploy) == []


def test_ci_calls_make_targets_and_plans_staging_with_oidc(ci: Workflow) -> None:
    assert [s for _, s in runs(ci.jobs["lint"])] == ["make lint"]
    assert [s for _, s in runs(ci.jobs["test"])] == ["make test"]
    plan = ci.jobs["plan"]
    assert {m["env"] for m in plan["strategy"]["matrix"]["include"]} == {
        "staging"
    }  # no PR token may read prod state
    assert any(uses_action(s, OIDC_ACTION) for s in steps(plan))
    assert any("GITHUB_STEP_SUMMARY" in s for _, s in runs(plan))


def test_role_to_assume_comes_from_variables_not_literals(ci: Workflow, deploy: Workflow) -> None:
    for wf in (ci, deploy):
        for job in wf.jobs.values():
            for s in steps(job):
                if uses_action(s, OIDC_ACTION):
                    role = str(s["with"]["role-to-assume"])
                    assert role.startswith("${{") and "arn:" not in role


def test_docs_name_every_variable_and_secret_the_workflows_use(
    ci: Workflow, deploy: Workflow
) -> None:
    docs = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    names = set(re.findall(r"\b(?:vars|secrets)\.([A-Z][A-Z0-9_]+)", ci.text + deploy.text))
    assert names, "no vars./secrets. found"
    assert sorted(n for n in names if n not in docs) == []


# ---------------------------------------------------------------- mutation tests


def text_sub(old: str, new: str, count: int = 1) -> Callable[[Workflow], Workflow]:
    def mutate(wf: Workflow) -> Workflow:
        assert old in wf.text, f"mutation anchor not found: {old!r}"
        return parse(wf.name, wf.text.replace(old, new, count))

    return mutate


def doc_edit(edit: Callable[[dict[str, Any]], None]) -> Callable[[Workflow], Workflow]:
    def mutate(wf: Workflow) -> Workflow:
        doc = copy.deepcopy(wf.doc)
        edit(doc)
        return replace(wf, doc=doc)

    return mutate


def _job(doc: dict[str, Any], job_id: str) -> dict[str, Any]:
    job: dict[str, Any] = doc["jobs"][job_id]
    return job


def _step(
    doc: dict[str, Any], job_id: str, pred: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    return next(s for s in _job(doc, job_id)["steps"] if pred(s))


def _is_run(fragment: str) -> Callable[[dict[str, Any]], bool]:
    return lambda s: fragment in str(s.get("run", ""))


def _set_run(job_id: str, fragment: str, new: str) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        _step(doc, job_id, _is_run(fragment))["run"] = new

    return edit


def _add_step(
    job_id: str, step: dict[str, Any], index: int = 0
) -> Callable[[dict[str, Any]], None]:
    return lambda doc: _job(doc, job_id)["steps"].insert(index, step)


def _drop_steps(
    job_id: str, pred: Callable[[dict[str, Any]], bool]
) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        job = _job(doc, job_id)
        job["steps"] = [s for s in job["steps"] if not pred(s)]

    return edit


def _swap_plan_and_apply(doc: dict[str, Any]) -> None:
    job_steps = _job(doc, "production")["steps"]
    i = next(n for n, s in enumerate(job_steps) if "make plan" in str(s.get("run", "")))
    j = next(n for n, s in enumerate(job_steps) if "make apply" in str(s.get("run", "")))
    job_steps[i], job_steps[j] = job_steps[j], job_steps[i]


CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"

MUTATIONS: list[
    tuple[str, str, Callable[[Workflow], list[str]], Callable[[Workflow], Workflow]]
] = [
    # (id, workflow, check that must catch it, mutation)
    (
        "prod-without-needs-staging",
        "deploy.yml",
        check_prod_needs_staging,
        text_sub("needs: [build, staging]", "needs: [build]"),
    ),
    (
        "prod-job-renamed",
        "deploy.yml",
        check_prod_needs_staging,
        doc_edit(lambda d: d["jobs"].update(prod=d["jobs"].pop("production"))),
    ),
    (
        "prod-environment-staging",
        "deploy.yml",
        check_environments,
        doc_edit(lambda d: _job(d, "production")["environment"].update(name="staging")),
    ),
    (
        "staging-without-environment",
        "deploy.yml",
        check_environments,
        doc_edit(lambda d: _job(d, "staging").pop("environment")),
    ),
    (
        "apply-without-plan",
        "deploy.yml",
        check_applies_use_saved_plans,
        doc_edit(_drop_steps("production", _is_run("make plan"))),
    ),
    (
        "apply-other-env-than-plan",
        "deploy.yml",
        check_applies_use_saved_plans,
        doc_edit(_set_run("production", "make apply", "make apply ENV=staging")),
    ),
    (
        "apply-before-plan",
        "deploy.yml",
        check_applies_use_saved_plans,
        doc_edit(_swap_plan_and_apply),
    ),
    (
        "apply-other-plan-file",
        "deploy.yml",
        check_applies_use_saved_plans,
        doc_edit(
            _set_run("staging", "make apply", "make apply ENV=staging PLAN_FILE=other.tfplan")
        ),
    ),
    (
        "rebuild-between-plan-and-apply",
        "deploy.yml",
        check_applies_use_saved_plans,
        doc_edit(_set_run("staging", "make apply", "make package && make apply ENV=staging")),
    ),
    (
        "staging-rebuilds",
        "deploy.yml",
        check_build_once,
        doc_edit(_add_step("staging", {"run": "make package"}, 3)),
    ),
    (
        "prod-without-download",
        "deploy.yml",
        check_build_once,
        doc_edit(_drop_steps("production", lambda s: uses_action(s, "actions/download-artifact"))),
    ),
    (
        "download-from-another-run",
        "deploy.yml",
        check_build_once,
        doc_edit(
            lambda d: _step(d, "production", lambda s: uses_action(s, "actions/download-artifact"))[
                "with"
            ].update({"run-id": "${{ vars.OLD_RUN }}", "github-token": "${{ github.token }}"})
        ),
    ),
    (
        "action-pinned-by-tag",
        "deploy.yml",
        check_uses_pinned,
        text_sub(CHECKOUT, "actions/checkout@v7"),
    ),
    (
        "action-pinned-by-short-sha",
        "ci.yml",
        check_uses_pinned,
        text_sub(CHECKOUT, "actions/checkout@3d3c42e # v7.0.1"),
    ),
    (
        "pin-without-version-comment",
        "ci.yml",
        check_uses_pinned,
        text_sub(CHECKOUT, "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"),
    ),
    (
        "top-level-write-all",
        "deploy.yml",
        check_top_level_permissions_read_only,
        doc_edit(lambda d: d.update(permissions="write-all")),
    ),
    (
        "top-level-contents-write",
        "ci.yml",
        check_top_level_permissions_read_only,
        doc_edit(lambda d: d.update(permissions={"contents": "write"})),
    ),
    (
        "top-level-permissions-missing",
        "ci.yml",
        check_top_level_permissions_read_only,
        doc_edit(lambda d: d.pop("permissions")),
    ),
    (
        "id-token-on-build",
        "deploy.yml",
        check_id_token_only_with_oidc,
        doc_edit(lambda d: _job(d, "build")["permissions"].update({"id-token": "write"})),
    ),
    (
        "id-token-on-lint",
        "ci.yml",
        check_id_token_only_with_oidc,
        doc_edit(lambda d: _job(d, "lint")["permissions"].update({"id-token": "write"})),
    ),
    (
        "id-token-top-level",
        "deploy.yml",
        check_id_token_only_with_oidc,
        doc_edit(lambda d: d.update(permissions={"id-token": "write"})),
    ),
    (
        "checkout-persists-credentials",
        "deploy.yml",
        check_checkout_no_persisted_credentials,
        doc_edit(
            lambda d: _step(d, "build", lambda s: uses_action(s, "actions/checkout"))["with"].pop(
                "persist-credentials"
            )
        ),
    ),
    (
        "checkout-persist-true",
        "ci.yml",
        check_checkout_no_persisted_credentials,
        doc_edit(
            lambda d: _step(d, "test", lambda s: uses_action(s, "actions/checkout"))["with"].update(
                {"persist-credentials": True}
            )
        ),
    ),
    (
        "pr-title-in-run",
        "ci.yml",
        check_no_untrusted_expressions_in_run,
        doc_edit(
            _set_run(
                "lint", "make lint", 'echo "${{ github.event.pull_request.title }}" && make lint'
            )
        ),
    ),
    (
        "dispatch-input-in-run",
        "deploy.yml",
        check_no_untrusted_expressions_in_run,
        doc_edit(
            _set_run("build", "make package", "git checkout ${{ inputs.ref }} && make package")
        ),
    ),
    (
        "head-ref-in-run",
        "ci.yml",
        check_no_untrusted_expressions_in_run,
        doc_edit(_set_run("test", "make test", "echo ${{ github.head_ref }}; make test")),
    ),
    (
        "prod-without-concurrency",
        "deploy.yml",
        check_concurrency_per_environment,
        doc_edit(lambda d: _job(d, "production").pop("concurrency")),
    ),
    (
        "staging-cancels-in-flight-apply",
        "deploy.yml",
        check_concurrency_per_environment,
        doc_edit(lambda d: _job(d, "staging")["concurrency"].update({"cancel-in-progress": True})),
    ),
    (
        "environments-share-a-group",
        "deploy.yml",
        check_concurrency_per_environment,
        doc_edit(
            lambda d: _job(d, "staging")["concurrency"].update(
                group=_job(d, "production")["concurrency"]["group"]
            )
        ),
    ),
]


@pytest.mark.parametrize(
    ("name", "check", "mutate"),
    [pytest.param(n, c, m, id=i) for i, n, c, m in MUTATIONS],
)
def test_check_catches_broken_copy(
    name: str,
    check: Callable[[Workflow], list[str]],
    mutate: Callable[[Workflow], Workflow],
) -> None:
    original = load(name)
    assert check(original) == [], "the real workflow must hold the invariant"
    assert check(mutate(original)) != [], f"{check.__name__} did not catch the mutation"


def test_every_invariant_has_a_mutation_test() -> None:
    covered = {c for _, _, c, _ in MUTATIONS}
    assert set(COMMON + DEPLOY_ONLY) <= covered


@pytest.mark.parametrize("name", ["ci.yml", "deploy.yml"])
def test_run_steps_use_bash_with_pipefail(name: str) -> None:
    # `shell: bash` is GitHub's `bash -eo pipefail`; the default would hide a failing
    # `make plan | tee` behind tee's success.
    workflow = load(name).doc
    assert workflow["defaults"]["run"]["shell"] == "bash"
    for job in workflow["jobs"].values():
        for step in steps(job):
            assert step.get("shell", "bash") == "bash", step
