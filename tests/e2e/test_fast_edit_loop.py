"""The fast edit loop: a handler file edited while the stack runs takes effect on the next
request, with no restart (the stack's functions run tests/e2e/conftest.py's copy)."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.e2e.conftest import Stack

EDIT_DEADLINE_SECONDS = 60


def test_edited_handler_changes_the_next_response(stack: Stack) -> None:
    if stack.source_dir is None:
        pytest.skip("E2E_STACK_STATE_DIR: an external stack runs the repository's own source, "
                    "which this test will not edit; run it with the session's stack")  # fmt: skip
    handler_file = stack.source_dir / "jobs_platform" / "handlers" / "api.py"
    original = handler_file.read_text(encoding="utf-8")
    before = requests.get(stack.url("/health"), timeout=30)
    assert before.status_code == 200 and "x-edited" not in before.headers
    marker = uuid.uuid4().hex
    edit = (
        "\n\n_unedited_handler = handler\n\n\n"
        "def handler(event, context):  # added by test_fast_edit_loop\n"
        "    result = _unedited_handler(event, context)\n"
        f"    result['headers']['x-edited'] = '{marker}'\n"
        "    return result\n"
    )
    try:
        handler_file.write_text(original + edit, encoding="utf-8")
        # The next request after the change is seen (checked at most every 0.3 s) runs it.
        deadline = time.monotonic() + EDIT_DEADLINE_SECONDS
        while True:
            after = requests.get(stack.url("/health"), timeout=30)
            if after.headers.get("x-edited") == marker or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert after.status_code == 200 and after.headers.get("x-edited") == marker
        assert after.json() == before.json()
    finally:
        handler_file.write_text(original, encoding="utf-8")
    deadline = time.monotonic() + EDIT_DEADLINE_SECONDS
    while "x-edited" in requests.get(stack.url("/health"), timeout=30).headers:
        assert time.monotonic() < deadline, "the restored handler did not take effect"
        time.sleep(0.5)
