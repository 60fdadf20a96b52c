"""The api's cold start imports what a submit needs; the rest comes with the first
request that uses it (handlers/api.py, docs/capacity.md "Handler speed"). In a fresh
interpreter, as Lambda starts one: which modules the import loaded, then that every
lazily loaded part still answers its route."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from scripts import fake_aws

from tests.helpers import SETTINGS_ENVIRON, api_event
from tests.repo_config import REPO_ROOT

# Runs in the fresh interpreter: events on stdin, what it saw as JSON on stdout. None of
# these requests reaches DynamoDB (each is refused before its store call).
_SCRIPT = """
import json, sys
events = json.load(sys.stdin)
from jobs_platform.handlers import api
def loaded():
    return sorted(m for m in sys.modules if m.startswith(("jobs_platform.", "pydantic")))
after_import = loaded()
class Context:
    aws_request_id = "cold-imports"
statuses = {name: api.handler(event, Context())["statusCode"] for name, event in events.items()}
print(json.dumps({"after_import": after_import, "statuses": statuses, "after": loaded()}))
"""

# Off the cold start: only some routes need them.
LAZY = (
    "jobs_platform.sessions",
    "jobs_platform.routing",
    "jobs_platform.models",
    "jobs_platform.jobs.transitions",
    "jobs_platform.jobs.usage",
    "jobs_platform.jobs.cursor",
    "pydantic",
)


def test_the_api_imports_only_what_a_submit_needs_and_still_serves_every_route() -> None:
    events = {
        "health": (api_event("GET", "/health", tenant_id=None), 200),
        "405 ($default: the route matcher)": (api_event("DELETE", "/health"), 405),
        "404 ($default)": (api_event("GET", "/nowhere"), 404),
        "session id (sessions)": (api_event("GET", "/v1/sessions/" + "x" * 200), 400),
        "session body (sessions, pydantic)": (
            api_event("PUT", "/v1/sessions/s1", json_body={"state": 1}),
            422,
        ),
        "list cursor (cursor)": (api_event("GET", "/v1/jobs", query={"cursor": "!"}), 400),
        "usage days (usage)": (api_event("GET", "/v1/usage", query={"from": "x"}), 400),
        "job body (pydantic)": (
            api_event("POST", "/v1/jobs", json_body={"type": "echo", "payload": 7}),
            422,
        ),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env.update(SETTINGS_ENVIRON)
    env.update(fake_aws.credentials_env())
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "lambdas"), str(REPO_ROOT)])
    completed = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        input=json.dumps({name: event for name, (event, _) in events.items()}),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    seen = json.loads(completed.stdout.splitlines()[-1])

    assert "jobs_platform.jobs.store" in seen["after_import"]  # the submit's own path
    for module in LAZY:
        assert not [m for m in seen["after_import"] if m.startswith(module)], module
    assert seen["statuses"] == {name: status for name, (_, status) in events.items()}
    for module in LAZY:
        if module != "jobs_platform.jobs.transitions":  # cancel and the worker's: AWS calls
            assert module in seen["after"]
