from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fraudstream.alerting.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()
