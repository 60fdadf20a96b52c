"""The region and credentials of every AWS here that is not a real account: the local
stack's emulator (and what talks to it: terraform, the pollers, the functions, redrive,
load), the offline plans' stand-in endpoint and the tests' in-process moto.

One place, so a client and the emulator it talks to agree (moto keeps one set of
resources per region and account: a client in another region sees nothing), and an ARN a
test builds names the region the resources were made in. Standard library only.
"""

from __future__ import annotations

REGION = "us-east-1"
# moto and DynamoDB Local accept any key; never a real one (no account is ever reached).
ACCESS_KEY_ID = "test"
SECRET_ACCESS_KEY = "test"  # noqa: S105 - a placeholder, not a secret


def credentials_env() -> dict[str, str]:
    """The fake credentials and region as AWS SDK environment variables."""
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
    }


def endpoint_env(endpoint: str) -> dict[str, str]:
    """`credentials_env` plus the endpoint every service is reached at (the emulator)."""
    return {**credentials_env(), "AWS_ENDPOINT_URL": endpoint}
