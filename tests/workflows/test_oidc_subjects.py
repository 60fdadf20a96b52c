"""The workflows' OIDC subjects and the bootstrap roles' trust, tied so they cannot drift.

GitHub gives a job an OIDC token whose subject (`sub`) is (GitHub's "OpenID Connect"
docs, example subject claims):
- `repo:<org>/<repo>:environment:<name>` when the job runs in a GitHub environment,
  whatever the event;
- otherwise by event: `repo:<org>/<repo>:pull_request` for pull_request, and
  `repo:<org>/<repo>:ref:refs/heads/<branch>` for push, schedule and workflow_dispatch
  (the branch the run is on; a schedule runs on the default branch; a dispatch runs the
  chosen branch's own workflow file, so a run with main's file has main's subject).

From the parsed workflows: every job that assumes a role (configure-aws-credentials), the
role (`AWS_DEPLOY_ROLE_ARN`: the deploy role; the entry's `plan_role_var`: the plan role),
the environments it runs for (its matrix or the entry it reads: an output of
`scripts.environments github-outputs`) and its subject for each event that runs it
(`on:`, narrowed by the job's `if: github.event_name == '...'`).

Then, with the template's trust policies as CloudFormation resolves them for each
environment's example stack (scripts/bootstrap_policies.py), evaluated by
tests/iam/policy_eval.py with the token's claims:
- every (environment, role, subject) a job needs is accepted: the pipeline can run;
- for every environment of the pipeline, each role accepts nothing else out of the
  subjects any workflow of the repository could present: the trust is exactly what the
  workflows need;
- the environments outside the pipeline (dev) are assumed by no workflow.
Mutation tests change a workflow (or the template) and see one of these fail.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from scripts import bootstrap_policies as bp
from scripts import environments as envs

from tests.iam.stacks import World, github_token

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
OIDC_ACTION = "aws-actions/configure-aws-credentials"
DEFAULT_BRANCH = "main"
# Stands for "any branch" (a push without a branch filter): no trust may accept it.
ANY_BRANCH = "ref:refs/heads/<any branch>"
NEEDS_OUTPUT = re.compile(r"needs\.[A-Za-z0-9_-]+\.outputs\.([A-Za-z0-9_]+)")
EVENT_NAME = re.compile(r"github\.event_name\s*==\s*'([a-z_]+)'")

Workflows = dict[str, dict[Any, Any]]


@dataclass(frozen=True, order=True)
class Use:
    """A job assumes `role` of `env`'s stack with a token whose subject is `repo:...:<claim>`."""

    env: str
    role: str  # "DeployRole" | "PlanRole"
    claim: str
    where: str  # "<workflow> <job>"


def load_workflows() -> Workflows:
    return {
        p.name: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted(WORKFLOWS.glob("*.yml"))
    }


@functools.cache
def github_outputs() -> dict[str, tuple[str, ...]]:
    """`pre_prod`, `pipeline`, `prod` -> their environments, as the workflows get them."""
    out = subprocess.run(
        ["python3", "-m", "scripts.environments", "github-outputs"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    found = {}
    for line in out.splitlines():
        name, value = line.split("=", 1)
        data = json.loads(value)
        found[name] = tuple(e["env"] for e in data.get("include", [data]))
    return found


def event_claims(doc: dict[Any, Any]) -> dict[str, set[str]]:
    """event -> the subject claims a job outside any GitHub environment gets from it."""
    claims: dict[str, set[str]] = {}
    for event, given in (doc.get(True) or {}).items():
        spec = given or {}
        if event == "pull_request":
            claims[event] = {"pull_request"}
        elif event == "push":
            if "tags" in spec or "tags-ignore" in spec or "branches-ignore" in spec:
                raise NotImplementedError(f"push filter {sorted(spec)}")
            branches = spec.get("branches")
            claims[event] = {f"ref:refs/heads/{b}" for b in branches} if branches else {ANY_BRANCH}
        elif event in ("schedule", "workflow_dispatch"):
            claims[event] = {f"ref:refs/heads/{DEFAULT_BRANCH}"}
        else:
            raise NotImplementedError(f"the OIDC subject of a {event!r} event")
    return claims


def job_events(job: dict[str, Any], events: set[str]) -> set[str]:
    """The events that run the job: all of the workflow's, unless its `if:` names some."""
    condition = str(job.get("if", ""))
    named = set(EVENT_NAME.findall(condition))
    if "event_name" in condition and not named:
        raise NotImplementedError(f"job condition {condition!r}")
    return events & named if named else events


def credentials_step(job: dict[str, Any]) -> dict[str, Any] | None:
    return next(
        (
            s
            for s in job.get("steps") or []
            if str(s.get("uses", "")).split("@", 1)[0] == OIDC_ACTION
        ),
        None,
    )


def job_environments(job_id: str, job: dict[str, Any]) -> tuple[str, ...]:
    """The environments a job runs for: its matrix (written out, or an output of
    `github-outputs`), else the one entry it reads."""
    matrix = (job.get("strategy") or {}).get("matrix", "")
    if isinstance(matrix, dict):
        return tuple(str(entry["env"]) for entry in matrix.get("include", []))
    names = set(NEEDS_OUTPUT.findall(str(matrix))) or set(NEEDS_OUTPUT.findall(json.dumps(job)))
    known = github_outputs()
    names &= set(known)
    if len(names) != 1:
        raise AssertionError(f"{job_id}: which environments? outputs {sorted(names)}")
    return known[names.pop()]


def role_uses(workflows: Workflows) -> list[Use]:
    uses = []
    for name, doc in workflows.items():
        claims = event_claims(doc)
        for job_id, job in (doc.get("jobs") or {}).items():
            step = credentials_step(job)
            if step is None:
                continue
            where = f"{name} {job_id}"
            role_expr = str(step["with"]["role-to-assume"])
            if "AWS_DEPLOY_ROLE_ARN" in role_expr:
                role = "DeployRole"
            elif "plan_role_var" in role_expr:
                role = "PlanRole"
            else:
                raise AssertionError(f"{where}: which bootstrap role is {role_expr}?")
            github_env = job.get("environment")
            if isinstance(github_env, dict):
                github_env = github_env.get("name")
            for env in job_environments(job_id, job):
                if github_env is not None:
                    named = env if github_env == "${{ matrix.env }}" else str(github_env)
                    subjects = {f"environment:{named}"}
                else:
                    subjects = set().union(*(claims[e] for e in job_events(job, set(claims))))
                uses += [Use(env, role, claim, where) for claim in subjects]
    return sorted(uses)


def world(template: dict[str, Any] | None = None) -> World:
    source = template if template is not None else bp.load_template()
    return World({env: bp.stack(env, source) for env in bp.EXAMPLE_STACKS})


def candidate_claims() -> set[str]:
    """Every subject a workflow of this repository could present."""
    names = {*envs.all_environments(), "production"}
    return {
        *(f"environment:{n}" for n in names),
        "pull_request",
        f"ref:refs/heads/{DEFAULT_BRANCH}",
        "ref:refs/heads/feature",
        "ref:refs/tags/v1.0.0",
        ANY_BRANCH,
    }


def check_workflows_get_their_roles(workflows: Workflows, w: World) -> list[str]:
    return [
        f"{u.where}: {u.env} {u.role} refuses repo:...:{u.claim}"
        for u in role_uses(workflows)
        if u.env not in w.stacks or not w.assume(u.env, u.role, github_token(u.claim)).allowed
    ]


def check_roles_trust_only_what_workflows_need(workflows: Workflows, w: World) -> list[str]:
    uses = role_uses(workflows)
    out = []
    for env in envs.pipeline_environments():
        for role in ("DeployRole", "PlanRole"):
            needed = {u.claim for u in uses if (u.env, u.role) == (env, role)}
            accepted = {
                c for c in candidate_claims() if w.assume(env, role, github_token(c)).allowed
            }
            out += [
                f"{env} {role} trusts {c!r}, which no workflow job needs"
                for c in sorted(accepted - needed)
            ]
    return out


def check_only_pipeline_environments_are_assumed(workflows: Workflows, _: World) -> list[str]:
    pipeline = set(envs.pipeline_environments())
    return [
        f"{u.where} assumes {u.env}'s {u.role}"
        for u in role_uses(workflows)
        if u.env not in pipeline
    ]


CHECKS: list[Callable[[Workflows, World], list[str]]] = [
    check_workflows_get_their_roles,
    check_roles_trust_only_what_workflows_need,
    check_only_pipeline_environments_are_assumed,
]


# ---------------------------------------------------------------- the real ones


@pytest.fixture(scope="module")
def workflows() -> Workflows:
    return load_workflows()


@pytest.fixture(scope="module")
def real_world() -> World:
    return world()


@pytest.mark.parametrize("check", CHECKS, ids=lambda f: f.__name__)
def test_workflows_and_trust_agree(
    workflows: Workflows, real_world: World, check: Callable[[Workflows, World], list[str]]
) -> None:
    assert check(workflows, real_world) == []


def test_the_subjects_each_job_gets(workflows: Workflows) -> None:
    """What the parser reads from the workflows (so a parser that finds nothing fails)."""
    main = f"ref:refs/heads/{DEFAULT_BRANCH}"
    pre_prod, pipeline = github_outputs()["pre_prod"], github_outputs()["pipeline"]
    want = {
        *(Use(e, "PlanRole", "pull_request", "ci.yml plan") for e in pre_prod),
        *(Use(e, "DeployRole", f"environment:{e}", "deploy.yml pre-prod") for e in pre_prod),
        Use(envs.PRODUCTION, "PlanRole", main, "deploy.yml prod-plan"),
        Use(envs.PRODUCTION, "DeployRole", f"environment:{envs.PRODUCTION}", "deploy.yml prod"),
        *(Use(e, "PlanRole", main, "drift.yml drift") for e in pipeline),
    }
    assert set(role_uses(workflows)) == want


def test_the_default_branch_is_the_one_deploy_yml_deploys(workflows: Workflows) -> None:
    assert workflows["deploy.yml"][True]["push"]["branches"] == [DEFAULT_BRANCH]


# ---------------------------------------------------------------- mutation tests


def _job(doc: Workflows, name: str, job: str) -> dict[str, Any]:
    result: dict[str, Any] = doc[name]["jobs"][job]
    return result


def _prod_plan_behind_the_gate(d: Workflows) -> None:
    _job(d, "deploy.yml", "prod-plan")["environment"] = {"name": envs.PRODUCTION}


def _drift_on_a_release_branch(d: Workflows) -> None:
    d["drift.yml"][True]["push"] = {"branches": ["release"]}


def _ci_plans_every_pipeline_environment(d: Workflows) -> None:
    _job(d, "ci.yml", "plan")["strategy"]["matrix"] = (
        "${{ fromJSON(needs.environments.outputs.pipeline) }}"
    )


def _prod_environment_named_production(d: Workflows) -> None:
    _job(d, "deploy.yml", "prod")["environment"]["name"] = "production"


def _no_drift_check(d: Workflows) -> None:
    del d["drift.yml"]


def _no_pull_request_plans(d: Workflows) -> None:
    del d["ci.yml"]["jobs"]["plan"]


def _dev_planned_on_pull_requests(d: Workflows) -> None:
    _job(d, "ci.yml", "plan")["strategy"]["matrix"] = {
        "include": [{"env": "dev", "plan_role_var": "AWS_PLAN_ROLE_ARN_DEV", "region": "us-east-1"}]
    }


def _plan_role_trusts_its_environment(t: dict[str, Any]) -> None:
    cond = t["Resources"]["PlanRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    subjects = cond["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    subjects.append({"Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:environment:${Environment}"})


def _plan_role_not_from_main(t: dict[str, Any]) -> None:
    cond = t["Resources"]["PlanRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    cond["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"].pop(0)


WORKFLOW_MUTATIONS = [
    ("prod-plan-behind-the-gate", check_workflows_get_their_roles, _prod_plan_behind_the_gate),
    ("drift-on-a-release-branch", check_workflows_get_their_roles, _drift_on_a_release_branch),
    ("ci-plans-prod", check_workflows_get_their_roles, _ci_plans_every_pipeline_environment),
    ("prod-named-production", check_workflows_get_their_roles, _prod_environment_named_production),
    ("no-drift-check", check_roles_trust_only_what_workflows_need, _no_drift_check),
    ("no-pull-request-plans", check_roles_trust_only_what_workflows_need, _no_pull_request_plans),
    ("dev-planned", check_only_pipeline_environments_are_assumed, _dev_planned_on_pull_requests),
]
TEMPLATE_MUTATIONS = [
    (
        "plan-role-trusts-its-environment",
        check_roles_trust_only_what_workflows_need,
        _plan_role_trusts_its_environment,
    ),
    ("plan-role-not-from-main", check_workflows_get_their_roles, _plan_role_not_from_main),
]


@pytest.mark.parametrize(
    ("check", "mutate"), [pytest.param(c, m, id=i) for i, c, m in WORKFLOW_MUTATIONS]
)
def test_check_catches_a_changed_workflow(
    workflows: Workflows,
    real_world: World,
    check: Callable[[Workflows, World], list[str]],
    mutate: Callable[[Workflows], None],
) -> None:
    changed = copy.deepcopy(workflows)
    mutate(changed)
    assert check(workflows, real_world) == []
    assert check(changed, real_world) != []


@pytest.mark.parametrize(
    ("check", "mutate"), [pytest.param(c, m, id=i) for i, c, m in TEMPLATE_MUTATIONS]
)
def test_check_catches_a_changed_trust(
    workflows: Workflows,
    check: Callable[[Workflows, World], list[str]],
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    template = bp.load_template()
    mutate(template)
    assert check(workflows, world(template)) != []


def test_every_check_has_a_mutation_test() -> None:
    assert set(CHECKS) <= {c for _, c, _ in WORKFLOW_MUTATIONS + TEMPLATE_MUTATIONS}
