"""scripts/redrive's receive_all: a message another reader (the DLQ bookkeeping) holds
when the tool asks is waited for, not missed, even when it is made visible again between
the tool's empty receive and its count."""

from __future__ import annotations

from typing import Any

from scripts.redrive import receive_all


class PeekedQueue:
    """One message, held by another reader during the tool's first receive and released
    right after it; then the tool holds it."""

    def __init__(self) -> None:
        self.state = "held by another"

    def receive_message(self, **_: Any) -> dict[str, Any]:
        if self.state == "held by another":
            self.state = "visible"  # released just after this (empty) answer
            return {}
        if self.state == "visible":
            self.state = "held by the tool"
            return {"Messages": [{"MessageId": "m1", "ReceiptHandle": "r1", "Body": "{}"}]}
        return {}

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        visible = int(self.state == "visible")
        return {
            "Attributes": {
                "ApproximateNumberOfMessages": str(visible),
                "ApproximateNumberOfMessagesNotVisible": str(1 - visible),
            }
        }


def test_a_message_released_between_the_empty_receive_and_the_count_is_received(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr("scripts.redrive.time.sleep", lambda _s: None)
    queue = PeekedQueue()
    found = receive_all(queue, "dlq", limit=10, wait_for_held=60)
    assert [m["MessageId"] for m in found] == ["m1"]
