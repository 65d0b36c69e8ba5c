"""Shared fixtures: apps built through the factory, with a manual clock and predictable keys."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni, Settings, create_app
from mock_omni.domain.clock import ManualClock

SEED_KEY = "CD265875E3A6EA43478D5F37A635BE4A"
OTHER_KEY = "AD9E01A5DC7BEE2C2B828D208182A611"
THIRD_KEY = "F9E67B67F89D2FD78611C910D7D40696"
GENIE_KEY = "E6829A141B902776020F736D3FBE16A5"
ALADDIN_BASIC = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
ALADDIN_API_KEY = "003026bbc133714df1834b8638bb496e-8f4b3d9a-e931-478d-a994-28a725159ab9"
ALADDIN_TOKEN = "2f9b4d31-2d0d-49a8-85f0-9b862bdca394"
GENIE_BASIC = "Basic " + base64.b64encode(b"Genie:three wishes").decode()


def counting_keys() -> Iterator[str]:
    return (f"{n:032X}" for n in itertools.count(1))


def make_app(**settings: object) -> MockOmni:
    keys = counting_keys()
    return create_app(Settings(**settings), clock=ManualClock(), key_factory=lambda: next(keys))  # type: ignore[arg-type]


@pytest.fixture
def app() -> MockOmni:
    return make_app()


@pytest.fixture
def client(app: MockOmni) -> Iterator[TestClient]:
    with TestClient(app, headers={"Authorization": ALADDIN_BASIC}) as test_client:
        yield test_client
