"""Sessions for lock, steal and unlock across connections, with the locked and
stolen notifications, and assert on a lock that moved."""

from tests.reference.sessions import req, tx

SESSIONS = {
    "lock_queue": [
        req(1, "lock", "L", c=0),
        req(2, "lock", "L", c=1),
        req(3, "lock", "L", c=2),
        req(4, "unlock", "L", c=0, await_note=[1, "locked"]),
        req(5, "unlock", "L", c=1, await_note=[2, "locked"]),
        req(6, "unlock", "L", c=2),
        req(7, "lock", "L", c=0),
    ],
    "lock_steal": [
        req(1, "lock", "L", c=0),
        req(2, "lock", "L", c=1),
        req(3, "steal", "L", c=2, await_note=[0, "stolen"]),
        tx(4, {"op": "assert", "lock": "L"}, c=0, expect_error="not owner"),
        tx(5, {"op": "assert", "lock": "L"}, c=2),
        req(6, "unlock", "L", c=0),
        req(7, "unlock", "L", c=2, await_note=[1, "locked"]),
        req(8, "steal", "L", c=1),
    ],
    "lock_errors": [
        req(1, "lock", "L"),
        req(2, "lock", "L"),
        req(3, "steal", "L"),
        req(4, "unlock", "M"),
        req(5, "lock"),
        req(6, "lock", 5),
        req(7, "lock", "L", "M"),
        req(8, "unlock", "L"),
        req(9, "unlock", "L"),
        req(10, "lock", ""),
        req(11, "lock", "with space"),
    ],
    "lock_released_on_disconnect": [
        req(1, "lock", "L", c=0),
        req(2, "lock", "L", c=1),
        {"c": 0, "close": True, "await_note": [1, "locked"]},
        tx(3, {"op": "assert", "lock": "L"}, c=1),
    ],
    "many_locks": [
        req(1, "lock", "A", c=0),
        req(2, "lock", "B", c=0),
        req(3, "lock", "B", c=1),
        req(4, "steal", "A", c=1, await_note=[0, "stolen"]),
        req(5, "unlock", "B", c=0, await_note=[1, "locked"]),
        tx(6, {"op": "assert", "lock": "A"}, {"op": "assert", "lock": "B"}, c=1),
    ],
}
