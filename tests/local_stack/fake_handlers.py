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


def rendezvous(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Marks itself in a shared directory and waits (bounded) until `parties` calls are in
    at the same time: returns how many it saw, which exceeds 1 only under concurrency."""
    from pathlib import Path

    here = Path(event["dir"])
    mine = here / f"{event['name']}.in"
    mine.touch()
    deadline = time.monotonic() + 60
    met = 0
    while time.monotonic() < deadline:
        met = len(list(here.glob("*.in")))
        if met >= event["parties"]:
            break
        time.sleep(0.05)
    time.sleep(0.2)  # let the others see this one too
    mine.unlink()
    return {"met": met, "pid": os.getpid()}
