"""The work every peer does for POST /v1/jobs, written once so the bench compares the
frameworks around it, not versions of it: the tenant's daily quota counter and the job's
item in one DynamoDB transaction (the shape of our handler's write)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from jobs_platform.models import JobRequest

DAILY_QUOTA = 1000
RETENTION_SECONDS = 86400 * 30


def submit_job(client: Any, table: str, tenant: str, job: JobRequest) -> dict[str, str]:
    """Write the job (quota permitting); the 202 body: job_id, status, created_at."""
    job_id = uuid.uuid4().hex
    stamp = datetime.now(UTC).isoformat()
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": f"QUOTA#{stamp[:10]}"}},
                    "UpdateExpression": "ADD #c :one",
                    "ConditionExpression": "attribute_not_exists(#c) OR #c < :quota",
                    "ExpressionAttributeNames": {"#c": "count"},
                    "ExpressionAttributeValues": {
                        ":one": {"N": "1"},
                        ":quota": {"N": str(DAILY_QUOTA)},
                    },
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": {
                        "pk": {"S": f"TENANT#{tenant}"},
                        "sk": {"S": f"JOB#{job_id}"},
                        "type": {"S": job.type},
                        "status": {"S": "queued"},
                        "payload": {"S": json.dumps(job.payload)},
                        "created_at": {"S": stamp},
                        "expires_at": {"N": str(int(time.time()) + RETENTION_SECONDS)},
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
    )
    return {"job_id": job_id, "status": "queued", "created_at": stamp}
