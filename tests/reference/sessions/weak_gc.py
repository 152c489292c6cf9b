"""Sessions for weak references to rows that garbage collection removes in the same
commit (issue 19): deleted, or collected because the last strong reference went away,
directly or in a cascade; referring rows outside the transaction or modified in it,
before or after. See commit_checks.drop_late_weak_refs for what ovsdb-server 3.1 does."""

from tests.reference.sessions import tx
from tests.reference.sessions.errors import delete
from tests.reference.sessions.transact import ins, sel, upd

WEAK_COLS = ["name", "leaf", "peers"]
OWN = [["name", "==", "own"]]


def setup(i, n=""):
    """Leaf L held strongly by Child c, c held strongly by Root "own"; Root "w" refers to
    L weakly, Child c2 (held by "own") refers to Root "w" weakly.  ``n`` suffixes the
    names so that a session can build the chain twice."""
    return tx(i, ins("Leaf", {"tag": "L" + n}, name="l"),
              ins("Child", {"name": "c" + n, "leaf": ["named-uuid", "l"]}, name="c"),
              ins("Root", {"name": "w" + n, "leaf": ["named-uuid", "l"]}, name="w"),
              ins("Child", {"name": "c2" + n, "owner": ["named-uuid", "w"]}, name="c2"),
              ins("Root", {"name": "own" + n,
                           "children": ["set", [["named-uuid", "c"], ["named-uuid", "c2"]]]}))


def show(i):
    return tx(i, sel("Root", [], WEAK_COLS), sel("Child", [], ["name", "leaf", "owner"]),
              sel("Leaf", [], ["tag"]), sel("Holder", [], ["name", "must", "strong_leaf"]))


SESSIONS = {
    # The last strong reference removed by an update: c goes, then L in the cascade.
    "cascade_by_update": [
        setup(1), show(2),
        tx(3, upd("Root", OWN, {"children": ["set", []]})),
        show(4),
    ],
    # The holder deleted: the whole chain below it is collected.
    "cascade_by_delete": [
        setup(1),
        tx(2, delete("Root", OWN)),
        show(3),
    ],
    # The weak referrer is itself modified in the same transaction, before and after.
    "referrer_modified_too": [
        setup(1),
        tx(2, upd("Root", [["name", "==", "w"]], {"peers": ["set", []]}),
           upd("Root", OWN, {"children": ["set", []]})),
        show(3),
        setup(4, "2"),
        tx(5, upd("Root", [["name", "==", "own2"]], {"children": ["set", []]}),
           upd("Root", [["name", "==", "w2"]], {"peers": ["set", []]})),
        show(6),
    ],
    # A direct strong reference (Holder.strong_leaf) is the last one; a weak one stays.
    "direct_strong_dropped": [
        tx(1, ins("Leaf", {"tag": "M"}, name="m"),
           ins("Holder", {"name": "h", "must": ["named-uuid", "m"],
                          "strong_leaf": ["named-uuid", "m"]}),
           ins("Leaf", {"tag": "N"}, name="n"),
           ins("Root", {"name": "r", "leaf": ["named-uuid", "n"]}),
           ins("Holder", {"name": "h2", "must": ["named-uuid", "m"],
                          "strong_leaf": ["named-uuid", "n"]})),
        show(2),
        tx(3, upd("Holder", [["name", "==", "h2"]], {"strong_leaf": ["set", []]})),
        show(4),
    ],
    # A weak reference to a row collected because it never got a strong one, and to a
    # row that loses its only strong reference while gaining the weak one.
    "weak_added_to_garbage": [
        tx(1, ins("Leaf", {"tag": "lonely"}, name="l"),
           ins("Root", {"name": "r", "leaf": ["named-uuid", "l"]})),
        show(2),
        setup(3),
        tx(4, upd("Root", [["name", "==", "r"]], {"leaf": ["set", []]}),
           upd("Root", OWN, {"children": ["set", []]})),
        show(5),
    ],
    # Strong and weak references to the same row from different rows: the row stays
    # while any strong one does, and the weak one survives with it.
    "strong_remains": [
        setup(1),
        tx(2, ins("Child", {"name": "c3", "leaf": ["set", []]}, name="c3"),
           ins("Root", {"name": "keeper", "children": ["named-uuid", "c3"]})),
        tx(3, upd("Child", [["name", "==", "c3"]],
                  {"leaf": ["set", [["uuid", "00000000-0000-4000-8000-000000000000"]]]}),
           expect_error="referential integrity violation"),
        show(4),
    ],
    # A row weakly referred to by a collected row: the collected row's own weak
    # references go with it, the target stays.
    "collected_row_had_weak_refs": [
        setup(1),
        tx(2, upd("Root", OWN, {"children": ["set", []]}),
           delete("Root", [["name", "==", "w"]])),
        show(3),
    ],
    # The row that drops the last strong reference also holds the weak one (it is in
    # the transaction, visited before the collected rows): kept in a set column
    # (Holder.must), dropped from a column of one value (Root.leaf).
    "same_row_strong_and_weak": [
        tx(1, ins("Leaf", {"tag": "M"}, name="m"), ins("Leaf", {"tag": "N"}, name="n"),
           ins("Holder", {"name": "h", "must": ["set", [["named-uuid", "m"],
                                                        ["named-uuid", "n"]]],
                          "strong_leaf": ["named-uuid", "m"]}),
           ins("Holder", {"name": "h2", "must": ["named-uuid", "n"],
                          "strong_leaf": ["named-uuid", "n"]})),
        tx(2, upd("Holder", [["name", "==", "h"]], {"strong_leaf": ["set", []]})),
        show(3),
        tx(4, ins("Leaf", {"tag": "K"}, name="k"),
           ins("Child", {"name": "ck", "leaf": ["named-uuid", "k"]}, name="ck"),
           ins("Root", {"name": "self", "children": ["named-uuid", "ck"],
                        "leaf": ["named-uuid", "k"]})),
        tx(5, upd("Root", [["name", "==", "self"]], {"children": ["set", []]})),
        show(6),
    ],
    # Rows holding the weak reference are modified in the same transaction, before or
    # after the strong one goes: Root.leaf (at most one value) loses it either way;
    # Holder.must (a set) keeps it, dangling (3.1's quirk; test_weak_gc_vs_ovs.py).
    "other_referrer_in_txn": [
        tx(1, ins("Leaf", {"tag": "M"}, name="m"), ins("Leaf", {"tag": "N"}, name="n"),
           ins("Holder", {"name": "h", "must": ["set", [["named-uuid", "n"],
                                                        ["named-uuid", "m"]]],
                          "strong_leaf": ["named-uuid", "m"]}),
           ins("Holder", {"name": "h2", "must": ["named-uuid", "n"],
                          "strong_leaf": ["named-uuid", "n"]}),
           ins("Root", {"name": "r", "leaf": ["named-uuid", "m"]})),
        tx(2, upd("Root", [["name", "==", "r"]], {"s": "x"}),
           upd("Holder", [["name", "==", "h"]], {"strong_leaf": ["set", []]})),
        show(3),
        tx(4, ins("Leaf", {"tag": "P"}, name="p"),
           ins("Holder", {"name": "hp", "must": ["named-uuid", "n"],
                          "strong_leaf": ["named-uuid", "p"]}),
           ins("Root", {"name": "rp", "leaf": ["named-uuid", "p"]})),
        tx(5, upd("Holder", [["name", "==", "hp"]], {"strong_leaf": ["set", []]}),
           upd("Root", [["name", "==", "rp"]], {"s": "y"})),
        show(6),
    ],
}
