"""Invariants of the GitHub Actions workflows (ci.yml, deploy.yml, drift.yml).

Each invariant is a pure function ``check(workflow) -> list[str]`` of violations (empty =
holds). The tests assert that the real workflows hold every invariant, and that each check
catches a broken copy (mutation tests), so a check that silently passes everything fails
the suite.

Several invariants are about what a `make` target does (a lock timeout, no install, a
detailed exit code): a ``Workflow`` carries the Makefile's recipes as `make -n` prints them
(``recipes``), so a mutation can break the Makefile side as well as the YAML side.

PyYAML parses the ``on:`` key as ``True``; comments (the ``# vX.Y.Z`` after a pinned SHA)
are not in the parsed document, so a ``Workflow`` carries its text as well.
"""

from __future__ import annotations

import copy
import functools
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from scripts import environments as envs

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
WORKFLOW_NAMES = sorted(p.name for p in WORKFLOWS.glob("*.yml"))

SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\b")
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
UNTRUSTED = ("github.event", "inputs.", "head_ref")
MAKE_CALL = re.compile(r"\bmake\s+(?:-\S+\s+)*([a-z][a-z-]*)\b([^\n;&|]*)")
OIDC_ACTION = "aws-actions/configure-aws-credentials"
PROD = envs.PRODUCTION
PRE_PROD_MATRIX = "${{ fromJSON(needs.build.outputs.pre_prod) }}"
# Terraform commands that take the state lock.
LOCKING = re.compile(
    r"\bterraform\s+(?:-chdir=\S+\s+)?(plan|apply|destroy|import|refresh|taint|untaint)\b"
)
# What installs or builds software: never with a role's credentials in the environment.
INSTALLS = re.compile(
    r"\b(pip3?|uv|poetry|pipx|npm|npx|yarn|pnpm|apt-get|apt|brew|gem|go\s+install|cargo)\s"
    r"|\bpython3?\S*\s+-m\s+(pip|venv)\b|\bcurl\b|\bwget\b|scripts/tools-venv"
)
# Actions allowed after the credentials step (no code of their own runs with them).
AFTER_CREDENTIALS_ACTIONS = {"actions/upload-artifact"}
# The make targets workflows call, with an ENV: their recipes as `make -n` prints them.
RECIPE_TARGETS = ("package", "test", "lint", "preflight", "plan", "apply", "drift", "smoke")


@functools.cache
def makefile_recipes() -> dict[str, str]:
    """`make -n -B <target>` of each target (every prerequisite, no command run)."""
    recipes = {}
    for target in RECIPE_TARGETS:
        out = subprocess.run(
            ["make", "-n", "-B", "--no-print-directory", target, "ENV=staging",
             "REVIEWED_PLAN=reviewed/staging.plan.json", "VENV=/nonexistent/venv"],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        recipes[target] = out.stdout
    return recipes


@dataclass(frozen=True)
class Workflow:
    name: str
    text: str
    doc: dict[Any, Any]
    recipes: dict[str, str] = field(default_factory=makefile_recipes)

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


def make_calls(job: dict[str, Any], target: str | None = None) -> list[tuple[int, str | None]]:
    """(step index, ENV value or None) of every `make <target>` in the job's run steps."""
    calls = []
    for i, script in runs(job):
        for m in MAKE_CALL.finditer(script):
            if target is None or m.group(1) == target:
                env = re.search(r"\bENV=\"?([A-Za-z0-9_$.-]+)\"?", m.group(2))
                calls.append((i, env.group(1) if env else None))
    return calls


def make_targets(job: dict[str, Any], from_step: int = 0) -> list[tuple[int, str, str]]:
    """(step index, target, arguments) of every `make` call from step `from_step` on."""
    return [
        (i, m.group(1), m.group(2))
        for i, script in runs(job)
        if i >= from_step
        for m in MAKE_CALL.finditer(script)
    ]


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


def oidc_index(job: dict[str, Any]) -> int | None:
    return next((i for i, s in enumerate(steps(job)) if uses_action(s, OIDC_ACTION)), None)


def jobs_applying(wf: Workflow, env: str | None = None) -> dict[str, dict[str, Any]]:
    return {
        j: job
        for j, job in wf.jobs.items()
        if any(env is None or e == env for _, e in make_calls(job, "apply"))
    }


def uploads(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s.get("with") or {} for s in steps(job) if uses_action(s, "actions/upload-artifact")]


def upload_paths(job: dict[str, Any]) -> list[str]:
    return [
        p.strip() for w in uploads(job) for p in str(w.get("path", "")).splitlines() if p.strip()
    ]


# ---------------------------------------------------------------- invariants


def check_pre_prod_then_prod(wf: Workflow) -> list[str]:
    """Every stage before prod (a matrix of the environments scripts/environments.py finds)
    deploys before prod is even planned; prod's apply needs its reviewed plan."""
    out = []
    pre = wf.jobs.get("pre-prod")
    if pre is None:
        return ["no `pre-prod` job"]
    matrix = (pre.get("strategy") or {}).get("matrix")
    if matrix != PRE_PROD_MATRIX:
        out.append(f"pre-prod's matrix is {matrix!r}, not the environments list {PRE_PROD_MATRIX}")
    plan, prod = wf.jobs.get("prod-plan"), wf.jobs.get(PROD)
    if plan is None or prod is None:
        return [*out, "no `prod-plan` and `prod` jobs"]
    if not {"build", "pre-prod"} <= set(needs(plan)):
        out.append(f"prod-plan needs {needs(plan)}, not build and pre-prod")
    if "prod-plan" not in needs(prod):
        out.append(f"prod needs {needs(prod)}, not prod-plan")
    return out


def check_environments(wf: Workflow) -> list[str]:
    """GitHub environment = Terraform environment: the matrix's name, and `prod`."""
    want = {"pre-prod": "${{ matrix.env }}", PROD: PROD}
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
    for job_id in ("pre-prod", PROD):
        if wf.name == "deploy.yml" and not make_calls(wf.jobs.get(job_id, {}), "apply"):
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
    names = {str(w.get("name")) for w in uploads(build)}
    if not names:
        out.append("build does not upload an artifact")
    for job_id, job in wf.jobs.items():
        plans = make_calls(job, "plan") + make_calls(job, "drift")
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
            produced = names | {
                str(w.get("name")) for j in needs(job) for w in uploads(wf.jobs.get(j, {}))
            }
            if str(with_.get("name")) not in produced:
                out.append(f"{job_id}: downloads {with_.get('name')!r}, not uploaded by its needs")
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
    """One concurrency group per environment (its name in the group); the prod plan shares
    prod's group, so no plan is made while an approved prod apply is pending or running."""
    out = []
    groups: dict[str, str] = {}
    for job_id, job in wf.jobs.items():
        env = environment_name(job)
        if env is None:
            continue
        conc = job.get("concurrency")
        if not isinstance(conc, dict) or env not in str(conc.get("group", "")):
            out.append(f"{job_id}: no concurrency group naming environment {env!r}")
            continue
        groups[job_id] = str(conc["group"])
    if len(set(groups.values())) != len(groups):
        out.append(f"environments share a concurrency group: {groups}")
    if wf.name == "deploy.yml":
        if set(groups) != {"pre-prod", PROD}:
            out.append(f"concurrency groups found for {sorted(groups)}")
        plan_group = (wf.jobs.get("prod-plan", {}).get("concurrency") or {}).get("group")
        if plan_group is None or plan_group != groups.get(PROD):
            out.append(f"prod-plan's group {plan_group!r} is not prod's {groups.get(PROD)!r}")
    return out


def check_no_cancelled_applies(wf: Workflow) -> list[str]:
    """A running apply is never cancelled: every job that applies, and the workflow, set
    cancel-in-progress: false (a cancelled apply half-applies and strands the lock)."""
    applying = jobs_applying(wf)
    out = []
    top = wf.doc.get("concurrency")
    if (
        applying
        and top is not None
        and (not isinstance(top, dict) or top.get("cancel-in-progress") is not False)
    ):
        out.append(f"workflow-level concurrency may cancel the applying jobs {sorted(applying)}")
    for job_id, job in applying.items():
        conc = job.get("concurrency")
        if not isinstance(conc, dict) or conc.get("cancel-in-progress") is not False:
            out.append(f"{job_id}: applies without `cancel-in-progress: false`")
    return out


def check_prod_plan_before_approval(wf: Workflow) -> list[str]:
    """prod is planned in a job with no GitHub environment (so before any approval), its
    full redacted plan goes to the run summary, its change set is kept, and the job that
    waits for approval (environment prod) needs it."""
    out = []
    planners = {
        j: job for j, job in wf.jobs.items() if any(e == PROD for _, e in make_calls(job, "plan"))
    }
    gated = [j for j, job in planners.items() if environment_name(job) == PROD]
    before = {j: job for j, job in planners.items() if environment_name(job) is None}
    if not before:
        out.append("no job plans prod outside the approval gate (environment prod)")
    for job_id, job in before.items():
        if not any(
            "GITHUB_STEP_SUMMARY" in s and f"dist/{PROD}.plan.md" in s for _, s in runs(job)
        ):
            out.append(f"{job_id}: the prod plan (dist/{PROD}.plan.md) is not in the run summary")
        if f"dist/{PROD}.plan.json" not in upload_paths(job):
            out.append(f"{job_id}: the reviewed change set dist/{PROD}.plan.json is not kept")
        for g in gated:
            if job_id not in needs(wf.jobs[g]):
                out.append(f"{g} waits for approval without needing the reviewed plan of {job_id}")
    if not gated:
        out.append("no job applies prod behind the approval of environment prod")
    return out


def check_apply_exactly_reviewed(wf: Workflow) -> list[str]:
    """prod's apply passes REVIEWED_PLAN (the change set the plan job uploaded, downloaded
    from this run) and REVIEWED_DIGEST (that job's output): `make apply` refuses anything
    else."""
    out = []
    for job_id, job in jobs_applying(wf, PROD).items():
        reviewers = [
            j for j in needs(job) if f"dist/{PROD}.plan.json" in upload_paths(wf.jobs.get(j, {}))
        ]
        if not reviewers:
            out.append(f"{job_id}: needs no job that kept the reviewed prod change set")
            continue
        reviewed_names = {str(w.get("name")) for w in uploads(wf.jobs[reviewers[0]])}
        downloaded = {
            str((s.get("with") or {}).get("path")): str((s.get("with") or {}).get("name"))
            for s in steps(job)
            if uses_action(s, "actions/download-artifact")
        }
        for i, script in runs(job):
            for m in MAKE_CALL.finditer(script):
                if m.group(1) != "apply":
                    continue
                plan = re.search(r"\bREVIEWED_PLAN=(\S+)", m.group(2))
                if plan is None:
                    out.append(f"{job_id}: `make apply ENV={PROD}` without REVIEWED_PLAN=")
                    continue
                folder, _, name = plan.group(1).rpartition("/")
                if downloaded.get(folder) not in reviewed_names or name != f"{PROD}.plan.json":
                    out.append(
                        f"{job_id}: REVIEWED_PLAN={plan.group(1)} is not the reviewed change set"
                    )
                if "REVIEWED_DIGEST=" not in m.group(2):
                    out.append(f"{job_id}: `make apply ENV={PROD}` without REVIEWED_DIGEST=")
                digest_env = str((steps(job)[i].get("env") or {}).get("REVIEWED_DIGEST", ""))
                if f"needs.{reviewers[0]}.outputs.digest" not in digest_env:
                    out.append(f"{job_id}: REVIEWED_DIGEST does not come from {reviewers[0]}")
    if wf.name == "deploy.yml" and not jobs_applying(wf, PROD):
        out.append("no job applies prod")
    if "plan_report verify" not in wf.recipes["apply"]:
        out.append("`make apply REVIEWED_PLAN=...` does not verify the change set")
    return out


def check_lock_timeout(wf: Workflow) -> list[str]:
    """Every terraform command that takes the state lock waits for it (-lock-timeout): in
    run steps, and in the recipes of the make targets the workflow calls."""
    out = []
    for job_id, job in wf.jobs.items():
        for i, script in runs(job):
            for line in script.splitlines():
                if LOCKING.search(line) and "-lock-timeout" not in line:
                    out.append(f"{job_id} step {i}: `{line.strip()}` without -lock-timeout")
            for _, target, _ in make_targets({"steps": [steps(job)[i]]}):
                for line in wf.recipes.get(target, "").splitlines():
                    if (
                        re.search(r"scripts\.tf \S+ (plan|apply)\b", line)
                        and "-lock-timeout" not in line
                    ):
                        out.append(
                            f"{job_id}: `make {target}` runs `{line.strip()}` without -lock-timeout"
                        )
    return out


def check_no_install_after_credentials(wf: Workflow) -> list[str]:
    """Nothing is installed while a role's credentials are in the environment: after the
    configure-aws-credentials step, only `make` targets whose recipes install nothing
    (`make -n`), and no installer, download or action other than upload-artifact."""
    out = []
    for job_id, job in wf.jobs.items():
        start = oidc_index(job)
        if start is None:
            continue
        for i, s in enumerate(steps(job)):
            if i <= start:
                continue
            action = str(s.get("uses", "")).split("@", 1)[0]
            if action and action not in AFTER_CREDENTIALS_ACTIONS:
                out.append(f"{job_id} step {i}: action {action} runs with credentials")
            script = str(s.get("run", ""))
            if INSTALLS.search(script):
                out.append(f"{job_id} step {i}: installs with credentials: {script.strip()!r}")
        for i, target, _ in make_targets(job, start + 1):
            recipe = wf.recipes.get(target)
            if recipe is None:
                out.append(f"{job_id} step {i}: `make {target}` after the credentials (not vetted)")
            elif INSTALLS.search(recipe):
                out.append(f"{job_id} step {i}: `make {target}` installs (see `make -n {target}`)")
    return out


def check_no_plan_file_uploaded(wf: Workflow) -> list[str]:
    """Plan files hold the state's secrets: no artifact can contain one (explicit files or
    globs with an extension only, never a .tfplan, a directory or a bare wildcard)."""
    out = []
    for job_id, job in wf.jobs.items():
        for path in upload_paths(job):
            last = path.rstrip("/").rsplit("/", 1)[-1]
            if (
                ".tfplan" in path
                or path.endswith("/")
                or "." not in last.lstrip("*")
                or last in ("*", "**")
            ):
                out.append(f"{job_id}: uploads {path!r}, which is or may contain a plan file")
    return out


def check_drift_schedule(wf: Workflow) -> list[str]:
    """drift.yml runs on a schedule, over every pipeline environment, `make drift` (a plan
    with -detailed-exitcode that names what drifted), and a drift fails the job."""
    out = []
    triggers = wf.doc.get(True) or {}
    crons = [str(c.get("cron", "")) for c in triggers.get("schedule") or []]
    if not crons or not all(len(c.split()) == 5 for c in crons):
        out.append(f"no schedule with a cron expression: {crons}")
    job = wf.jobs.get("drift")
    if job is None:
        return [*out, "no `drift` job"]
    matrix = (job.get("strategy") or {}).get("matrix")
    if matrix != "${{ fromJSON(needs.build.outputs.pipeline) }}":
        out.append(f"drift's matrix is {matrix!r}, not every pipeline environment")
    if not [e for _, e in make_calls(job, "drift") if e]:
        out.append("the drift job does not run `make drift ENV=...`")
    if (
        "-detailed-exitcode" not in wf.recipes["drift"]
        or "plan_report drift" not in wf.recipes["drift"]
    ):
        out.append("`make drift` is not a -detailed-exitcode plan summarised by plan_report drift")
    if job.get("continue-on-error") or any(s.get("continue-on-error") for s in steps(job)):
        out.append("drift failures are swallowed (continue-on-error)")
    return out


ON_MAIN = re.compile(r"\bgit merge-base --is-ancestor HEAD origin/main\b")
# What could run the checked-out code (before the on-main check, only git may run).
RUNS_CODE = re.compile(r"\b(make|python3?\S*|bash|sh|node|npm|pip3?)\b|scripts/|\./")


def check_deploys_only_commits_of_main(wf: Workflow) -> list[str]:
    """The roles trust this workflow on main (prod's plan role without any approval), but a
    dispatch's `ref` can name any commit: `build` checks, with main's history fetched and
    before any step runs the checked-out code, that the commit is on main, and every job
    that assumes a role needs `build` (tests/workflows/test_oidc_subjects.py)."""
    build = wf.jobs.get("build")
    if build is None:
        return ["no build job"]
    st = steps(build)
    checkout = next((i for i, s in enumerate(st) if uses_action(s, "actions/checkout")), None)
    gate = next((i for i, s in enumerate(st) if ON_MAIN.search(str(s.get("run", "")))), None)
    if checkout is None or gate is None or gate < checkout:
        return ["build does not check, after its checkout, that the commit is on main"]
    out = []
    if str((st[checkout].get("with") or {}).get("fetch-depth")) != "0":
        out.append("build's checkout does not fetch main's history (fetch-depth: 0)")
    for i in range(checkout + 1, gate):
        if "uses" in st[i] or RUNS_CODE.search(str(st[i].get("run", ""))):
            out.append(f"build step {i} may run the checked-out code before the on-main check")
    if st[gate].get("continue-on-error") or "exit 1" not in str(st[gate]["run"]):
        out.append("the on-main check does not fail the job")
    for job_id, job in wf.jobs.items():
        if oidc_index(job) is not None and "build" not in needs(job):
            out.append(f"{job_id} assumes a role without needing build (the on-main check)")
    return out


COMMON: list[Callable[[Workflow], list[str]]] = [
    check_uses_pinned,
    check_top_level_permissions_read_only,
    check_id_token_only_with_oidc,
    check_checkout_no_persisted_credentials,
    check_no_untrusted_expressions_in_run,
    check_applies_use_saved_plans,
    check_no_cancelled_applies,
    check_lock_timeout,
    check_no_install_after_credentials,
    check_no_plan_file_uploaded,
]
DEPLOY_ONLY: list[Callable[[Workflow], list[str]]] = [
    check_pre_prod_then_prod,
    check_environments,
    check_build_once,
    check_concurrency_per_environment,
    check_prod_plan_before_approval,
    check_apply_exactly_reviewed,
    check_deploys_only_commits_of_main,
]
DRIFT_ONLY: list[Callable[[Workflow], list[str]]] = [check_drift_schedule, check_build_once]


# ---------------------------------------------------------------- the real workflows


@pytest.fixture(scope="module")
def deploy() -> Workflow:
    return load("deploy.yml")


@pytest.fixture(scope="module")
def ci() -> Workflow:
    return load("ci.yml")


@pytest.fixture(scope="module")
def drift() -> Workflow:
    return load("drift.yml")


def test_every_workflow_is_checked() -> None:
    assert WORKFLOW_NAMES == ["ci.yml", "deploy.yml", "drift.yml"]


def test_on_key_parses_as_true_and_triggers_are_as_designed(
    deploy: Workflow, ci: Workflow, drift: Workflow
) -> None:
    assert set(deploy.doc[True]) == {"push", "workflow_dispatch"}
    assert deploy.doc[True]["push"]["branches"] == ["main"]
    assert deploy.doc[True]["workflow_dispatch"]["inputs"]["ref"]["required"] is False
    assert set(ci.doc[True]) == {"pull_request", "push"}
    assert set(drift.doc[True]) == {"schedule", "workflow_dispatch"}


@pytest.mark.parametrize("check", COMMON, ids=lambda f: f.__name__)
@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_workflow_holds_common_invariant(name: str, check: Callable[[Workflow], list[str]]) -> None:
    assert check(load(name)) == []


@pytest.mark.parametrize("check", DEPLOY_ONLY, ids=lambda f: f.__name__)
def test_deploy_holds_invariant(deploy: Workflow, check: Callable[[Workflow], list[str]]) -> None:
    assert check(deploy) == []


@pytest.mark.parametrize("check", DRIFT_ONLY, ids=lambda f: f.__name__)
def test_drift_holds_invariant(drift: Workflow, check: Callable[[Workflow], list[str]]) -> None:
    assert check(drift) == []


def test_ci_calls_make_targets_and_plans_pre_prod_stages_with_oidc(ci: Workflow) -> None:
    assert [s for _, s in runs(ci.jobs["lint"])] == ["make lint"]
    assert [s for _, s in runs(ci.jobs["test"])] == ["make test"]
    plan = ci.jobs["plan"]
    # The stages before prod only: no pull-request token may read prod state.
    assert plan["strategy"]["matrix"] == "${{ fromJSON(needs.environments.outputs.pre_prod) }}"
    assert any(uses_action(s, OIDC_ACTION) for s in steps(plan))
    assert any("GITHUB_STEP_SUMMARY" in s for _, s in runs(plan))
    assert all(e != PROD for _, e in make_calls(plan, "plan"))


def test_matrices_list_the_environments_scripts_find() -> None:
    out = subprocess.run(
        ["python3", "-m", "scripts.environments", "github-outputs"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    outputs = dict(line.split("=", 1) for line in out.splitlines())
    assert {"pre_prod", "pipeline", "prod"} <= set(outputs)
    assert PROD not in [e["env"] for e in yaml.safe_load(outputs["pre_prod"])["include"]]
    pipeline = yaml.safe_load(outputs["pipeline"])["include"]
    assert [e["env"] for e in pipeline] == envs.pipeline_environments()


def test_role_to_assume_comes_from_variables_not_literals(
    ci: Workflow, deploy: Workflow, drift: Workflow
) -> None:
    for wf in (ci, deploy, drift):
        for job in wf.jobs.values():
            for s in steps(job):
                if uses_action(s, OIDC_ACTION):
                    role = str(s["with"]["role-to-assume"])
                    assert role.startswith("${{") and "arn:" not in role
                    assert "vars." in role or "vars[" in role


def test_plan_roles_are_the_variables_scripts_name(deploy: Workflow) -> None:
    # One derived name per environment (scripts/environments.py plan_role_variable).
    assert envs.plan_role_variable("staging") == "AWS_PLAN_ROLE_ARN_STAGING"
    plan = deploy.jobs["prod-plan"]
    role = next(s for s in steps(plan) if uses_action(s, OIDC_ACTION))["with"]["role-to-assume"]
    assert role == "${{ vars[fromJSON(needs.build.outputs.prod).plan_role_var] }}"


def test_docs_name_every_variable_and_secret_the_workflows_use(
    ci: Workflow, deploy: Workflow, drift: Workflow
) -> None:
    docs = (ROOT / "docs" / "deploying.md").read_text(encoding="utf-8")
    texts = ci.text + deploy.text + drift.text
    names = set(re.findall(r"\b(?:vars|secrets)\.([A-Z][A-Z0-9_]+)", texts))
    assert names, "no vars./secrets. found"
    assert sorted(n for n in names if n not in docs) == []
    assert "AWS_PLAN_ROLE_ARN_<ENV>" in docs


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


def recipe_edit(target: str, old: str, new: str) -> Callable[[Workflow], Workflow]:
    """The Makefile side broken: `target`'s recipe with `old` replaced."""

    def mutate(wf: Workflow) -> Workflow:
        assert old in wf.recipes[target], f"recipe anchor not found: {old!r}"
        return replace(wf, recipes={**wf.recipes, target: wf.recipes[target].replace(old, new)})

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


def _is_action(action: str) -> Callable[[dict[str, Any]], bool]:
    return lambda s: uses_action(s, action)


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


def _move_before(
    job_id: str, moved: Callable[[dict[str, Any]], bool], anchor: Callable[[dict[str, Any]], bool]
) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        job_steps = _job(doc, job_id)["steps"]
        step = next(s for s in job_steps if moved(s))
        job_steps.remove(step)
        job_steps.insert(next(i for i, s in enumerate(job_steps) if anchor(s)), step)

    return edit


def _move_to_the_end(
    job_id: str, moved: Callable[[dict[str, Any]], bool]
) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        job_steps = _job(doc, job_id)["steps"]
        step = next(s for s in job_steps if moved(s))
        job_steps.remove(step)
        job_steps.append(step)

    return edit


def _swap_plan_and_apply(doc: dict[str, Any]) -> None:
    job_steps = _job(doc, PROD)["steps"]
    i = next(n for n, s in enumerate(job_steps) if "make plan" in str(s.get("run", "")))
    j = next(n for n, s in enumerate(job_steps) if "make apply" in str(s.get("run", "")))
    job_steps[i], job_steps[j] = job_steps[j], job_steps[i]


CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1"
UPLOAD = "actions/upload-artifact"
DOWNLOAD = "actions/download-artifact"
PROD_APPLY = (
    'make apply ENV=prod REVIEWED_PLAN=reviewed/prod.plan.json REVIEWED_DIGEST="$REVIEWED_DIGEST"'
)

MUTATIONS: list[
    tuple[str, str, Callable[[Workflow], list[str]], Callable[[Workflow], Workflow]]
] = [
    # (id, workflow, check that must catch it, mutation)
    (
        "prod-plan-without-needs-pre-prod",
        "deploy.yml",
        check_pre_prod_then_prod,
        text_sub("needs: [build, pre-prod]", "needs: [build]"),
    ),
    (
        "pre-prod-with-a-fixed-list",
        "deploy.yml",
        check_pre_prod_then_prod,
        doc_edit(
            lambda d: _job(d, "pre-prod")["strategy"].update(
                matrix={"include": [{"env": "staging"}]}
            )
        ),
    ),
    (
        "prod-job-renamed",
        "deploy.yml",
        check_pre_prod_then_prod,
        doc_edit(lambda d: d["jobs"].update(production=d["jobs"].pop(PROD))),
    ),
    (
        "prod-environment-staging",
        "deploy.yml",
        check_environments,
        doc_edit(lambda d: _job(d, PROD)["environment"].update(name="staging")),
    ),
    (
        "prod-environment-named-production",
        "deploy.yml",
        check_environments,
        doc_edit(lambda d: _job(d, PROD)["environment"].update(name="production")),
    ),
    (
        "pre-prod-without-environment",
        "deploy.yml",
        check_environments,
        doc_edit(lambda d: _job(d, "pre-prod").pop("environment")),
    ),
    (
        "apply-without-plan",
        "deploy.yml",
        check_applies_use_saved_plans,
        doc_edit(_drop_steps(PROD, _is_run("make plan"))),
    ),
    (
        "apply-other-env-than-plan",
        "deploy.yml",
        check_applies_use_saved_plans,
        doc_edit(_set_run(PROD, "make apply", "make apply ENV=staging")),
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
            _set_run("pre-prod", "make apply", 'make apply ENV="$TF_ENV" PLAN_FILE=other.tfplan')
        ),
    ),
    (
        "rebuild-between-plan-and-apply",
        "deploy.yml",
        check_applies_use_saved_plans,
        doc_edit(_set_run("pre-prod", "make apply", 'make package && make apply ENV="$TF_ENV"')),
    ),
    (
        "pre-prod-rebuilds",
        "deploy.yml",
        check_build_once,
        doc_edit(_add_step("pre-prod", {"run": "make package"}, 3)),
    ),
    (
        "prod-without-download",
        "deploy.yml",
        check_build_once,
        doc_edit(_drop_steps(PROD, _is_action(DOWNLOAD))),
    ),
    (
        "download-from-another-run",
        "deploy.yml",
        check_build_once,
        doc_edit(
            lambda d: _step(d, PROD, _is_action(DOWNLOAD))["with"].update(
                {"run-id": "${{ vars.OLD_RUN }}", "github-token": "${{ github.token }}"}
            )
        ),
    ),
    (
        "drift-builds-in-the-drift-job",
        "drift.yml",
        check_build_once,
        doc_edit(_add_step("drift", {"run": "make package"}, 3)),
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
        "drift.yml",
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
        "drift.yml",
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
            lambda d: _step(d, "build", _is_action("actions/checkout"))["with"].pop(
                "persist-credentials"
            )
        ),
    ),
    (
        "checkout-persist-true",
        "ci.yml",
        check_checkout_no_persisted_credentials,
        doc_edit(
            lambda d: _step(d, "test", _is_action("actions/checkout"))["with"].update(
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
        doc_edit(lambda d: _job(d, PROD).pop("concurrency")),
    ),
    (
        "environments-share-a-group",
        "deploy.yml",
        check_concurrency_per_environment,
        doc_edit(
            lambda d: _job(d, "pre-prod")["concurrency"].update(
                group=_job(d, PROD)["concurrency"]["group"]
            )
        ),
    ),
    (
        "prod-plan-outside-prods-group",
        "deploy.yml",
        check_concurrency_per_environment,
        doc_edit(lambda d: _job(d, "prod-plan")["concurrency"].update(group="plan-prod")),
    ),
    # -- no cancelled applies
    (
        "prod-cancels-in-flight-apply",
        "deploy.yml",
        check_no_cancelled_applies,
        doc_edit(lambda d: _job(d, PROD)["concurrency"].update({"cancel-in-progress": True})),
    ),
    (
        "pre-prod-cancels-in-flight-apply",
        "deploy.yml",
        check_no_cancelled_applies,
        doc_edit(lambda d: _job(d, "pre-prod")["concurrency"].update({"cancel-in-progress": True})),
    ),
    (
        "apply-job-without-concurrency",
        "deploy.yml",
        check_no_cancelled_applies,
        doc_edit(lambda d: _job(d, "pre-prod").pop("concurrency")),
    ),
    (
        "workflow-level-cancel-in-progress",
        "deploy.yml",
        check_no_cancelled_applies,
        doc_edit(lambda d: d.update(concurrency={"group": "deploy", "cancel-in-progress": True})),
    ),
    # -- prod plan before approval
    (
        "prod-plan-behind-the-approval",
        "deploy.yml",
        check_prod_plan_before_approval,
        doc_edit(lambda d: _job(d, "prod-plan").update(environment={"name": PROD})),
    ),
    (
        "prod-plan-not-in-the-summary",
        "deploy.yml",
        check_prod_plan_before_approval,
        doc_edit(_set_run("prod-plan", "make plan", "make plan ENV=prod")),
    ),
    (
        "reviewed-change-set-not-kept",
        "deploy.yml",
        check_prod_plan_before_approval,
        doc_edit(_drop_steps("prod-plan", _is_action(UPLOAD))),
    ),
    (
        "approval-does-not-wait-for-the-plan",
        "deploy.yml",
        check_prod_plan_before_approval,
        doc_edit(lambda d: _job(d, PROD).update(needs=["build", "pre-prod"])),
    ),
    # -- apply of exactly the reviewed change
    (
        "prod-apply-without-reviewed-plan",
        "deploy.yml",
        check_apply_exactly_reviewed,
        doc_edit(_set_run(PROD, "make apply", "make apply ENV=prod")),
    ),
    (
        "prod-apply-of-another-change-set",
        "deploy.yml",
        check_apply_exactly_reviewed,
        doc_edit(
            _set_run(
                PROD,
                "make apply",
                PROD_APPLY.replace("reviewed/prod.plan.json", "dist/prod.plan.json"),
            )
        ),
    ),
    (
        "prod-apply-without-digest",
        "deploy.yml",
        check_apply_exactly_reviewed,
        doc_edit(
            _set_run(
                PROD, "make apply", "make apply ENV=prod REVIEWED_PLAN=reviewed/prod.plan.json"
            )
        ),
    ),
    (
        "reviewed-plan-downloaded-from-elsewhere",
        "deploy.yml",
        check_apply_exactly_reviewed,
        doc_edit(
            lambda d: next(
                s for s in _job(d, PROD)["steps"] if (s.get("with") or {}).get("path") == "reviewed"
            )["with"].update(name="dist")
        ),
    ),
    (
        "make-apply-no-longer-verifies",
        "deploy.yml",
        check_apply_exactly_reviewed,
        recipe_edit("apply", "scripts.plan_report verify", "scripts.plan_report digest"),
    ),
    # -- lock timeout
    (
        "raw-terraform-apply-without-lock-timeout",
        "deploy.yml",
        check_lock_timeout,
        doc_edit(_set_run(PROD, "make apply", "terraform apply dist/prod.tfplan")),
    ),
    (
        "make-plan-without-lock-timeout",
        "ci.yml",
        check_lock_timeout,
        recipe_edit("plan", "-lock-timeout=20m ", ""),
    ),
    (
        "make-drift-without-lock-timeout",
        "drift.yml",
        check_lock_timeout,
        recipe_edit("drift", "-lock-timeout=20m ", ""),
    ),
    # -- no credentials during installs
    (
        "credentials-before-setup-python",
        "deploy.yml",
        check_no_install_after_credentials,
        doc_edit(
            _move_before("pre-prod", _is_action(OIDC_ACTION), _is_action("actions/setup-python"))
        ),
    ),
    (
        "pip-install-after-credentials",
        "drift.yml",
        check_no_install_after_credentials,
        doc_edit(
            _set_run(
                "drift",
                "make drift",
                'pip install -r requirements/dev.lock && make drift ENV="$TF_ENV"',
            )
        ),
    ),
    (
        "dev-toolchain-target-after-credentials",
        "deploy.yml",
        check_no_install_after_credentials,
        doc_edit(_set_run(PROD, "make smoke", "make venv && make smoke ENV=prod")),
    ),
    (
        "make-plan-needs-the-virtualenv",
        "deploy.yml",
        check_no_install_after_credentials,
        recipe_edit(
            "plan",
            "mkdir -p dist",
            "python3.12 -m venv .venv\n.venv/bin/python -m pip install -e .\nmkdir -p dist",
        ),
    ),
    # -- plan files never uploaded
    (
        "upload-a-plan-file",
        "deploy.yml",
        check_no_plan_file_uploaded,
        doc_edit(
            lambda d: _step(d, "prod-plan", _is_action(UPLOAD))["with"].update(
                path="dist/prod.tfplan"
            )
        ),
    ),
    (
        "upload-the-whole-dist-folder",
        "deploy.yml",
        check_no_plan_file_uploaded,
        doc_edit(lambda d: _step(d, "prod-plan", _is_action(UPLOAD))["with"].update(path="dist/")),
    ),
    # -- only commits of main
    (
        "no-on-main-check",
        "deploy.yml",
        check_deploys_only_commits_of_main,
        doc_edit(_drop_steps("build", _is_run("merge-base --is-ancestor"))),
    ),
    (
        "on-main-check-after-the-code-ran",
        "deploy.yml",
        check_deploys_only_commits_of_main,
        doc_edit(_move_to_the_end("build", _is_run("merge-base --is-ancestor"))),
    ),
    (
        "shallow-checkout",
        "deploy.yml",
        check_deploys_only_commits_of_main,
        text_sub("          fetch-depth: 0 # main's history: the check below\n", ""),
    ),
    (
        "on-main-check-that-only-warns",
        "deploy.yml",
        check_deploys_only_commits_of_main,
        text_sub("            exit 1\n          }", "          }"),
    ),
    (
        "prod-plan-without-build",
        "deploy.yml",
        check_deploys_only_commits_of_main,
        text_sub("needs: [build, pre-prod]", "needs: [pre-prod]"),
    ),
    # -- drift schedule
    (
        "drift-without-schedule",
        "drift.yml",
        check_drift_schedule,
        doc_edit(lambda d: d[True].pop("schedule")),
    ),
    (
        "drift-swallowed",
        "drift.yml",
        check_drift_schedule,
        doc_edit(lambda d: _job(d, "drift").update({"continue-on-error": True})),
    ),
    (
        "drift-of-a-fixed-list",
        "drift.yml",
        check_drift_schedule,
        doc_edit(
            lambda d: _job(d, "drift")["strategy"].update(matrix={"include": [{"env": "prod"}]})
        ),
    ),
    (
        "drift-as-a-plain-plan",
        "drift.yml",
        check_drift_schedule,
        doc_edit(_set_run("drift", "make drift", 'make plan ENV="$TF_ENV"')),
    ),
    (
        "make-drift-without-detailed-exitcode",
        "drift.yml",
        check_drift_schedule,
        recipe_edit("drift", "-detailed-exitcode", ""),
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
    assert set(COMMON + DEPLOY_ONLY + DRIFT_ONLY) <= covered


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_run_steps_use_bash_with_pipefail(name: str) -> None:
    # `shell: bash` is GitHub's `bash -eo pipefail`; the default would hide a failing
    # `make plan | tee` behind tee's success.
    workflow = load(name).doc
    assert workflow["defaults"]["run"]["shell"] == "bash"
    for job in workflow["jobs"].values():
        for step in steps(job):
            assert step.get("shell", "bash") == "bash", step
