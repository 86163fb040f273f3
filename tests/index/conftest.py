"""A real S3 endpoint for the outputs tests: moto's server. Outside CI a server that cannot
start skips the tests that need it; under ``CI=true`` it fails them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support import servers


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's S3 server on a free loopback port; its URL."""
    with servers.moto() as url:
        yield url


@pytest.fixture
def s3_client(moto_endpoint: str) -> Any:
    """A boto3 client for the moto server (dummy keys, as moto takes any)."""
    return servers.s3_client(moto_endpoint)
