"""Credentials for the lake on S3 beyond pyarrow's own filesystem.

pyarrow finds credentials the AWS SDK's ways (variables, profiles, SSO, instance and task roles);
DuckDB's secret must get the same ones, or they go unsigned (HTTP 403) on setups
without the two AWS_* variables.
"""

import os
from typing import NamedTuple


class AwsCredentials(NamedTuple):
    key_id: str
    secret: str
    token: str | None


def aws_credentials() -> AwsCredentials:
    """The standard variables when both are set, else boto3's default chain; empty when none."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return AwsCredentials(key, secret, os.environ.get("AWS_SESSION_TOKEN") or None)
    import boto3  # dagster-aws's dependency; only here, where the variables are missing

    found = boto3.Session().get_credentials()
    if found is None:
        return AwsCredentials("", "", None)
    frozen = found.get_frozen_credentials()
    return AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token or None)
