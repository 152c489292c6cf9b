"""Options and fixtures shared by the whole test tree.

Servers are started by ``harness.targets.server`` (the one way tests, targets and
benchmarks start them) and stopped by PID when the fixture ends, even after a failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from harness.targets.server import REPO, Server, start_server

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


def _serving(kind: str, workdir: Path, schemas: list[str | Path]) -> Iterator[Server]:
    server = start_server(kind, workdir, schemas)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ovsdb(tmp_path: Path) -> Iterator[Server]:
    """The real ovsdb-server on the harness's Crucible schema, for one test."""
    yield from _serving("ovsdb-server", tmp_path, [CRUCIBLE_SCHEMA])


@pytest.fixture(scope="module")
def ovsdb_test_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real ovsdb-server on ``TEST_SCHEMA`` (tests/reference/test_schema.py), shared
    by one test module; its database is ``T``."""
    from tests.reference.test_schema import TEST_SCHEMA
    workdir = tmp_path_factory.mktemp("ovsdb-test-schema")
    schema = workdir / "t.ovsschema"
    schema.write_bytes(orjson.dumps(TEST_SCHEMA))
    yield from _serving("ovsdb-server", workdir, [schema])
