"""Security properties of bootstrap/template.yaml (CloudFormation).

The checks are pure functions over the parsed template (``list[str]`` of violations), so
the tests also prove each one fails on a broken copy. CloudFormation short tags (!Ref,
!Sub, !GetAtt, ...) are parsed into their long form ({"Ref": ...}, {"Fn::Sub": ...}).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "bootstrap" / "template.yaml"
OIDC = "token.actions.githubusercontent.com"
DEPLOY_ENVIRONMENTS = {"dev", "staging", "production"}


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that understands CloudFormation's short-form intrinsic functions."""


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
    else:
        raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}")
    key = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    return {key: value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)  # type: ignore[no-untyped-call]


def load_template() -> dict[str, Any]:
    doc = yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    assert isinstance(doc, dict)
    return doc


def resources(t: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in t["Resources"].items() if v["Type"] == rtype}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sub_text(value: Any) -> str:
    """The template string of a !Sub (or a plain string)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        inner = value["Fn::Sub"]
        return str(inner[0] if isinstance(inner, list) else inner)
    return str(value)


# ---------------------------------------------------------------- checks


def _trust_violations(name: str, role: dict[str, Any], want_sub: str) -> list[str]:
    out = []
    stmts = as_list(role["Properties"]["AssumeRolePolicyDocument"]["Statement"])
    if len(stmts) != 1:
        out.append(f"{name}: {len(stmts)} trust statements, want exactly 1")
    for st in stmts:
        if st.get("Effect") != "Allow" or st.get("Action") != "sts:AssumeRoleWithWebIdentity":
            out.append(f"{name}: trust statement is not an AssumeRoleWithWebIdentity allow")
        if set(st.get("Principal", {})) != {"Federated"}:
            out.append(f"{name}: principal is not only the OIDC provider")
        cond = st.get("Condition", {})
        if set(cond) != {"StringEquals"}:
            out.append(f"{name}: trust conditions {sorted(cond)}, want only StringEquals")
        eq = cond.get("StringEquals", {})
        if eq.get(f"{OIDC}:aud") != "sts.amazonaws.com":
            out.append(f"{name}: aud is not sts.amazonaws.com")
        sub = sub_text(eq.get(f"{OIDC}:sub"))
        if sub != want_sub:
            out.append(f"{name}: sub {sub!r}, want {want_sub!r}")
        if "*" in sub:
            out.append(f"{name}: wildcard in sub")
    return out


def check_deploy_role_trust(t: dict[str, Any]) -> list[str]:
    """One deploy role per GitHub environment, each assumable only by that environment."""
    out = []
    seen = set()
    for name, role in resources(t, "AWS::IAM::Role").items():
        if not name.startswith("DeployRole"):
            continue
        role_name = sub_text(role["Properties"].get("RoleName"))
        env = role_name.rsplit("-", 1)[-1]
        seen.add(env)
        out += _trust_violations(
            name, role, f"repo:${{GitHubOrg}}/${{GitHubRepo}}:environment:{env}"
        )
    if seen != DEPLOY_ENVIRONMENTS:
        out.append(f"deploy roles for {sorted(seen)}, want {sorted(DEPLOY_ENVIRONMENTS)}")
    return out


def check_plan_roles_read_only(t: dict[str, Any]) -> list[str]:
    """Plan roles trust pull requests only and write nothing but their state lock file."""
    out = []
    read_prefixes = ("Describe", "Get", "List", "View")
    plan_roles = {
        n: r for n, r in resources(t, "AWS::IAM::Role").items() if n.startswith("PlanRole")
    }
    if not plan_roles:
        out.append("no plan roles")
    for name, role in plan_roles.items():
        out += _trust_violations(name, role, "repo:${GitHubOrg}/${GitHubRepo}:pull_request")
        for policy in role["Properties"].get("Policies", []):
            for st in as_list(policy["PolicyDocument"]["Statement"]):
                for action in as_list(st["Action"]):
                    verb = action.split(":", 1)[1]
                    if verb.startswith(read_prefixes) or action == "apigateway:GET":
                        continue
                    if action in ("s3:PutObject", "s3:DeleteObject") and all(
                        sub_text(r).endswith(".tflock") for r in as_list(st["Resource"])
                    ):
                        continue
                    if action in ("kms:Decrypt", "kms:GenerateDataKey", "s3:ListBucket"):
                        continue
                    out.append(f"{name}: write action {action}")
    return out


def _state_bucket(t: dict[str, Any]) -> dict[str, Any]:
    return dict(t["Resources"]["StateBucket"]["Properties"])


def check_state_bucket_versioned_encrypted_private(t: dict[str, Any]) -> list[str]:
    out = []
    p = _state_bucket(t)
    if p.get("VersioningConfiguration", {}).get("Status") != "Enabled":
        out.append("state bucket is not versioned")
    rules = p.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", [])
    algos = {r.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") for r in rules}
    if not algos or not algos <= {"aws:kms", "AES256", "aws:kms:dsse"}:
        out.append(f"state bucket encryption {algos}")
    pab = p.get("PublicAccessBlockConfiguration", {})
    for key in (
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ):
        if pab.get(key) is not True:
            out.append(f"state bucket public access block: {key} is not true")
    lifecycle = p.get("LifecycleConfiguration", {}).get("Rules", [])
    if not any(
        "NoncurrentVersionExpiration" in r and r.get("Status") == "Enabled" for r in lifecycle
    ):
        out.append("state bucket has no lifecycle rule for noncurrent versions")
    if "DestinationBucketName" not in p.get("LoggingConfiguration", {}):
        out.append("state bucket has no access logging")
    return out


def check_state_bucket_denies_insecure_transport(t: dict[str, Any]) -> list[str]:
    policies = [
        r
        for r in resources(t, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": "StateBucket"}
    ]
    for policy in policies:
        for st in as_list(policy["Properties"]["PolicyDocument"]["Statement"]):
            cond = st.get("Condition", {}).get("Bool", {})
            targets = [sub_text(r) if "Fn::Sub" in r else r for r in as_list(st.get("Resource"))]
            if (
                st.get("Effect") == "Deny"
                and st.get("Principal") == "*"
                and "s3:*" in as_list(st.get("Action"))
                and str(cond.get("aws:SecureTransport")).lower() == "false"
                and {"Fn::GetAtt": ["StateBucket", "Arn"]} in targets
                and "${StateBucket.Arn}/*" in targets
            ):
                return []
    return ["state bucket policy does not deny non-TLS requests to the bucket and its objects"]


def check_checkov_skips_have_reasons(t: dict[str, Any]) -> list[str]:
    out = []
    for name, res in t["Resources"].items():
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
            if len(str(skip.get("comment", "")).strip()) < 20:
                out.append(f"{name}: checkov skip {skip.get('id')} without a reason")
    return out


CHECKS: list[Callable[[dict[str, Any]], list[str]]] = [
    check_deploy_role_trust,
    check_plan_roles_read_only,
    check_state_bucket_versioned_encrypted_private,
    check_state_bucket_denies_insecure_transport,
    check_checkov_skips_have_reasons,
]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.mark.parametrize("check", CHECKS, ids=lambda f: f.__name__)
def test_template_holds(
    template: dict[str, Any], check: Callable[[dict[str, Any]], list[str]]
) -> None:
    assert check(template) == []


def test_outputs_name_the_bucket_and_every_role(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["StateBucketName"]["Value"] == {"Ref": "StateBucket"}
    roles = {n for n in template["Resources"] if n.startswith(("DeployRole", "PlanRole"))}
    assert {
        o["Value"]["Fn::GetAtt"][0] for o in outputs.values() if "Fn::GetAtt" in o["Value"]
    } >= roles


def test_oidc_provider_is_github_with_sts_audience(template: dict[str, Any]) -> None:
    props = template["Resources"]["GitHubOIDCProvider"]["Properties"]
    assert props["Url"] == f"https://{OIDC}"
    assert props["ClientIdList"] == ["sts.amazonaws.com"]
    assert props["ThumbprintList"] == {"Ref": "OIDCThumbprints"}


# ---------------------------------------------------------------- mutation tests


def _trust(t: dict[str, Any], role: str) -> dict[str, Any]:
    st: dict[str, Any] = t["Resources"][role]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ][0]
    return st


def _wildcard_sub(t: dict[str, Any]) -> None:
    cond = _trust(t, "DeployRoleProduction")["Condition"]
    cond["StringLike"] = {f"{OIDC}:sub": cond.pop("StringEquals").pop(f"{OIDC}:sub")}
    cond["StringLike"][f"{OIDC}:sub"] = {"Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:*"}


def _other_env(t: dict[str, Any]) -> None:
    _trust(t, "DeployRoleProduction")["Condition"]["StringEquals"][f"{OIDC}:sub"] = {
        "Fn::Sub": "repo:${GitHubOrg}/${GitHubRepo}:environment:staging"
    }


def _drop_aud(t: dict[str, Any]) -> None:
    _trust(t, "DeployRoleStaging")["Condition"]["StringEquals"].pop(f"{OIDC}:aud")


def _plan_role_writes(t: dict[str, Any]) -> None:
    policy = t["Resources"]["PlanRoleProd"]["Properties"]["Policies"][0]["PolicyDocument"]
    policy["Statement"].append(
        {"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": "*"}
    )


def _bucket(edit: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda t: edit(t["Resources"]["StateBucket"]["Properties"])


def _drop_tls_deny(t: dict[str, Any]) -> None:
    doc = t["Resources"]["StateBucketPolicy"]["Properties"]["PolicyDocument"]
    doc["Statement"] = [s for s in doc["Statement"] if s["Sid"] != "DenyInsecureTransport"]


def _skip_without_reason(t: dict[str, Any]) -> None:
    t["Resources"]["AccessLogBucket"]["Metadata"]["checkov"]["skip"][0]["comment"] = ""


MUTATIONS = [
    ("wildcard-sub", check_deploy_role_trust, _wildcard_sub),
    ("prod-role-trusts-staging", check_deploy_role_trust, _other_env),
    ("no-aud", check_deploy_role_trust, _drop_aud),
    ("missing-dev-role", check_deploy_role_trust, lambda t: t["Resources"].pop("DeployRoleDev")),
    ("plan-role-writes", check_plan_roles_read_only, _plan_role_writes),
    (
        "unversioned",
        check_state_bucket_versioned_encrypted_private,
        _bucket(lambda p: p["VersioningConfiguration"].update(Status="Suspended")),
    ),
    (
        "unencrypted",
        check_state_bucket_versioned_encrypted_private,
        _bucket(lambda p: p.pop("BucketEncryption")),
    ),
    (
        "public-policy-allowed",
        check_state_bucket_versioned_encrypted_private,
        _bucket(lambda p: p["PublicAccessBlockConfiguration"].update(BlockPublicPolicy=False)),
    ),
    (
        "no-lifecycle",
        check_state_bucket_versioned_encrypted_private,
        _bucket(lambda p: p.pop("LifecycleConfiguration")),
    ),
    ("no-tls-deny", check_state_bucket_denies_insecure_transport, _drop_tls_deny),
    ("skip-without-reason", check_checkov_skips_have_reasons, _skip_without_reason),
]


@pytest.mark.parametrize(("check", "mutate"), [pytest.param(c, m, id=i) for i, c, m in MUTATIONS])
def test_check_catches_broken_template(
    template: dict[str, Any],
    check: Callable[[dict[str, Any]], list[str]],
    mutate: Callable[[dict[str, Any]], None],
) -> None:
    broken = copy.deepcopy(template)
    mutate(broken)
    assert check(broken) != []


def test_every_check_has_a_mutation_test() -> None:
    assert set(CHECKS) <= {c for _, c, _ in MUTATIONS}
