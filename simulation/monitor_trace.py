"""Seeded random runs of the monitor core, as traces for spec/MonitorDelta.tla.

``random_trace(seed, steps)`` drives a real MonitorEngine on the tiny schema of
spec/README.md (one table; ``n`` integer, ``s`` set of integers, ``m`` map integer ->
integer; rows 0..2; values 0..2) with 2-3 clients that connect with
monitor_cond_since, change conditions (requested by the client, processed later by the
server), disconnect and resume.  The clients are simulated here: each has a queue of
messages from the server and a replica built only from what it applied.  The result is
the event list of spec/README.md ("Init", "Commit", "RequestCondChange",
"ServerCondChange", "Disconnect", "Resume", "ApplyUpdate2"), every output field taken
from the bytes the engine produced, so TLC can check the core against the spec.

    python -m simulation.monitor_trace SEED STEPS    prints the trace as JSON
"""

from __future__ import annotations

import random
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from reference.data.datum import Datum
from reference.data.schema import parse_schema
from reference.monitor.engine import MonitorEngine
from simulation.monitor_db import SimDB
from simulation.monitor_replica import Replica

TABLE = "R"
COLUMNS = ("n", "s", "m")
SCHEMA_JSON = {"name": "Tiny", "version": "1.0.0", "tables": {TABLE: {"columns": {
    "n": {"type": "integer"},
    "s": {"type": {"key": "integer", "min": 0, "max": "unlimited"}},
    "m": {"type": {"key": "integer", "value": "integer", "min": 0, "max": "unlimited"}},
}}}}
ROWS = 3
VALUES = 3


def _row_uuid(r: int) -> uuid.UUID:
    return uuid.UUID(int=r + 1)


def _row_name(u: str) -> int:
    return uuid.UUID(u).int - 1


def _txn_uuid(k: int) -> uuid.UUID:
    return uuid.UUID(int=k)


def _txn_int(u: str) -> int:
    return uuid.UUID(u).int


def _atoms(j: Any) -> list:
    # OVS wire set: a bare atom or ["set", [...]].
    if isinstance(j, list) and j and j[0] == "set":
        return list(j[1])
    return [j]


def _row_json(row: dict) -> dict:
    """A row (column -> Datum) in the spec's format."""
    return {"n": row["n"].keys[0], "s": list(row["s"].keys),
            "m": [[k, v] for k, v in zip(row["m"].keys, row["m"].values or (), strict=True)]}


def _ups(updates: dict) -> list[dict]:
    """update2 <table-updates> -> the spec's flattened, normalised row-update list."""
    out = []
    for u, ru in sorted(updates.get(TABLE, {}).items()):
        (op, body), = ru.items()
        item: dict[str, Any] = {"row": _row_name(u), "op": op}
        if op != "delete":
            for c, j in (body or {}).items():
                if c == "n":
                    item["n"] = j
                elif c == "s":
                    item["s"] = _atoms(j)
                elif c == "m":
                    item["m"] = [list(p) for p in j[1]]
        out.append(item)
    return out


def _random_cond(rng: random.Random) -> list:
    clauses = []
    for _ in range(rng.randint(0, 2)):
        r = rng.random()
        if r < 0.1:
            clauses.append(rng.random() < 0.5)
        elif r < 0.6:
            clauses.append(["n", rng.choice(["==", "!=", "<", "<=", ">", ">="]),
                            rng.randrange(VALUES)])
        else:
            arg: Any = rng.randrange(VALUES)
            if rng.random() < 0.3:
                arg = ["set", sorted(rng.sample(range(VALUES), rng.randint(0, 2)))]
            clauses.append(["s", rng.choice(["includes", "excludes"]), arg])
    return clauses


def _spec_cond(cond: list) -> list:
    """Our where JSON -> the spec's condition (a list argument as a plain list)."""
    out = []
    for c in cond:
        if isinstance(c, list) and isinstance(c[2], list):
            out.append([c[0], c[1], c[2][1]])
        else:
            out.append(c)
    return out


@dataclass
class _Client:
    name: int
    cond: list                                      # desired condition
    gen: int = 0
    connected: bool = False
    last: int = 0
    replica_cond: list | None = None                # what the replica is filtered by
    inbox: list = field(default_factory=list)       # (kind, txn, ups, updates, cond)
    outbox: list = field(default_factory=list)      # pending monitor_cond_change conds
    server_cond: list | None = None                 # the session's condition, server side
    replica: Replica | None = None

    @property
    def sid(self) -> tuple[int, int]:
        return (self.name, self.gen)


def random_trace(seed: int, steps: int, clients: int | None = None,
                 hist: int = 3) -> list[dict]:
    rng = random.Random(seed)
    schema = parse_schema(SCHEMA_JSON)
    db = SimDB(schema, new_uuid=lambda: uuid.UUID(int=rng.getrandbits(128)))
    # Our history holds the last hist+1 transactions: exactly the spec's "found iff
    # last >= txn - hist".  The atoms bound is lifted so only the count matters.
    engine = MonitorEngine(schema, lambda: db, history_max_txns=hist + 1,
                           history_max_atoms=1 << 60)
    n_clients = clients or rng.randint(2, 3)
    cs = [_Client(i, _random_cond(rng)) for i in range(n_clients)]
    for c in cs:
        c.replica = Replica(schema, {TABLE: COLUMNS})
    events: list[dict] = [{"action": "Init", "clients": [c.name for c in cs], "hist": hist,
                           "cond": {str(c.name): _spec_cond(c.cond) for c in cs}}]
    txn = 0

    def request(cond: list) -> dict:
        return {TABLE: [{"columns": list(COLUMNS), "where": cond}]}

    for _ in range(steps):
        action = rng.choices(
            ["commit", "request", "server", "disconnect", "resume", "apply"],
            weights=[4, 1, 2, 1, 2, 5])[0]
        c = rng.choice(cs)
        if action == "commit":
            writes = {}
            for r in rng.sample(range(ROWS), rng.randint(1, 2)):
                if rng.random() < 0.2:
                    writes[_row_uuid(r)] = None
                else:
                    writes[_row_uuid(r)] = {
                        "n": Datum.atom(rng.randrange(VALUES)),
                        "s": Datum.set(rng.sample(range(VALUES), rng.randint(0, 2))),
                        "m": Datum.map({k: rng.randrange(VALUES) for k in
                                          rng.sample(range(VALUES), rng.randint(0, 2))})}
            changes = db.commit({TABLE: writes}, txn_id=_txn_uuid(txn + 1))
            if not changes.tables:
                continue
            txn += 1
            updates: dict[str, list] = {}
            for d in engine.commit(changes):
                msg = orjson.loads(d.data)
                assert msg["method"] == "update3" and _txn_int(msg["params"][1]) == txn
                for sid in d.sessions:
                    target = cs[sid[0]]
                    ups = _ups(msg["params"][2])
                    target.inbox.append(("update", txn, ups, msg["params"][2], None))
                    updates[str(target.name)] = ups
            rows = {str(_row_name(str(u))): None if new is None else _row_json(new)
                    for u, (_, new) in changes.tables[TABLE].items()}
            events.append({"action": "Commit", "txn": txn, "rows": rows, "updates": updates})
        elif action == "request":
            cond = _random_cond(rng)
            c.cond = cond
            if c.connected:
                c.outbox.append(cond)
            events.append({"action": "RequestCondChange", "client": c.name,
                           "cond": _spec_cond(cond)})
        elif action == "server":
            if not (c.connected and c.outbox):
                continue
            cond = c.outbox.pop(0)
            msgs = engine.change_condition(c.sid, "m", "m", {TABLE: [{"where": cond}]})
            updates2: dict = {}
            for data in msgs:
                msg = orjson.loads(data)
                updates2 = msg["params"][2]
            ups = _ups(updates2)
            c.server_cond = cond
            c.inbox.append(("cond", txn, ups, updates2, cond))
            events.append({"action": "ServerCondChange", "client": c.name,
                           "cond": _spec_cond(cond), "ups": ups})
        elif action == "disconnect":
            if not c.connected:
                continue
            engine.drop_session(c.sid)
            c.connected = False
            c.inbox.clear()
            c.outbox.clear()
            events.append({"action": "Disconnect", "client": c.name})
        elif action == "resume":
            if c.connected:
                continue
            c.gen += 1
            last = c.last if c.replica_cond == c.cond else 0
            found, last_id, updates2 = orjson.loads(orjson.dumps(engine.add(
                c.sid, "m", "monitor_cond_since", request(c.cond),
                str(_txn_uuid(last)))))
            c.connected = True
            c.server_cond = c.cond
            ups = _ups(updates2)
            c.inbox.append(("resume" if found else "full", _txn_int(last_id), ups, updates2,
                            c.cond))
            events.append({"action": "Resume", "client": c.name, "cond": _spec_cond(c.cond),
                           "last": last, "found": found, "txn": _txn_int(last_id),
                           "ups": ups})
        elif action == "apply":
            if not c.inbox:
                continue
            kind, mtxn, ups, updates2, cond = c.inbox.pop(0)
            assert c.replica is not None
            if kind == "full":
                c.replica.clear()
            c.replica.apply("update2", updates2)
            c.last = mtxn
            if cond is not None:
                c.replica_cond = cond
            replica = {str(_row_name(u)): _row_json(row)
                       for u, row in sorted(c.replica.tables[TABLE].items())}
            events.append({"action": "ApplyUpdate2", "client": c.name, "kind": kind,
                           "txn": mtxn, "replica": replica})
    return events


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    seed = int(args[0]) if args else 1
    steps = int(args[1]) if len(args) > 1 else 50
    sys.stdout.write(orjson.dumps(random_trace(seed, steps),
                                  option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
