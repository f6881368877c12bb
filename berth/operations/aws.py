"""Operations room: boto3 clients for real AWS, or for an embedded cloud (a moto server) at an endpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from berth.operations.deploy import SET_AWS, regional_session
from berth.operations.errors import OpsError
from embedded_cloud import EmbeddedCloud

ClientFactory = Callable[[str, str], Any]


def clients(endpoint: str | None) -> ClientFactory:
    """`(service, region) -> client`: the embedded cloud at endpoint, else real AWS (refused without credentials)."""
    if endpoint:
        return EmbeddedCloud(endpoint_url=endpoint).client
    # Regional STS whatever the profile says: a failover must not reach STS's global endpoint.
    session = regional_session(None)
    if session.get_credentials() is None:
        raise OpsError(f"no AWS credentials found: {SET_AWS} (or --endpoint URL for an embedded cloud)")
    return lambda service, region: session.client(service, region_name=region)
