"""A tiny synchronous JSON-RPC client for tests, and UUID normalisation.

Messages are split by the harness's framer (``harness.framing``), the one every test
and the harness client share.  Everything is synchronous and every read has a
deadline: tests poll, never sleep.

Normalisation makes replies of two servers comparable: every UUID (in UUID positions
or inside strings such as error details) is replaced by ``#n``, its first-seen order.
UUIDs in positions whose order is fixed by the request (transact results) are numbered
first; UUIDs that first appear in unordered places (object keys of table updates, set
elements, select rows) are then numbered after sorting those places by their content
with still-unknown UUIDs masked, so the numbering does not depend on hash order.
"""

from __future__ import annotations

import json
import re
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson

from harness.framing import Framer

# Bad-input tests echo values nested ~1000 deep; normalising them recurses per level.
sys.setrecursionlimit(max(sys.getrecursionlimit(), 20000))

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


class ConnectionClosed(Exception):
    """The server closed the connection (EOF or reset)."""


@dataclass
class Conn:
    """One JSON-RPC connection to an OVSDB server."""

    host: str
    port: int
    timeout: float = 10.0
    answer_echo: bool = True  # answer the server's inactivity probes ourselves
    received: list[Any] = field(default_factory=list)  # every message, in order
    sock: socket.socket | None = None
    closed: bool = False

    def __post_init__(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.framer = Framer()
        self.pending: list[Any] = []  # parsed, not yet returned by recv()
        self._ids = 0

    @classmethod
    def to(cls, remote: str, **kw: Any) -> "Conn":
        _, host, port = remote.split(":")
        return cls(host, int(port), **kw)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self) -> "Conn":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    # -- sending ---------------------------------------------------------------------
    def send(self, msg: Any) -> None:
        self.send_raw(orjson.dumps(msg))

    def send_raw(self, data: bytes) -> None:
        assert self.sock is not None
        try:
            self.sock.sendall(data)
        except OSError as e:
            self.closed = True
            raise ConnectionClosed(str(e)) from e

    # -- receiving -------------------------------------------------------------------
    def recv(self, timeout: float | None = None) -> Any | None:
        """The next message, or None when nothing arrives within `timeout`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.pending:
            if self.closed:
                raise ConnectionClosed("closed")
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            assert self.sock is not None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            except OSError as e:
                self.closed = True
                raise ConnectionClosed(str(e)) from e
            if not data:
                self.closed = True
                raise ConnectionClosed("EOF")
            for msg in self.framer.feed(data):
                if (self.answer_echo and isinstance(msg, dict)
                        and msg.get("method") == "echo" and msg.get("id") is not None):
                    # The server's inactivity probe: timing-dependent, so answered here
                    # and kept out of transcripts.
                    self.send({"result": msg.get("params", []), "error": None,
                               "id": msg["id"]})
                    continue
                self.pending.append(msg)
        msg = self.pending.pop(0)
        self.received.append(msg)
        return msg

    def wait_for(self, pred: Callable[[Any], bool], timeout: float | None = None) -> Any:
        """Read until a message satisfies `pred`; all messages stay in `received`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            left = deadline - time.monotonic()
            msg = self.recv(max(left, 0.0)) if left > 0 else None
            if msg is None:
                raise TimeoutError(f"no matching message within the deadline; "
                                   f"last received: {self.received[-3:]!r}")
            if pred(msg):
                return msg

    def wait_reply(self, id_: Any, timeout: float | None = None) -> Any:
        return self.wait_for(lambda m: isinstance(m, dict) and "method" not in m
                             and m.get("id") == id_, timeout)

    def request(self, method: str, params: list[Any], timeout: float | None = None) -> Any:
        """Send a request and return its reply message (result and error)."""
        id_ = self.next_id()
        self.send({"method": method, "params": params, "id": id_})
        return self.wait_reply(id_, timeout)

    def call(self, method: str, *params: Any) -> Any:
        """Send a request and return its result, raising on an error reply."""
        reply = self.request(method, list(params))
        if reply.get("error") is not None:
            raise RuntimeError(f"{method} failed: {reply['error']!r}")
        return reply["result"]

    def transact(self, db: str, *ops: Any) -> list[Any]:
        return self.call("transact", db, *ops)

    def barrier(self, timeout: float | None = None) -> list[Any]:
        """Messages the server sent before answering an echo sent now.

        The server handles a connection's requests in order, so everything it queued
        for us before reading this echo arrives before the echo's reply."""
        id_ = f"barrier-{self.next_id()}"
        start = len(self.received)
        self.send({"method": "echo", "params": [id_], "id": id_})
        self.wait_reply(id_, timeout)
        got = self.received[start:-1]
        del self.received[-1]  # the barrier's own reply is not part of the transcript
        return got

    def notifications(self, method: str | None = None) -> list[Any]:
        return [m for m in self.received if isinstance(m, dict) and m.get("id") is None
                and "method" in m and (method is None or m["method"] == method)]

    def is_open(self, timeout: float = 5.0) -> bool:
        """True if the server still answers an echo on this connection."""
        try:
            self.barrier(timeout)
            return True
        except (ConnectionClosed, TimeoutError):
            return False


# ---------------------------------------------------------------------------------------
# UUID normalisation

def _dumps(v: Any) -> bytes:
    try:
        return orjson.dumps(v, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # deeper than orjson allows, or strings holding non-UTF-8 bytes
        return json.dumps(v, sort_keys=True).encode()


# OVS names the two rows of an index violation in hash-table order, which follows the
# random UUIDs: the same transaction on the same server may name them either way round.
_INDEX_DUP = re.compile(r"^(Transaction causes multiple rows in .*?)  First row, (.*?)  "
                        r"Second row, (.*)$", re.S)


# A blocking wait reports the time it actually waited, which varies from run to run.
_WAITED = re.compile(r'^"wait" timed out after \d+ ms$')


def _canon_text(s: str) -> str:
    if _WAITED.match(s):
        return '"wait" timed out after N ms'
    m = _INDEX_DUP.match(s)
    if not m:
        return s
    a, b = sorted([m.group(2), m.group(3)])
    return f"{m.group(1)}  First row, {a}  Second row, {b}"


class Normaliser:
    """Replaces UUIDs by their first-seen order (`#1`, `#2`, ...), consistently across
    every message given to one instance.  The zero UUID stays as it is: it means
    "no transaction" in monitor_cond_since and must not be confused with a real one."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def name(self, u: str) -> str:
        if u == ZERO_UUID:
            return "#zero"
        if u not in self.names:
            self.names[u] = f"#{len(self.names) + 1}"
        return self.names[u]

    def learn(self, u: str) -> None:
        self.name(u)

    def learn_ordered(self, msgs: list[Any]) -> None:
        """Number UUIDs in positions whose order the request fixes: the `uuid` of each
        transact result, and result strings (get_server_id) in message order."""
        for m in msgs:
            if not isinstance(m, dict) or "method" in m:
                continue
            res = m.get("result")
            if isinstance(res, list):
                for r in res:
                    if isinstance(r, dict) and isinstance(r.get("uuid"), list):
                        u = r["uuid"]
                        if len(u) == 2 and u[0] == "uuid" and isinstance(u[1], str):
                            self.learn(u[1])
            elif isinstance(res, str) and UUID_RE.fullmatch(res):
                self.learn(res)

    def _mask(self, v: Any) -> Any:
        """`v` with known UUIDs named and unknown ones masked, for sorting."""
        if isinstance(v, str):
            return UUID_RE.sub(lambda m: self.names.get(m.group(0), "#?")
                               if m.group(0) != ZERO_UUID else "#zero", v)
        if isinstance(v, list):
            return [self._mask(x) for x in v]
        if isinstance(v, dict):
            return {self._mask(k): self._mask(x) for k, x in v.items()}
        return v

    def _sort_key(self, v: Any) -> bytes:
        return _dumps(self._mask(v))

    def norm(self, v: Any, sort_lists: bool = False) -> Any:
        """Normalise one JSON value.  OVSDB sets and maps (`["set", [...]]`,
        `["map", [...]]`) and select result rows are unordered: their elements are
        sorted by content so that both servers' answers line up."""
        if isinstance(v, str):
            return _canon_text(UUID_RE.sub(lambda m: self.name(m.group(0)), v))
        if isinstance(v, dict):
            keys = sorted(v, key=lambda k: (self._sort_key(k), self._sort_key(v[k])))
            out = {}
            for k in keys:
                nk = self.norm(k)
                if k == "rows" and isinstance(v[k], list):
                    out[nk] = self._norm_unordered(v[k])
                else:
                    out[nk] = self.norm(v[k])
            return out
        if isinstance(v, list):
            if (len(v) == 2 and v[0] in ("set", "map") and isinstance(v[1], list)):
                return [v[0], self._norm_unordered(v[1])]
            return [self.norm(x) for x in v]
        return v

    def _norm_unordered(self, items: list[Any]) -> list[Any]:
        ordered = sorted(items, key=self._sort_key)
        normed = [self.norm(x) for x in ordered]
        return sorted(normed, key=_dumps)

    def transcript(self, msgs: list[Any]) -> list[Any]:
        return [self.norm(m) for m in msgs]


def normalise(structure: Any, messages_in_order: list[Any], requests: Any = ()) -> Any:
    """Normalise `structure` (any JSON-like nesting of received messages) with one
    numbering.  UUIDs in `requests` (what the client sent, the same for both servers)
    are numbered first, in the order they appear; then those in ordered positions of
    `messages_in_order` (the same messages flattened in arrival order); the rest as
    the traversal meets them."""
    n = Normaliser()
    for u in UUID_RE.findall(_dumps(requests).decode()):
        n.learn(u)
    n.learn_ordered(messages_in_order)
    return n.norm(structure)
