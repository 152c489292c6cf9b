"""Sessions for transact: every op, every mutator, every where function."""

from tests.reference.sessions import req, tx

U1 = "11111111-2222-4333-8444-555555555555"
U2 = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
Z3 = "00000000-0000-4000-8000-000000000003"


def ins(table, row, name=None, uuid=None):
    op = {"op": "insert", "table": table, "row": row}
    if name:
        op["uuid-name"] = name
    if uuid:
        op["uuid"] = uuid
    return op


def sel(table, where=(), columns=None):
    op = {"op": "select", "table": table, "where": list(where)}
    if columns is not None:
        op["columns"] = columns
    return op


def mut(table, where, mutations):
    return {"op": "mutate", "table": table, "where": where, "mutations": mutations}


def upd(table, where, row):
    return {"op": "update", "table": table, "where": where, "row": row}


FULL_ROW = {
    "name": "full", "i": 7, "r": 2.5, "b": True, "s": "abc", "u": ["uuid", U1],
    "color": "green", "opt_i": ["set", [3]], "opt_s": "o", "iset": ["set", [1, 2, 3]],
    "sset": ["set", ["a", "b"]], "rset": ["set", [1.5, -2.0]],
    "smap": ["map", [["k1", "v1"], ["k2", "v2"]]], "imap": ["map", [[1, "x"], [2, "y"]]],
    "bmap": ["map", [[True, 1.0], [False, 0.0]]], "frozen": 42, "eph": "e",
}
NAME_FULL = [["name", "==", "full"]]

SESSIONS = {
    "insert_select_all": [
        tx(1, ins("Root", FULL_ROW)),
        tx(2, sel("Root")),
        tx(3, sel("Root", columns=["name", "iset", "smap", "_uuid", "_version"])),
        tx(4, sel("Root", columns=[])),
    ],
    "insert_defaults": [
        tx(1, ins("Root", {"name": "d"}), ins("Child", {}), ins("Leaf", {})),
        tx(2, sel("Root"), sel("Child"), sel("Leaf")),
    ],
    "insert_explicit_uuid": [
        tx(1, ins("Root", {"name": "x"}, uuid=U1)),
        tx(2, sel("Root", [["_uuid", "==", ["uuid", U1]]], ["name"])),
        tx(3, ins("Root", {"name": "y"}, uuid=U1), expect_error="duplicate uuid"),
        tx(4, ins("Leaf", {}, uuid=U2), ins("Leaf", {}, uuid=U2),
           expect_error="duplicate uuid"),
        tx(5, ins("Root", {"name": "z"}, uuid="not-a-uuid")),
        tx(6, ins("Root", {"name": "z2"}, name="n", uuid=U2),
           upd("Root", [["_uuid", "==", ["named-uuid", "n"]]], {"i": 1}),
           sel("Root", [["name", "==", "z2"]], ["_uuid", "i"])),
    ],
    "named_uuid_references": [
        tx(1, ins("Leaf", {"tag": "l"}, name="leaf"),
           ins("Child", {"name": "c", "leaf": ["named-uuid", "leaf"]}, name="child"),
           ins("Root", {"name": "r", "children": ["named-uuid", "child"],
                        "leaf": ["named-uuid", "leaf"],
                        "named_children": ["map", [["one", ["named-uuid", "child"]]]]},
               name="root"),
           ins("Root", {"name": "r2", "peers": ["set", [["named-uuid", "root"]]]})),
        tx(2, sel("Root", [], ["name", "children", "leaf", "peers", "named_children"]),
           sel("Child", [], ["name", "leaf"])),
        tx(3, ins("Leaf", {}, name="dup"), ins("Leaf", {}, name="dup"),
           expect_error="duplicate uuid-name"),
        tx(4, ins("Root", {"name": "q", "leaf": ["named-uuid", "nope"]})),
        tx(5, ins("Root", {"name": "q", "children": ["named-uuid", "nope"]})),
    ],
    "select_where_functions": [
        tx(1, ins("Root", {"name": "a", "i": 1, "r": 1.0, "iset": ["set", [1, 2]],
                           "smap": ["map", [["k", "v"]]], "opt_i": 5, "b": True}),
           ins("Root", {"name": "b", "i": 5, "r": 5.5, "iset": ["set", [2, 3]],
                        "smap": ["map", [["k", "w"], ["j", "v"]]]}),
           ins("Root", {"name": "c", "i": -3, "s": "zz"})),
        *[tx(10 + n, sel("Root", [w], ["name"])) for n, w in enumerate([
            ["i", "<", 5], ["i", "<=", 5], ["i", ">", 1], ["i", ">=", 1], ["i", "==", 5],
            ["i", "!=", 5], ["r", "<", 5.5], ["r", ">=", 1], ["name", "<", "b"],
            ["name", "includes", "a"], ["name", "excludes", "a"],
            ["iset", "includes", ["set", [2]]], ["iset", "includes", ["set", [1, 2]]],
            ["iset", "excludes", ["set", [1]]], ["iset", "==", ["set", [2, 3]]],
            ["iset", "!=", ["set", []]], ["smap", "includes", ["map", [["k", "v"]]]],
            ["smap", "excludes", ["map", [["k", "v"]]]], ["smap", "==", ["map", []]],
            ["opt_i", "==", 5], ["opt_i", "<", 10], ["opt_i", "!=", ["set", []]],
            ["b", "==", True], ["b", "!=", False], ["s", ">", ""],
        ])],
        tx(40, sel("Root", [["i", ">", 0], ["i", "<", 5]], ["name"])),
        tx(41, sel("Root", [["iset", "<", ["set", [2]]]], ["name"])),
        tx(42, sel("Root", [["b", "<", True]], ["name"])),
        tx(43, sel("Root", [["name", "~=", "a"]], ["name"])),
    ],
    # How many elements a where argument may hold (ovsdb-server 3.1, as in monitors):
    # "excludes" any number, even more than the column can hold; "includes", "==" and
    # "!=" at most the column's maximum; a scalar column exactly one.
    "where_argument_sizes": [
        tx(1, ins("Root", {"name": "a", "sset": ["set", ["x"]], "opt_i": 3,
                           "imap": ["map", [[1, "x"]]], "color": "red"}),
           ins("Root", {"name": "b", "sset": ["set", ["p", "q", "r"]]}),
           ins("Leaf", {"tag": "l"}, name="l"),
           ins("Holder", {"name": "h", "must": ["named-uuid", "l"]})),
        *[tx(10 + n, sel(t, [w], ["name"])) for n, (t, w) in enumerate([
            ("Root", ["sset", "excludes", ["set", ["x", "y", "z", "w"]]]),
            ("Root", ["sset", "excludes", ["set", ["p", "y", "z", "w", "v"]]]),
            ("Root", ["imap", "excludes", ["map", [[1, "x"], [2, "y"], [3, "z"], [4, "x"]]]]),
            ("Root", ["imap", "excludes", ["map", [[1, "y"], [2, "y"], [3, "z"], [4, "x"]]]]),
            ("Root", ["opt_i", "excludes", ["set", [3, 4]]]),
            ("Root", ["color", "excludes", ["set", ["green", "blue"]]]),
            ("Holder", ["must", "excludes", ["set", [["uuid", U1], ["uuid", U2],
                                                     ["uuid", Z3]]]]),
            ("Root", ["rset", "excludes", ["set", []]]),
            ("Root", ["sset", "includes", ["set", ["x", "y", "z", "w"]]]),
            ("Root", ["imap", "includes", ["map", [[1, "x"], [2, "y"], [3, "z"], [4, "x"]]]]),
            ("Root", ["opt_i", "includes", ["set", [3, 4]]]),
            ("Holder", ["must", "includes", ["set", [["uuid", U1], ["uuid", U2],
                                                     ["uuid", Z3]]]]),
            ("Root", ["sset", "==", ["set", ["x", "y", "z", "w"]]]),
            ("Root", ["sset", "!=", ["set", ["x", "y", "z", "w"]]]),
            ("Root", ["i", "excludes", ["set", [1, 2]]]),
            ("Root", ["i", "excludes", ["set", []]]),
            ("Root", ["imap", "excludes", ["set", [1]]]),
            ("Root", ["color", "excludes", ["set", ["red", "purple"]]]),
        ])],
        tx(40, {"op": "wait", "table": "Root", "timeout": 0, "columns": ["name"],
                "until": "==", "rows": [{"name": "b"}],
                "where": [["sset", "excludes", ["set", ["x", "y", "z", "w"]]]]}),
        tx(41, {"op": "wait", "table": "Root", "timeout": 0, "columns": ["name"],
                "until": "==", "rows": [],
                "where": [["sset", "includes", ["set", ["x", "y", "z", "w"]]]]}),
        tx(42, upd("Root", [["opt_i", "excludes", ["set", [3, 4]]]], {"i": 5}),
           mut("Root", [["sset", "excludes", ["set", ["p", "q", "r", "s"]]]],
               [["i", "+=", 1]]),
           {"op": "delete", "table": "Root",
            "where": [["imap", "excludes", ["map", [[1, "x"], [2, "y"], [3, "z"], [4, "x"]]]],
                      ["name", "==", "nobody"]]},
           sel("Root", [], ["name", "i"])),
    ],
    "update": [
        tx(1, ins("Root", {"name": "a", "i": 1}), ins("Root", {"name": "b", "i": 2})),
        tx(2, upd("Root", [["i", ">", 0]], {"s": "new", "iset": ["set", [9]]})),
        tx(3, upd("Root", [["name", "==", "a"]], {"smap": ["map", [["x", "y"]]],
                                                 "opt_i": ["set", []]})),
        tx(4, upd("Root", [["name", "==", "zzz"]], {"i": 3})),
        tx(5, upd("Root", [], {"i": 3}), sel("Root", [], ["name", "i", "s", "iset"])),
        tx(6, upd("Root", [], {"frozen": 1}), expect_error="constraint violation"),
        tx(7, upd("Root", [], {"_uuid": ["uuid", U1]})),
        tx(8, upd("Root", [], {"_version": ["uuid", U1]})),
        tx(9, upd("Root", [], {"nope": 1}), expect_error="unknown column"),
        tx(10, upd("Root", [["name", "==", "b"]], {"name": "a"}),
           expect_error="constraint violation"),
        tx(11, upd("Root", [["name", "==", "b"]], {"i": 2}), upd("Root", [], {"i": 2})),
    ],
    "mutate_integers": [
        tx(1, ins("Root", {"name": "a", "i": 10, "iset": ["set", [1, 5]],
                           "opt_i": 4})),
        *[tx(10 + n, mut("Root", [], [m]), sel("Root", [], ["i", "iset", "opt_i"]))
          for n, m in enumerate([
              ["i", "+=", 5], ["i", "-=", 3], ["i", "*=", 4], ["i", "/=", 3],
              ["i", "%=", 7], ["i", "/=", -2], ["i", "%=", -3], ["iset", "+=", 2],
              ["iset", "*=", 3], ["iset", "-=", 1], ["iset", "/=", 2], ["iset", "%=", 4],
              ["opt_i", "+=", 1], ["iset", "insert", ["set", [100, 200]]],
              ["iset", "delete", ["set", [100, 7]]], ["iset", "insert", 3],
              ["iset", "delete", 3],
          ])],
        tx(40, mut("Root", [], [["i", "/=", 0]]), expect_error="domain error"),
        tx(41, mut("Root", [], [["i", "%=", 0]]), expect_error="domain error"),
        tx(42, mut("Root", [], [["i", "+=", 5000]]), expect_error="constraint violation"),
        tx(43, mut("Root", [], [["i", "*=", 9223372036854775807]])),
        tx(44, mut("Root", [], [["i", "+=", 1.5]])),
        tx(45, mut("Root", [], [["i", "frob", 1]])),
        tx(46, mut("Root", [], [["name", "+=", "x"]])),
        tx(47, mut("Root", [], [["frozen", "+=", 1]]), expect_error="constraint violation"),
        tx(48, mut("Root", [], [["_uuid", "+=", 1]])),
        tx(49, mut("Root", [], [["iset", "+=", 9223372036854775807]]),
           expect_error="range error"),
    ],
    "mutate_reals_strings_maps": [
        tx(1, ins("Root", {"name": "a", "r": 2.0, "rset": ["set", [1.0, 2.0]],
                           "sset": ["set", ["a"]], "smap": ["map", [["k", "v"]]],
                           "imap": ["map", [[1, "x"]]]})),
        *[tx(10 + n, mut("Root", [], [m]),
             sel("Root", [], ["r", "rset", "sset", "smap", "imap", "bmap"]))
          for n, m in enumerate([
              ["r", "+=", 0.5], ["r", "-=", 1], ["r", "*=", 3], ["r", "/=", 4],
              ["rset", "*=", 2.0], ["sset", "insert", ["set", ["b", "c"]]],
              ["sset", "delete", "a"], ["smap", "insert", ["map", [["k", "new"], ["j", "w"]]]],
              ["smap", "delete", ["set", ["j"]]], ["smap", "delete", ["map", [["k", "other"]]]],
              ["smap", "delete", ["map", [["k", "v"]]]], ["imap", "insert", ["map", [[2, "y"]]]],
              ["bmap", "insert", ["map", [[True, 1.5]]]], ["imap", "delete", 1],
          ])],
        tx(40, mut("Root", [], [["r", "%=", 2.0]])),
        tx(41, mut("Root", [], [["r", "/=", 0.0]]), expect_error="domain error"),
        tx(42, mut("Root", [], [["r", "+=", 1e9]]), expect_error="constraint violation"),
        tx(43, mut("Root", [], [["sset", "insert", ["set", ["p", "q", "r", "s"]]]]),
           expect_error="syntax error"),
        tx(44, mut("Root", [], [["imap", "insert", ["map", [[3, "z"], [4, "x"], [5, "y"]]]]]),
           expect_error="constraint violation"),
        tx(45, mut("Root", [], [["imap", "insert", ["map", [[3, "w"]]]]]),
           expect_error="constraint violation"),
        tx(46, mut("Root", [], [["rset", "delete", ["set", [2.0, 4.0]]]])),
        tx(47, mut("Root", [], [["rset", "delete", ["set", [0.0, 1.0, 2.0, 4.0]]]])),
        tx(48, mut("Root", [], [["smap", "+=", "x"]])),
        tx(49, mut("Root", [], [["r", "+=", -1e300], ["r", "*=", 1e300]])),
    ],
    "delete": [
        tx(1, ins("Root", {"name": "a", "i": 1}), ins("Root", {"name": "b", "i": 2}),
           ins("Root", {"name": "c", "i": 3})),
        tx(2, {"op": "delete", "table": "Root", "where": [["i", ">=", 2]]}),
        tx(3, {"op": "delete", "table": "Root", "where": [["i", ">=", 2]]}),
        tx(4, sel("Root", [], ["name"])),
        tx(5, {"op": "delete", "table": "Root", "where": []}, sel("Root")),
        tx(6, ins("Root", {"name": "a"}, name="x"),
           {"op": "delete", "table": "Root", "where": [["_uuid", "==", ["named-uuid", "x"]]]},
           sel("Root")),
    ],
    "wait_immediate": [
        tx(1, ins("Root", {"name": "a", "i": 1}), ins("Root", {"name": "b", "i": 2})),
        tx(2, {"op": "wait", "table": "Root", "where": [], "columns": ["name"],
               "until": "==", "rows": [{"name": "a"}, {"name": "b"}], "timeout": 0}),
        tx(3, {"op": "wait", "table": "Root", "where": [], "columns": ["name"],
               "until": "==", "rows": [{"name": "b"}, {"name": "a"}], "timeout": 0}),
        tx(4, {"op": "wait", "table": "Root", "where": [], "columns": ["name"],
               "until": "==", "rows": [{"name": "a"}], "timeout": 0},
           expect_error="timed out"),
        tx(5, {"op": "wait", "table": "Root", "where": [["i", "==", 1]], "columns": ["name"],
               "until": "!=", "rows": [{"name": "zz"}], "timeout": 0}),
        tx(6, {"op": "wait", "table": "Root", "where": [], "columns": ["name", "i"],
               "until": "!=", "rows": [{"name": "a", "i": 1}, {"name": "b", "i": 2}],
               "timeout": 0}, expect_error="timed out"),
        tx(7, {"op": "wait", "table": "Root", "where": [], "columns": ["name"],
               "until": "<", "rows": [], "timeout": 0}),
        tx(8, {"op": "wait", "table": "Root", "where": [], "until": "==",
               "rows": [{"name": "a"}], "timeout": 0}),
        tx(9, {"op": "wait", "table": "Root", "where": [], "columns": ["nope"],
               "until": "==", "rows": [], "timeout": 0}),
        tx(10, {"op": "wait", "table": "Root", "where": [], "columns": ["name"],
                "until": "==", "rows": [{"name": "a", "i": 1}], "timeout": 0}),
    ],
    "wait_blocking_released": [
        tx(1, ins("Root", {"name": "a", "i": 1})),
        tx(2, {"op": "wait", "table": "Root", "where": [["name", "==", "a"]],
               "columns": ["i"], "until": "==", "rows": [{"i": 2}]},
           {"op": "mutate", "table": "Root", "where": [], "mutations": [["i", "+=", 10]]},
           noreply=True),
        tx(3, upd("Root", [], {"s": "x"}), c=1),
        tx(4, upd("Root", [], {"i": 2}), c=1, await_reply=[0, 2]),
        tx(5, sel("Root", [], ["i", "s"]), c=1),
    ],
    "wait_blocking_timeout": [
        tx(1, ins("Root", {"name": "a", "i": 1})),
        tx(2, {"op": "wait", "table": "Root", "where": [], "columns": ["i"],
               "until": "!=", "rows": [{"i": 1}], "timeout": 50}, await_reply=[0, 2],
           noreply=True),
    ],
    "wait_cancel_unaware": [
        tx(1, ins("Root", {"name": "a", "i": 1})),
        tx(2, {"op": "wait", "table": "Root", "where": [], "columns": ["i"],
               "until": "==", "rows": [{"i": 5}]}, noreply=True),
        {"c": 0, "send": {"method": "cancel", "params": [2], "id": None}},
        req(3, "list_dbs"),
        tx(4, upd("Root", [], {"i": 5}), c=1),
    ],
    "wait_cancel_aware": [
        req(0, "set_db_change_aware", True),
        tx(1, ins("Root", {"name": "a", "i": 1})),
        tx(2, {"op": "wait", "table": "Root", "where": [], "columns": ["i"],
               "until": "==", "rows": [{"i": 5}]}, noreply=True),
        {"c": 0, "send": {"method": "cancel", "params": [2], "id": None},
         "await_reply": [0, 2]},
        {"c": 0, "send": {"method": "cancel", "params": [77], "id": None}},
        req(5, "cancel", 2),
    ],
    "commit_abort_comment": [
        tx(1, ins("Root", {"name": "a"}), {"op": "commit", "durable": False}),
        tx(2, ins("Root", {"name": "b"}), {"op": "commit", "durable": True}),
        tx(3, {"op": "commit", "durable": "yes"}),
        tx(4, ins("Root", {"name": "c"}), {"op": "abort"}, ins("Root", {"name": "d"}),
           expect_error="aborted"),
        tx(5, {"op": "comment", "comment": "hello"}, ins("Root", {"name": "e"})),
        tx(6, {"op": "comment", "comment": 5}),
        tx(7, {"op": "comment"}),
        tx(8, sel("Root", [], ["name"])),
        tx(9),
        tx(10, {"op": "commit"}),
    ],
    "assert_lock": [
        tx(1, {"op": "assert", "lock": "L"}, ins("Root", {"name": "a"}),
           expect_error="not owner"),
        req(2, "lock", "L"),
        tx(3, {"op": "assert", "lock": "L"}, ins("Root", {"name": "a"})),
        tx(4, {"op": "assert", "lock": "L"}, c=1, expect_error="not owner"),
        tx(5, {"op": "assert"}),
        tx(6, {"op": "assert", "lock": 7}),
        tx(7, sel("Root", [], ["name"])),
    ],
    "multi_op_mix": [
        tx(1, ins("Root", {"name": "a", "i": 1}, name="a"),
           mut("Root", [["_uuid", "==", ["named-uuid", "a"]]], [["i", "+=", 1]]),
           upd("Root", [["name", "==", "a"]], {"s": "up"}),
           sel("Root", [], ["name", "i", "s"]),
           {"op": "delete", "table": "Root", "where": [["name", "==", "a"]]},
           sel("Root", [], ["name"])),
        tx(2, sel("Root", [], ["name"])),
    ],
    "noop_transactions": [
        tx(1, ins("Root", {"name": "a", "i": 1})),
        tx(2, upd("Root", [], {"i": 1})),
        tx(3, mut("Root", [], [["i", "+=", 0]])),
        tx(4, sel("Root", [], ["i"])),
    ],
    "edge_cases": [
        tx(1, ins("Root", {"name": "a"}, uuid=U1), ins("Child", {"name": "c"}, name="c"),
           upd("Root", [], {"children": ["named-uuid", "c"]})),
        tx(2, {"op": "delete", "table": "Root", "where": [["_uuid", "==", ["uuid", U1]]]},
           ins("Root", {"name": "a2"}, uuid=U1)),
        tx(3, sel("Root", [], ["name", "name", "_uuid"])),
        tx(4, ins("Root", {"name": "v", "_version": ["uuid", U2]})),
        tx(5, {"op": "delete", "table": "Child", "where": []},
           upd("Root", [], {"children": ["set", []]})),
        tx(6, sel("Child", [], ["name"]), sel("Root", [], ["name", "children"])),
        tx(7, mut("Root", [], [["smap", "delete", ["map", [["k", 1]]]]])),
        tx(8, mut("Root", [], [["smap", "insert", ["set", ["k"]]]])),
        tx(9, mut("Root", [], [["iset", "insert", ["map", [[1, 2]]]]])),
        tx(10, mut("Root", [], [])),
        tx(11, mut("Root", [], [["i", "+=", 1], ["i", "*=", 2], ["i", "-=", 1]]),
           sel("Root", [], ["i"])),
        tx(12, upd("Root", [], {})),
        tx(13, {"op": "wait", "table": "Root", "where": [], "columns": ["name"], "until": "==",
                "rows": [{"name": "a2", "i": 1}], "timeout": 0}),
        tx(14, ins("Root", {"name": "w", "peers": ["set", [["uuid", U1], ["uuid", U2]]]})),
        tx(15, sel("Root", [["name", "==", "w"]], ["peers"])),
        tx(16, {"op": "select", "table": "Root", "where": [["name", "==", "w"]],
                "columns": ["peers"], "extra": True}),
        tx(17, ins("Root", {"name": "m", "named_children": ["map", [["x", ["named-uuid", "q"]]]]}),
           ins("Child", {"name": "q"}, name="q")),
        tx(18, sel("Root", [["name", "==", "m"]], ["named_children"]), sel("Child", [], ["name"])),
    ],
    # Several blocked transactions released by one commit, one of which then fails.
    "wait_blocking_several": [
        tx(1, ins("Root", {"name": "a", "i": 1}), ins("Pair", {"a": "p", "b": 1})),
        req(2, "monitor_cond", "Crucible", "m", {"Root": {"columns": ["name", "i"]}}, c=3),
        tx(3, {"op": "wait", "table": "Root", "where": [], "columns": ["i"], "until": "==",
               "rows": [{"i": 2}]}, mut("Root", [], [["i", "+=", 10]]), noreply=True, c=0),
        tx(4, {"op": "wait", "table": "Root", "where": [], "columns": ["i"], "until": "!=",
               "rows": [{"i": 1}]}, ins("Pair", {"a": "p", "b": 1}), noreply=True, c=1),
        tx(5, {"op": "wait", "table": "Root", "where": [["name", "==", "a"]],
               "columns": ["name", "i"], "until": "==", "rows": [{"name": "a", "i": 2}],
               "timeout": 300}, sel("Root", [], ["i"]), noreply=True, c=2),
        # Released in the order they blocked: the first one moves i on, so the third
        # finds its condition false again and times out.
        tx(6, upd("Root", [], {"i": 2}), c=4, await_reply=[[1, 4], [0, 3]]),
        {"c": 4, "send": {"method": "echo", "params": [], "id": "sync"},
         "await_reply": [2, 5]},
        tx(7, sel("Root", [], ["i"]), sel("Pair", [], ["a", "b"]), c=4),
    ],
    # Monitors see a commit that releases blocked transactions merged with the commits
    # they make: every session but the committer gets one update2 (i=112), before the
    # released transactions' replies; the committer gets its own (i=2) before its
    # reply, then the re-runs' merged.
    "wait_release_merges_monitor_updates": [
        tx(1, ins("Root", {"name": "a", "i": 1})),
        *[req(f"m{c}", "monitor_cond", "Crucible", f"m{c}",
              {"Root": {"columns": ["name", "i"]}}, c=c) for c in range(4)],
        tx(3, {"op": "wait", "table": "Root", "where": [], "columns": ["i"], "until": "==",
               "rows": [{"i": 2}]}, mut("Root", [], [["i", "+=", 10]]), noreply=True, c=1),
        tx(4, {"op": "wait", "table": "Root", "where": [], "columns": ["i"], "until": "==",
               "rows": [{"i": 12}]}, mut("Root", [], [["i", "+=", 100]]), noreply=True, c=2),
        tx(6, upd("Root", [], {"i": 2}), c=3, await_reply=[[1, 3], [2, 4]]),
        {"c": 0, "send": {"method": "echo", "params": [], "id": "sync"}},
        tx(7, upd("Root", [], {"i": 5}), c=0),
        tx(8, sel("Root", [], ["i"]), c=3),
    ],
    # A request id still in use by a blocked transaction.
    "wait_blocking_duplicate_id": [
        tx(1, ins("Root", {"name": "a"})),
        tx("dup", {"op": "wait", "table": "Root", "where": [], "columns": ["i"],
                   "until": "==", "rows": [{"i": 5}]}, noreply=True),
        tx("dup", {"op": "wait", "table": "Root", "where": [], "columns": ["i"],
                   "until": "==", "rows": [{"i": 5}]}, expect_error="syntax error"),
        tx(9, upd("Root", [], {"i": 5}), c=1, await_reply=[0, "dup"]),
        req("dup", "echo", "x"),
    ],
}
