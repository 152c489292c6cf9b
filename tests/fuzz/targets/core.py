"""What one client sends, into the server core with the test database and _Server: a
JSON array of messages (structured mutation works on these; each is then read as the
framer reads it), or any other bytes through the StreamDecoder.  A second session
monitors every table, so commits fan out.  The core answers every request without an
"internal error" (its catch-all for a bug of ours); if nothing committed, the database
is unchanged, and if something did, it passes its own checks; both sessions close
cleanly."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import orjson

from reference.data.database import Database
from reference.monitor import Delivery
from reference.server.core import Close, PendingTxn, Send, ServerCore
from reference.server.hosted_database import HostedDatabase
from reference.server.server_database import server_database
from reference.storage.records import apply_file_record
from reference.wire import jsonrpc
from tests.fuzz.dbstate import (
    DB,
    SEED_RECORD,
    check_reload,
    check_unchanged,
    contents,
    schema,
)

STRUCTURED = True
SERVER_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
MAX_MESSAGES = 32


def _messages(data: bytes) -> list[Any]:
    """The messages and, if the stream breaks, the FramingError after them."""
    try:
        values = orjson.loads(data)
    except orjson.JSONDecodeError:
        values = None
    out: list[Any] = []
    try:
        if isinstance(values, list):
            for v in values[:MAX_MESSAGES]:
                out.append(jsonrpc.parse_message(jsonrpc.dumps(v)))
        else:
            out += jsonrpc.StreamDecoder().feed(data)[:MAX_MESSAGES]
    except jsonrpc.FramingError as e:
        out += e.messages
        out.append(e)
    return out


def _check_sent(data: bytes) -> None:
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError:  # strings with bytes that are not UTF-8
        msg = json.loads(data.decode("utf-8", "surrogateescape"))
    error = msg.get("error")
    if isinstance(error, dict) and error.get("error") == "internal error":
        raise AssertionError(f"the core failed: {error.get('details')}")


class Client:
    def __init__(self) -> None:
        self.hosted = HostedDatabase(schema())
        apply_file_record(self.hosted.db, SEED_RECORD)
        self.core = ServerCore([self.hosted, server_database([self.hosted])], SERVER_ID)
        self.commits = 0

    def carry_out(self, outs: list, now_ms: float) -> bool:
        """Does what the core asks; False once it closes a session."""
        open_ = True
        for out in outs:
            if type(out) is Send:
                _check_sent(out.data)
            elif type(out) is Delivery:
                _check_sent(out.data)
            elif type(out) is Close:
                open_ = False
            elif type(out) is PendingTxn:
                if out.database == DB:
                    self.commits += 1
                storage = self.core.dbs[out.database].storage
                open_ &= self.carry_out(self.core.advance(storage.propose(out), now_ms),
                                        now_ms)
            else:
                raise AssertionError(f"unknown effect {out!r}")
        return open_


def one_input(data: bytes) -> None:
    # The core logs the traceback of an internal error; the reply already says it all.
    # (Set here, in the fuzzing process, not on import: tests import this module.)
    logging.getLogger("reference").setLevel(logging.CRITICAL)
    c = Client()
    db: Database = c.hosted.db
    before = contents(db)
    watcher = c.core.open_session()
    c.carry_out(c.core.receive(watcher, jsonrpc.Request(
        "monitor_cond", [DB, "all", {t: [{}] for t in db.schema.tables}], 0), 0.0), 0.0)
    sid = c.core.open_session()
    now = 0.0
    for msg in _messages(data):
        now += 10.0
        if isinstance(msg, jsonrpc.FramingError) or \
                not c.carry_out(c.core.receive(sid, msg, now), now):
            break
        c.carry_out(c.core.expire(now), now)
    c.carry_out(c.core.close_session(sid), now)
    c.carry_out(c.core.close_session(watcher), now)
    if c.commits == 0:
        check_unchanged(before, db, "a session that committed nothing")
    else:
        check_reload(db)
