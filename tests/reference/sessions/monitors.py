"""Sessions for monitor (update), monitor_cond (update2), monitor_cond_change,
monitor_cond_since (update3) and monitor_cancel, with changes made on the monitoring
connection itself (updates come before the transact reply) and on another one."""

from tests.reference.sessions import DB, req, tx
from tests.reference.sessions.transact import U1, U2, ins, mut, upd

ZERO = "00000000-0000-0000-0000-000000000000"


def delete(table, where):
    return {"op": "delete", "table": table, "where": where}


SEED = tx(1, ins("Root", {"name": "a", "i": 1, "iset": ["set", [1, 2]],
                          "smap": ["map", [["k", "v"], ["j", "w"]]], "opt_i": 3}),
          ins("Root", {"name": "b", "i": 2, "s": "bee"}),
          ins("Leaf", {"tag": "lonely"}),
          ins("Pair", {"a": "p", "b": 1}), c=9)

CHANGES = [
    tx(100, ins("Root", {"name": "c", "i": 3, "sset": ["set", ["x"]]}), c=9),
    tx(101, upd("Root", [["name", "==", "a"]], {"i": 10, "s": "new", "opt_i": ["set", []]}),
       c=9),
    tx(102, mut("Root", [["name", "==", "a"]], [["iset", "insert", ["set", [3]]],
                                                 ["iset", "delete", 1],
                                                 ["smap", "insert", ["map", [["n", "1"]]]],
                                                 ["smap", "delete", ["set", ["j"]]]]), c=9),
    tx(103, upd("Root", [["name", "==", "a"]], {"smap": ["map", [["k", "changed"]]]}), c=9),
    tx(104, upd("Root", [["name", "==", "b"]], {"i": 2}), c=9),
    tx(105, delete("Root", [["name", "==", "b"]]), c=9),
    tx(106, ins("Pair", {"a": "q", "b": 2}), upd("Pair", [["a", "==", "p"]], {"b": 5}), c=9),
    tx(107, ins("Root", {"name": "own", "i": 7}), c=0),
    tx(108, upd("Root", [["name", "==", "own"]], {"i": 99}), delete("Root", [["name", "==", "c"]]),
       c=0),
    tx(109, ins("Root", {"name": "tmp"}, name="t"), delete("Root", [["name", "==", "tmp"]]),
       c=9),
]

ALL_TABLES = {"Root": {}, "Pair": {}, "Leaf": {}}

SESSIONS = {
    "monitor_v1_all": [
        SEED, req(2, "monitor", DB, "m1", ALL_TABLES), *CHANGES,
    ],
    "monitor_v1_columns_and_select": [
        SEED,
        req(2, "monitor", DB, ["mon", 1],
            {"Root": [{"columns": ["name", "i"], "select": {"initial": False, "modify": True}},
                      {"columns": ["s"], "select": {"insert": True, "delete": False,
                                                    "initial": False, "modify": False}}],
             "Pair": {"columns": ["b"], "select": {"insert": False}}}),
        *CHANGES,
    ],
    "monitor_v1_errors": [
        SEED,
        req(2, "monitor", DB, "m", {"Nope": {}}),
        req(3, "monitor", DB, "m", {"Root": {"columns": ["nope"]}}),
        req(4, "monitor", "Nope", "m", {"Root": {}}, expect_error="unknown database"),
        req(5, "monitor", DB, "m", {"Root": {"columns": ["name"]}}),
        req(6, "monitor", DB, "m", {"Root": {}}, expect_error="duplicate monitor ID"),
        req(7, "monitor", DB, "m2", {"Root": [{"columns": ["name"]}, {"columns": ["name"]}]}),
        req(8, "monitor", DB, "m3", {"Root": {"columns": "name"}}),
        req(9, "monitor", DB, "m4", {"Root": {"select": {"frob": True}}}),
        req(10, "monitor", DB, "m5", {}),
        req(12, "monitor_cancel", "zz", expect_error="unknown monitor"),
        req(13, "monitor_cancel", "m"),
        req(14, "monitor_cancel", "m", expect_error="unknown monitor"),
        CHANGES[0],
        req(15, "monitor", DB, "m", {"Root": {"columns": ["i"]}}),
        req(16, "monitor", DB, "m", {"Root": {"columns": ["i"]}}, c=1),
        req(17, "monitor_cancel"),
    ],
    "monitor_cond_all": [
        SEED, req(2, "monitor_cond", DB, "c1", ALL_TABLES), *CHANGES,
    ],
    "monitor_cond_null_id_and_columns": [
        SEED, req(2, "monitor_cond", DB, None, {"Root": [{"columns": ["iset", "smap", "opt_i"]}]}),
        *CHANGES,
    ],
    "monitor_cond_where": [
        SEED,
        req(2, "monitor_cond", DB, "c",
            {"Root": [{"columns": ["name", "i", "iset"],
                       "where": [["i", ">=", 2], ["name", "==", "a"]]}],
             "Pair": {"where": [["b", "<", 3]]},
             "Leaf": {"where": [False]}}),
        *CHANGES,
    ],
    "monitor_cond_where_functions": [
        SEED,
        # Each monitor gets its own column set: ovsdb-server 3.1 shares one monitor among
        # clients with equal columns whatever their conditions, and with several
        # conditions on one shared monitor it corrupts memory and dies (SIGSEGV) within a
        # few updates (e.g. columns [name] with where [] and [["iset","includes",2]] on
        # two connections, then an insert from a third): that cannot be compared.
        *[req(10 + n, "monitor_cond", DB, f"w{n}",
              {"Root": {"columns": ["name", extra], "where": w}}, c=n)
          for n, (extra, w) in enumerate(zip(
              ["i", "r", "b", "s", "u", "color", "opt_i", "opt_s", "iset", "sset", "rset",
               "smap"], [
                  [], [True], [False], [["i", "!=", 1]], [["iset", "includes", 2]],
                  [["iset", "excludes", ["set", [2]]]],
                  [["smap", "includes", ["map", [["k", "v"]]]]],
                  [["opt_i", ">", 0]], [["opt_i", "==", ["set", []]]], [["s", "<=", "bee"]],
                  [["_uuid", "!=", ["uuid", ZERO]]], [["i", "==", 1], ["i", "==", 2]],
              ], strict=True))],
        *CHANGES,
    ],
    "monitor_cond_where_errors": [
        SEED,
        req(2, "monitor_cond", DB, "c", {"Root": {"where": [["nope", "==", 1]]}}),
        req(3, "monitor_cond", DB, "c", {"Root": {"where": [["i", "==", "x"]]}}),
        req(4, "monitor_cond", DB, "c", {"Root": {"where": [["i", "~", 1]]}}),
        req(5, "monitor_cond", DB, "c", {"Root": {"where": "x"}}),
        req(6, "monitor_cond", DB, "c", {"Root": {"where": [["iset", "<", 1]]}}),
    ],
    # How many elements a condition's argument may hold, as in transact where clauses
    # (ovsdb-server 3.1 parses both with one function): "excludes" any number, even
    # more than the column holds (Holder.must holds at most 2); "includes", "==" and
    # "!=" at most the column's maximum; a scalar column exactly one.  Each monitor has
    # its own connection and column set (see monitor_cond_where_functions).
    "monitor_cond_where_argument_sizes": [
        SEED,
        *[req(10 + n, "monitor_cond", DB, f"x{n}", {table: {"columns": cols, "where": w}},
              c=n + 1)
          for n, (table, cols, w) in enumerate([
              ("Root", ["name", "i"], [["sset", "excludes", ["set", ["x", "y", "z", "w"]]]]),
              ("Root", ["name", "r"], [["opt_i", "excludes", ["set", [3, 4]]]]),
              ("Root", ["name", "b"], [["imap", "excludes",
                                        ["map", [[1, "x"], [2, "y"], [3, "z"], [4, "x"]]]]]),
              ("Root", ["name", "s"], [["color", "excludes", ["set", ["green", "blue"]]]]),
              ("Holder", ["name"], [["must", "excludes", ["set", [["uuid", U1], ["uuid", U2],
                                                                  ["uuid", ZERO]]]]]),
              ("Root", ["name", "u"], [False]),
          ])],
        *[req(20 + n, "monitor_cond", DB, f"bad{n}", {"Root": {"where": [w]}},
              expect_error=err)
          for n, (w, err) in enumerate([
              (["sset", "includes", ["set", ["x", "y", "z", "w"]]], "syntax error"),
              (["imap", "includes", ["map", [[1, "x"], [2, "y"], [3, "z"], [4, "x"]]]],
               "syntax error"),
              (["opt_i", "includes", ["set", [3, 4]]], "syntax error"),
              (["sset", "==", ["set", ["x", "y", "z", "w"]]], "syntax error"),
              (["sset", "!=", ["set", ["x", "y", "z", "w"]]], "syntax error"),
              (["i", "excludes", ["set", [1, 2]]], "syntax error"),
              (["imap", "excludes", ["set", [1]]], "syntax error"),
              (["color", "excludes", ["set", ["red", "purple"]]], "constraint violation"),
              (["u", "excludes", ["named-uuid", "x"]], "syntax error"),
          ])],
        req(30, "monitor_cond_change", "x5", "x5",
            {"Root": [{"where": [["sset", "excludes", ["set", ["x", "y", "z", "w"]]]]}]}, c=6),
        req(31, "monitor_cond_change", "x5", "x5",
            {"Root": [{"where": [["sset", "includes", ["set", ["x", "y", "z", "w"]]]]}]}, c=6,
            expect_error="syntax error"),
        *CHANGES,
        tx(110, ins("Leaf", {"tag": "h"}, name="l"),
           ins("Holder", {"name": "h", "must": ["named-uuid", "l"]}), c=9),
        req(32, "monitor_cond_change", "x5", "x5",
            {"Root": [{"where": [["opt_i", "excludes", ["set", [3, 4, 5]]],
                                 ["name", "==", "a"]]}]}, c=6),
    ],
    "monitor_cond_change": [
        SEED,
        req(2, "monitor_cond", DB, "c",
            {"Root": [{"columns": ["name", "i"], "where": [["i", "==", 1]]}]}),
        req(3, "monitor_cond_change", "c", "c2", {"Root": [{"where": [["i", "==", 2]]}]}),
        req(4, "monitor_cond_change", "c2", "c2", {"Root": [{"where": [["i", ">", 0]]}]}),
        CHANGES[0], CHANGES[1],
        req(5, "monitor_cond_change", "c2", "c3", {"Root": [{"where": [False]}]}),
        CHANGES[2],
        req(6, "monitor_cond_change", "c3", "c4", {"Root": [{"where": [True]}]}),
        req(7, "monitor_cond_change", "c4", "c5",
            {"Root": [{"columns": ["s"], "where": [True]}]}),
        req(8, "monitor_cond_change", "nope", "c6", {"Root": [{"where": [True]}]},
            expect_error="unknown monitor session"),
        req(9, "monitor_cond_change", "c4", "c4", {"Nope": [{"where": [True]}]}),
        req(10, "monitor_cond_change", "c4", "c4", {"Pair": [{"where": [True]}]}),
        req(11, "monitor_cond", DB, "x", {"Root": {"columns": ["name"]}}),
        req(12, "monitor_cond_change", "c4", "x", {"Root": [{"where": [True]}]}),
        req(13, "monitor_cond_change", "c4", "c7", {}),
        req(14, "monitor_cond_change", "c7"),
        *CHANGES[3:6],
    ],
    "monitor_cond_change_v1_monitor": [
        SEED,
        req(2, "monitor", DB, "v1", {"Root": {"columns": ["name"]}}),
        req(3, "monitor_cond_change", "v1", "v2", {"Root": [{"where": [False]}]}),
    ],
    "monitor_cond_since": [
        SEED,
        req(2, "monitor_cond_since", DB, "s", {"Root": [{"columns": ["name", "i"]}]}, ZERO),
        *CHANGES[:3],
        req(3, "monitor_cond_since", DB, "s2", {"Root": [{"columns": ["name"],
                                                          "where": [["i", ">", 1]]}]},
            "12345678-1234-4234-8234-123456789abc"),
        req(4, "monitor_cond_since", DB, "s3", {"Leaf": {}}),
        req(5, "monitor_cond_since", DB, "s4", {"Leaf": {}}, "not-a-uuid"),
        req(6, "monitor_cond_change", "s", "s5", {"Root": [{"where": [["i", "<", 5]]}]}),
        *CHANGES[3:],
    ],
    "monitor_cancel_stops_updates": [
        SEED,
        req(2, "monitor_cond", DB, "c", {"Root": {"columns": ["name"]}}),
        req(3, "monitor", DB, "m", {"Root": {"columns": ["name"]}}),
        req(4, "monitor_cancel", "c"),
        CHANGES[0],
        req(5, "monitor_cancel", "m"),
        CHANGES[1],
        req(6, "monitor_cond", DB, "c", {"Root": {"columns": ["name"]}}),
    ],
    "monitor_many_clients": [
        SEED,
        req(2, "monitor_cond", DB, "c", {"Root": {"columns": ["name", "i"]}}, c=0),
        req(3, "monitor_cond", DB, "c", {"Root": {"columns": ["name", "i"]}}, c=1),
        req(4, "monitor_cond", DB, "c", {"Root": {"columns": ["name", "i"],
                                                  "where": [["i", "<", 3]]}}, c=2),
        req(5, "monitor", DB, "c", {"Root": {"columns": ["name", "i"]}}, c=3),
        req(6, "monitor_cond_since", DB, "c", {"Root": {"columns": ["name", "i"]}}, ZERO, c=4),
        *CHANGES,
        {"c": 1, "close": True},
        CHANGES[0],
    ],
    "monitor_server_db": [
        req(1, "monitor_cond", "_Server", "srv",
            {"Database": {"columns": ["name", "model", "connected", "leader", "index",
                                      "cid", "sid"]}}),
        req(2, "monitor", "_Server", "srv1", {"Database": {}}),
        SEED,
    ],
    "monitor_ephemeral_and_version": [
        req(1, "monitor_cond", DB, "c", {"Root": [{"columns": ["name", "eph", "_version"]}]}),
        req(2, "monitor", DB, "m", {"Root": [{"columns": ["name", "eph", "_version"]}]}),
        tx(3, ins("Root", {"name": "e", "eph": "x"})),
        tx(4, upd("Root", [], {"eph": "y"})),
        tx(5, upd("Root", [], {"eph": ["set", []]})),
    ],
    "monitor_gc_and_weak_refs": [
        req(1, "monitor_cond", DB, "c", {"Root": {}, "Child": {}, "Leaf": {}, "Holder": {}}),
        tx(2, ins("Leaf", {"tag": "l"}, name="l"),
           ins("Child", {"name": "c", "leaf": ["named-uuid", "l"]}, name="c"),
           ins("Root", {"name": "r", "children": ["named-uuid", "c"],
                        "leaf": ["named-uuid", "l"]}, name="r"),
           ins("Root", {"name": "r2", "peers": ["named-uuid", "r"]})),
        tx(3, ins("Child", {"name": "orphan"})),
        tx(4, delete("Root", [["name", "==", "r"]])),
    ],
    # Several changes to one row within one transaction reach monitors as one net change.
    "monitor_txn_compositions": [
        SEED,
        req(2, "monitor_cond", DB, "c", {"Root": {}, "Pair": {}}, c=0),
        req(3, "monitor", DB, "m", {"Root": {"columns": ["name", "i", "iset", "smap"]}}, c=1),
        tx(4, ins("Root", {"name": "n", "i": 1}, name="n"),
           upd("Root", [["_uuid", "==", ["named-uuid", "n"]]], {"i": 2, "s": "x"}), c=9),
        tx(5, upd("Root", [["name", "==", "b"]], {"i": 50}), delete("Root", [["name", "==", "b"]]),
           c=9),
        tx(6, upd("Root", [["name", "==", "a"]], {"i": 7}), upd("Root", [["name", "==", "a"]],
                                                              {"i": 1}), c=9),
        tx(7, mut("Root", [["name", "==", "a"]], [["iset", "insert", 9], ["iset", "delete", 9]]),
           c=9),
        tx(8, mut("Root", [["name", "==", "a"]], [["iset", "delete", 1], ["iset", "insert", 1],
                                                  ["smap", "delete", ["set", ["k"]]],
                                                  ["smap", "insert", ["map", [["k", "z"]]]]]),
           c=9),
        tx(9, ins("Pair", {"a": "x", "b": 1}), upd("Pair", [["a", "==", "p"]], {"a": "p2"}),
           delete("Pair", [["a", "==", "x"]]), c=9),
        tx(10, upd("Root", [], {"s": "all"}), ins("Root", {"name": "z"}), c=9),
    ],
    "monitor_special_columns": [
        SEED,
        req(2, "monitor", DB, "a", {"Root": {"columns": ["_uuid", "name"]}}),
        req(3, "monitor_cond", DB, "b", {"Root": {"columns": ["_version"]}}),
        req(4, "monitor_cond", DB, "c", {"Root": {"columns": []}}),
        req(5, "monitor_cond", DB, "d", {"Root": {"columns": ["name", "name"]}}),
        req(6, "monitor_cond", DB, "e", {"Root": [{"columns": ["name"]},
                                                   {"columns": ["i"], "where": [True]}]}),
        CHANGES[1],
    ],
}
