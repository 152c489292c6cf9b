"""Sessions for the _Server database and for online conversion (convert), which
cancels monitors: change-aware clients get monitor_canceled, others are dropped."""

from pathlib import Path

import orjson

from tests.reference.sessions import DB, req, tx
from tests.reference.sessions.transact import ins

SCHEMA = orjson.loads((Path(__file__).parent.parent / "schemas" / "crucible.ovsschema")
                      .read_bytes())


def _converted() -> dict:
    s = orjson.loads(orjson.dumps(SCHEMA))
    s["version"] = "1.3.0"
    s["tables"]["Root"]["columns"]["added"] = {"type": {"key": "integer", "min": 0,
                                                        "max": 1}}
    del s["tables"]["Pair"]
    return s


CONVERTED = _converted()
SERVER_COLUMNS = ["name", "model", "connected", "leader", "schema", "cid", "sid", "index"]

SESSIONS = {
    "server_select": [
        req(1, "transact", "_Server", {"op": "select", "table": "Database", "where": [],
                                       "columns": SERVER_COLUMNS}),
        req(2, "transact", "_Server", {"op": "select", "table": "Database", "where": []}),
        req(3, "transact", "_Server", {"op": "wait", "table": "Database", "timeout": 0,
                                       "where": [["name", "==", DB]], "columns": ["name"],
                                       "until": "==", "rows": [{"name": DB}]}),
    ],
    # (No convert of _Server: that crashes ovsdb-server 3.1.)
    "convert": [
        tx(1, ins("Root", {"name": "a", "i": 1}), ins("Pair", {"a": "x", "b": 1}), c=9),
        req(2, "set_db_change_aware", True, c=0),
        req(3, "monitor_cond", DB, "aware", {"Root": {"columns": ["name", "i"]}}, c=0),
        req(4, "monitor_cond", DB, "plain", {"Root": {"columns": ["name"]}}, c=1),
        req(51, "set_db_change_aware", True, c=2),
        req(5, "monitor_cond", "_Server", "srv", {"Database": {"columns": ["name", "model"]}},
            c=2),
        req(6, "set_db_change_aware", True, c=3),
        req(7, "convert", DB, CONVERTED, c=9, await_note=[0, "monitor_canceled"]),
        req(8, "get_schema", DB, c=9),
        tx(9, {"op": "select", "table": "Root", "where": [], "columns": ["name", "added"]},
           c=9),
        req(10, "monitor_cond", DB, "again", {"Root": {"columns": ["name", "added"]}}, c=0),
    ],
    "convert_errors": [
        req(11, "convert", DB, {"name": "Other", "tables": {}}),
        req(12, "convert", "Nope", CONVERTED),
        req(14, "convert", DB, {"bad": 1}),
        req(15, "convert", DB),
        req(16, "convert", DB, CONVERTED, "extra"),
    ],
    # What _Server says about a converted database: ovsdb-server 3.1 keeps showing the
    # old schema in Database.schema, and sends no update for it.
    "convert_server_schema": [
        req(1, "set_db_change_aware", True, c=2),
        req(2, "monitor_cond", "_Server", "srv", {"Database": {"columns": ["name", "schema"]}},
            c=2),
        req(3, "convert", DB, CONVERTED, c=9),
        req(4, "transact", "_Server", {"op": "select", "table": "Database",
                                       "where": [["name", "==", DB]], "columns": ["schema"]},
            c=3),
    ],
}


# Sessions for a server holding two databases (the test schema and OVN Northbound).
NB = "OVN_Northbound"
MULTI_DB_SESSIONS = {
    # ovsdb-server lists databases in the order of its name hash table.
    "two_databases_list": [req(1, "list_dbs")],
    "two_databases": [
        req(2, "get_schema", NB),
        req(3, "transact", "_Server", {"op": "select", "table": "Database", "where": [],
                                       "columns": ["name", "model", "leader", "connected"]}),
        req(4, "monitor_cond", NB, "nb", {"Logical_Switch": {"columns": ["name"]}}, c=1),
        req(5, "monitor_cond", DB, "cr", {"Root": {"columns": ["name"]}}, c=1),
        req(6, "transact", NB, {"op": "insert", "table": "Logical_Switch",
                                "row": {"name": "sw"}}),
        tx(7, ins("Root", {"name": "r"})),
        req(8, "transact", NB, {"op": "select", "table": "Root", "where": []}),
        req(9, "lock", "shared-name"),
        req(10, "lock", "shared-name", c=1),
        req(11, "transact", NB, {"op": "assert", "lock": "shared-name"}),
        req(12, "monitor_cancel", "nb", c=1),
        req(13, "transact", NB, {"op": "delete", "table": "Logical_Switch", "where": []}),
    ],
}
