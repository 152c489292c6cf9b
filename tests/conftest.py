"""Options and fixtures shared by the whole test tree.

Servers are started by ``harness.targets.server`` (the one way tests, targets and
benchmarks start them) and stopped by PID when the fixture ends, even after a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import orjson
import pytest

from harness.targets.server import REPO, Server, start_server, stop_all

CRUCIBLE_SCHEMA = REPO / "harness" / "schemas" / "crucible.ovsschema"


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


StartServer = Callable[..., Server]


def _factory(workdir: Callable[[str], Path]) -> Iterator[StartServer]:
    started: list[Server] = []

    def start(kind: str, schemas: list[str | Path], extra_args: Iterable[str] = ()) -> Server:
        server = start_server(kind, workdir(kind), schemas, extra_args)
        started.append(server)
        return server
    try:
        yield start
    finally:
        stop_all(started)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[StartServer]:
    """``start(kind, schemas, extra_args=())``: ``start_server`` in this test's
    directory; whatever it started is stopped when the test ends, failed or not."""
    yield from _factory(lambda kind: tmp_path)


@pytest.fixture(scope="module")
def module_server_factory(tmp_path_factory: pytest.TempPathFactory,
                          ) -> Iterator[StartServer]:
    """As ``server_factory``, for servers shared by the tests of one module."""
    yield from _factory(tmp_path_factory.mktemp)


@pytest.fixture
def ovsdb(server_factory: StartServer) -> Server:
    """The real ovsdb-server on the harness's Crucible schema, for one test."""
    return server_factory("ovsdb-server", [CRUCIBLE_SCHEMA])


@pytest.fixture(scope="module")
def ovsdb_test_schema(module_server_factory: StartServer,
                      tmp_path_factory: pytest.TempPathFactory) -> Server:
    """The real ovsdb-server on ``TEST_SCHEMA`` (tests/reference/test_schema.py), shared
    by one test module; its database is ``T``."""
    from tests.reference.test_schema import TEST_SCHEMA
    schema = tmp_path_factory.mktemp("schema") / "t.ovsschema"
    schema.write_bytes(orjson.dumps(TEST_SCHEMA))
    return module_server_factory("ovsdb-server", [schema])
