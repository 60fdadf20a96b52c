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
    """A barrier per wave of `parties` calls: each call takes the next free slot in a
    shared directory (an exclusive create: slot k's wave is k // parties) and waits (a
    generous deadline) until every slot of its wave is taken. Returns how many of its wave
    it saw, which reaches `parties` only when that many calls are in at the same time.
    Slots are never removed, so a slow call still sees its whole wave."""
    from pathlib import Path

    here = Path(event["dir"])
    parties = int(event["parties"])
    slot = 0
    while True:
        try:
            (here / f"slot-{slot}").touch(exist_ok=False)
            break
        except FileExistsError:
            slot += 1
    wave = range(slot - slot % parties, slot - slot % parties + parties)
    deadline = time.monotonic() + 240
    met = 0
    while time.monotonic() < deadline:
        met = sum((here / f"slot-{k}").exists() for k in wave)
        if met >= parties:
            break
        time.sleep(0.05)
    return {"met": met, "pid": os.getpid()}
