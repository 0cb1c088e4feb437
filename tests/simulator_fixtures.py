"""Pytest fixtures that start real Mimecast API simulators on loopback (loaded by tests/conftest.py).

``simulator``: a started server with the rate limit off and default data, stopped after the test.
``simulator_factory(**config_overrides)``: start as many as a test needs, each with its own
``SimulatorConfig``; all are stopped at teardown.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mimecast_ttp.simulator import SimulatorConfig, SimulatorServer


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., SimulatorServer]]:
    started: list[SimulatorServer] = []

    def start(**config_overrides) -> SimulatorServer:
        config_overrides.setdefault("rate_limit", 0)
        server = SimulatorServer(SimulatorConfig(**config_overrides)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def simulator(simulator_factory: Callable[..., SimulatorServer]) -> SimulatorServer:
    return simulator_factory()
