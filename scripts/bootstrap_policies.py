"""The IAM policies of bootstrap/template.yaml, resolved for a concrete stack.

CloudFormation fills in `!Sub`, `!Ref`, `!GetAtt` and `!If` when it deploys the template;
reviewers, tests (tests/iam) and the security review's IAM linters (parliament,
cloudsplaining) need the policies as AWS will hold them. This module resolves the
template for a set of parameters with a fixed account, region and stack, and returns
each role's identity policies, the permissions boundary, the state bucket's and the
state key's resource policies.

    python -m scripts.bootstrap_policies --out-dir dist/iam     # one JSON per policy

writes the documents of the example stacks (`EXAMPLE_STACKS`, the parameters
docs/deploying.md deploys) for reading or for a linter.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "bootstrap" / "template.yaml"

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"

# The stacks docs/deploying.md tells a team to deploy, one per environment (the same
# parameters whether each lives in its own account or all share one).
COMMON = {
    "GitHubOrg": "example-org",
    "GitHubRepo": "jobs-platform",
    "BreakGlassRoleArn": f"arn:aws:iam::{ACCOUNT}:role/break-glass",
}
EXAMPLE_STACKS: dict[str, dict[str, str]] = {
    "dev": {**COMMON, "Environment": "dev", "GitHubEnvironment": "dev", "PullRequestPlans": "true"},
    "staging": {
        **COMMON,
        "Environment": "staging",
        "GitHubEnvironment": "staging",
        "PullRequestPlans": "true",
    },
    "prod": {
        **COMMON,
        "Environment": "prod",
        "GitHubEnvironment": "production",
        "PullRequestPlans": "false",
    },
}

Policy = dict[str, Any]


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's short-form intrinsics (!Ref, !Sub, ...)."""


def _construct_intrinsic(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}")
    key = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    return {key: value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)  # type: ignore[no-untyped-call]


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: not a CloudFormation template")
    return doc


_NO_VALUE = object()


@dataclass
class Stack:
    """A template with concrete parameters: what CloudFormation would deploy."""

    template: dict[str, Any]
    parameters: dict[str, Any]
    name: str = "jobs-platform-bootstrap"
    _key_ids: dict[str, str] = field(default_factory=dict)

    @property
    def stack_id(self) -> str:
        return f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{self.name}/0f0e0d0c"

    # ------------------------------------------------------------ intrinsics
    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic function evaluated (AWS::NoValue entries dropped)."""
        result = self._resolve(value)
        return None if result is _NO_VALUE else result

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self._resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Join":
                sep, parts = arg
                return sep.join(str(p) for p in self._resolve(parts))
            if key.startswith("Fn::"):
                raise NotImplementedError(f"intrinsic {key} is not resolved by {__name__}")
        out = {}
        for k, v in value.items():
            resolved = self._resolve(v)
            if resolved is not _NO_VALUE:
                out[k] = resolved
        return out

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self._resolve(variables[name]))
            if "." in name:
                resource, attribute = name.split(".", 1)
                return str(self.get_att(resource, attribute))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self.name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            return self.parameter(name)
        resource = self.template["Resources"][name]
        props = resource.get("Properties", {})
        rtype = resource["Type"]
        if rtype == "AWS::IAM::Role":
            return self.resolve(props["RoleName"])
        if rtype == "AWS::IAM::ManagedPolicy":
            path, name = (
                self.resolve(props.get("Path", "/")),
                self.resolve(props["ManagedPolicyName"]),
            )
            return f"arn:{PARTITION}:iam::{ACCOUNT}:policy{path}{name}"
        if rtype == "AWS::S3::Bucket":
            return self.resolve(props["BucketName"])
        if rtype == "AWS::KMS::Key":
            seed = f"{self.stack_id}/{name}"
            return self._key_ids.setdefault(name, str(uuid.uuid5(uuid.NAMESPACE_URL, seed)))
        if rtype == "AWS::KMS::Alias":
            return self.resolve(props["AliasName"])
        if rtype == "AWS::IAM::OIDCProvider":
            host = str(self.resolve(props["Url"])).removeprefix("https://")
            return f"arn:{PARTITION}:iam::{ACCOUNT}:oidc-provider/{host}"
        raise NotImplementedError(f"Ref of a {rtype} ({name})")

    def get_att(self, name: str, attribute: str) -> str:
        resource = self.template["Resources"][name]
        props = resource.get("Properties", {})
        rtype = resource["Type"]
        if attribute != "Arn":
            raise NotImplementedError(f"GetAtt {name}.{attribute}")
        if rtype == "AWS::IAM::Role":
            path = self.resolve(props.get("Path", "/"))
            return f"arn:{PARTITION}:iam::{ACCOUNT}:role{path}{self.ref(name)}"
        if rtype == "AWS::S3::Bucket":
            return f"arn:{PARTITION}:s3:::{self.ref(name)}"
        if rtype == "AWS::KMS::Key":
            return f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{self.ref(name)}"
        raise NotImplementedError(f"GetAtt {name}.Arn of a {rtype}")

    def parameter(self, name: str) -> Any:
        spec = self.template["Parameters"][name]
        value = self.parameters.get(name, spec.get("Default"))
        if value is None:
            raise KeyError(f"parameter {name} has no value and no default")
        if spec["Type"] == "CommaDelimitedList" and isinstance(value, str):
            return value.split(",")
        return value

    def condition(self, name: str) -> bool:
        return bool(self._condition(self.template["Conditions"][name]))

    def _condition(self, expr: Any) -> Any:
        if isinstance(expr, dict) and len(expr) == 1:
            ((key, arg),) = expr.items()
            if key == "Fn::Equals":
                a, b = (self._condition(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self._condition(arg[0])
            if key == "Fn::And":
                return all(self._condition(x) for x in arg)
            if key == "Fn::Or":
                return any(self._condition(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
        return self.resolve(expr)

    def rules_hold(self) -> list[str]:
        """The AssertDescription of every template rule these parameters break."""
        broken = []
        for rule in self.template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self._condition(rule["RuleCondition"]):
                continue
            for assertion in rule["Assertions"]:
                if not self._condition(assertion["Assert"]):
                    broken.append(assertion["AssertDescription"])
        return broken

    # ------------------------------------------------------------ policies
    def resource(self, name: str) -> dict[str, Any]:
        resolved = self.resolve(self.template["Resources"][name].get("Properties", {}))
        assert isinstance(resolved, dict)
        return resolved

    def role_arn(self, name: str) -> str:
        return self.get_att(name, "Arn")

    def identity_policies(self, role: str) -> list[tuple[str, Policy]]:
        """(policy name, document) of every inline and managed policy attached to `role`."""
        props = self.resource(role)
        out = [(p["PolicyName"], p["PolicyDocument"]) for p in props.get("Policies", [])]
        managed = {
            self.ref(name): name
            for name, res in self.template["Resources"].items()
            if res["Type"] == "AWS::IAM::ManagedPolicy"
        }
        for arn in props.get("ManagedPolicyArns", []):
            out.append((managed[arn], self.resource(managed[arn])["PolicyDocument"]))
        return out

    def managed_policy(self, name: str) -> Policy:
        document: Policy = self.resource(name)["PolicyDocument"]
        return document

    def trust_policy(self, role: str) -> Policy:
        document: Policy = self.resource(role)["AssumeRolePolicyDocument"]
        return document

    def bucket_policy(self, bucket: str) -> Policy:
        for name, res in self.template["Resources"].items():
            if res["Type"] == "AWS::S3::BucketPolicy" and res["Properties"]["Bucket"] == {
                "Ref": bucket
            }:
                document: Policy = self.resource(name)["PolicyDocument"]
                return document
        raise KeyError(f"no bucket policy for {bucket}")

    def key_policy(self, key: str) -> Policy:
        document: Policy = self.resource(key)["KeyPolicy"]
        return document


def stack(environment: str, template: dict[str, Any] | None = None, **overrides: str) -> Stack:
    """The example stack of `environment` (EXAMPLE_STACKS), optionally with other parameters."""
    params = {**EXAMPLE_STACKS[environment], **overrides}
    source = copy.deepcopy(template) if template is not None else load_template()
    return Stack(source, params, name=f"jobs-platform-bootstrap-{environment}")


def policy_documents(s: Stack) -> dict[str, Policy]:
    """Every IAM policy document of the stack by a file-friendly name."""
    docs: dict[str, Policy] = {}
    for name, res in s.template["Resources"].items():
        if res["Type"] == "AWS::IAM::ManagedPolicy":
            docs[name] = s.managed_policy(name)
        elif res["Type"] == "AWS::IAM::Role":
            for inline in s.resource(name).get("Policies", []):
                docs[f"{name}-{inline['PolicyName']}"] = inline["PolicyDocument"]
    return docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--environment", choices=sorted(EXAMPLE_STACKS), action="append")
    args = parser.parse_args(argv)
    for environment in args.environment or sorted(EXAMPLE_STACKS):
        s = stack(environment)
        target = args.out_dir / environment
        target.mkdir(parents=True, exist_ok=True)
        for name, doc in policy_documents(s).items():
            (target / f"{name}.json").write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
