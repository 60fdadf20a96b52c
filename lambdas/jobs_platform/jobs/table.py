"""The jobs table as the job modules share it: one client, one table name, one clock,
and the consistent reads every write path starts from."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from jobs_platform import dynamo, ids, schema
from jobs_platform.clock import Clock, epoch_seconds
from jobs_platform.errors import JobNotFound
from jobs_platform.jobs.model import Job

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class JobTable(NamedTuple):
    client: DynamoDBClient
    name: str
    clock: Clock

    def get_live_item(self, pk: str, sk: str, now: datetime) -> dict[str, Any] | None:
        """The item (consistent read), or None when it is absent or its TTL has passed."""
        response = self.client.get_item(
            TableName=self.name,
            Key=dynamo.to_item({schema.PARTITION_KEY: pk, schema.SORT_KEY: sk}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None or not dynamo.is_live(dynamo.from_item(item), epoch_seconds(now)):
            return None
        return dict(item)

    def load(self, tenant_id: str, job_id: str) -> Job | None:
        """The job, or None when it does not exist or has expired (consistent read)."""
        if not ids.is_ulid(job_id):
            return None
        item = self.get_live_item(schema.tenant_pk(tenant_id), schema.job_sk(job_id), self.clock())
        return Job.from_item(item) if item else None

    def get(self, tenant_id: str, job_id: str) -> Job:
        """The job; JobNotFound when it does not exist or has expired."""
        job = self.load(tenant_id, job_id)
        if job is None:
            raise JobNotFound(f"Job {job_id} does not exist.")
        return job
