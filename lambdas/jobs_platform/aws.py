"""The functions' AWS clients: one per service per execution environment, configured for
Lambda and traced (each call an X-Ray subsegment: jobs_platform.tracing).

Configuration, each choice measured by `make bench` on a submit (about a quarter of the
time botocore spent around the one DynamoDB call):
- no client-side parameter validation: every request is built by this package's own code
  from validated input, and DynamoDB validates it again (a mistake is a
  ValidationException instead of a ParamValidationError);
- the User-Agent string is built once per cold start (botocore otherwise rebuilds it
  twice per call from a dozen components);
- no account-id endpoint resolution (DynamoDB's regional endpoint is used as before).
"""

from __future__ import annotations

import os
import platform
from typing import Any

import boto3
import botocore
from botocore.config import Config

from jobs_platform import tracing

USER_AGENT = (
    f"Boto3/{boto3.__version__} md/Botocore#{botocore.__version__} ua/2.1 "
    f"os/{platform.system().lower()} lang/python#{platform.python_version()} "
    f"exec-env/{os.environ.get('AWS_EXECUTION_ENV', 'unknown')} app/jobs-platform"
)
CONFIG = Config(
    parameter_validation=False,
    user_agent=USER_AGENT,
    account_id_endpoint_mode="disabled",
)


def client(service: str) -> Any:
    """A traced client for `service` with the configuration above."""
    return tracing.instrument(boto3.client(service, config=CONFIG))  # type: ignore[call-overload]
