"""The bootstrap stacks of dev, staging and prod deployed into ONE account (the single-
account layout: the hardest case, where environments can reach each other unless the
guardrails stop them), and who calls what in it.

`World.decide(env, role, action, resource, context)` is AWS's decision for a caller:
- role "deploy" / "plan": that environment's stack roles, with their policies as
  CloudFormation would deploy them (scripts/bootstrap_policies.py);
- role "workload": a role the deploy role created (`<project>-<env>-api`), given
  `Allow *:*` inline and the environment's permissions boundary;
- role "admin": an account administrator (`Allow *:*`, no boundary);
- role "breakglass": the stacks' BreakGlassRoleArn (`Allow *:*`).
Requests on a stack's state bucket or state key are also judged by that stack's bucket or
key policy. Resources of an environment carry its tag (the provider's default_tags): pass
`tagged(env)` in the context for a resource that exists, `creating(env)` for a create.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scripts import bootstrap_policies as bp

from tests.iam.policy_eval import ContextValue, Decision, Policy, Request, evaluate

ENVIRONMENTS = ("dev", "staging", "prod")
ACCOUNT, REGION = bp.ACCOUNT, bp.REGION
PROJECT = "jobs-platform"
ALLOW_ALL: Policy = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "AllowAll", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Administrator"
BREAK_GLASS = bp.COMMON["BreakGlassRoleArn"]
DEFAULT_TAG_KEYS = ["project", "environment", "owner", "stack"]  # providers.tf + main.tf tags


def prefix(env: str) -> str:
    return f"{PROJECT}-{env}"


def tagged(env: str) -> dict[str, ContextValue]:
    """Context of a call on an existing resource of `env`."""
    return {"aws:ResourceTag/environment": env}


def creating(env: str) -> dict[str, ContextValue]:
    """Context of a create call that tags the new resource (Terraform's default_tags)."""
    return {"aws:RequestTag/environment": env, "aws:TagKeys": DEFAULT_TAG_KEYS}


# ARNs of an environment's resources, as the Terraform names them.
def function(env: str, name: str = "api") -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{prefix(env)}-{name}"


def role(env: str, name: str = "api") -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{prefix(env)}-{name}"


def table(env: str, name: str = "jobs") -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{prefix(env)}-{name}"


def secret(env: str) -> str:
    return (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{prefix(env)}/edge/origin-verify-AbCdEf"
    )


def cmk(env: str) -> str:  # generated id: the environment's only mark is its tag
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{env}0000-1111-2222-3333-444455556666"


def distribution(env: str) -> str:
    return f"arn:aws:cloudfront::{ACCOUNT}:distribution/E{env.upper()}123"


def api(env: str, path: str = "") -> str:
    return f"arn:aws:apigateway:{REGION}::/apis/{env}api1{path}"


@dataclass
class World:
    stacks: dict[str, bp.Stack]

    @classmethod
    def deploy(cls, template: dict[str, Any] | None = None, **overrides: str) -> World:
        source = template if template is not None else bp.load_template()
        return cls({env: bp.stack(env, source, **overrides) for env in ENVIRONMENTS})

    def mutated(self, edit: Callable[[dict[str, Any]], None]) -> World:
        """The same world from a template changed by `edit` (a guardrail removed, ...)."""
        template = copy.deepcopy(next(iter(self.stacks.values())).template)
        edit(template)
        return World(
            {
                env: bp.Stack(copy.deepcopy(template), s.parameters, name=s.name)
                for env, s in self.stacks.items()
            }
        )

    # ------------------------------------------------------------ callers
    def caller(self, env: str, who: str) -> tuple[str, list[Policy], Policy | None]:
        """(principal ARN, identity policies, permissions boundary) of a caller."""
        s = self.stacks[env]
        if who == "deploy":
            return s.role_arn("DeployRole"), [d for _, d in s.identity_policies("DeployRole")], None
        if who == "plan":
            return s.role_arn("PlanRole"), [d for _, d in s.identity_policies("PlanRole")], None
        if who == "workload":
            return role(env), [ALLOW_ALL], s.managed_policy("PermissionsBoundary")
        if who == "admin":
            return ADMIN, [ALLOW_ALL], None
        if who == "breakglass":
            return BREAK_GLASS, [ALLOW_ALL], None
        raise KeyError(who)

    def resource_policy(self, resource: str) -> tuple[Policy | None, bool]:
        """(the resource's policy, whether it is a KMS key policy) for a stack's state."""
        for s in self.stacks.values():
            bucket = s.get_att("StateBucket", "Arn")
            if resource == bucket or resource.startswith(bucket + "/"):
                return s.bucket_policy("StateBucket"), False
            if resource == s.get_att("StateKey", "Arn"):
                return s.key_policy("StateKey"), True
        return None, False

    def decide(
        self,
        env: str,
        who: str,
        action: str,
        resource: str,
        context: Mapping[str, ContextValue] | None = None,
        *,
        extra_identity: Sequence[Policy] = (),
    ) -> Decision:
        principal, identity, boundary = self.caller(env, who)
        resource_policy, is_key = self.resource_policy(resource)
        return evaluate(
            Request(principal, action, resource, dict(context or {})),
            [*identity, *extra_identity],
            boundary=boundary,
            resource_policy=resource_policy,
            key_policy=is_key,
        )

    # ------------------------------------------------------------ names
    def state_object(self, env: str, key: str = "terraform.tfstate") -> str:
        return f"{self.stacks[env].get_att('StateBucket', 'Arn')}/{PROJECT}/{env}/{key}"

    def state_key(self, env: str) -> str:
        return self.stacks[env].get_att("StateKey", "Arn")

    def boundary_arn(self, env: str) -> str:
        return str(self.stacks[env].ref("PermissionsBoundary"))

    def guardrail_sids(self) -> list[str]:
        doc = next(iter(self.stacks.values())).managed_policy("Guardrails")
        return [st["Sid"] for st in doc["Statement"]]
