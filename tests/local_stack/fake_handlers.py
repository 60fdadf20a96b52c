"""Handlers for testing the local Lambda runtime itself."""

import os
import time
from typing import Any


def env(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {
        "value": os.environ.get(event["name"]),
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
    }


def sleep(event: dict[str, Any], context: Any) -> str:
    print("about to sleep")  # must not corrupt the protocol
    time.sleep(event["seconds"])
    return "woke"


def boom(event: dict[str, Any], context: Any) -> None:
    raise ValueError("kaboom")
