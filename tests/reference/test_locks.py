from reference.server.locks import LockTable


def test_lock_queue_and_handover():
    t = LockTable()
    assert t.lock("a", "L") is True
    assert t.lock("b", "L") is False
    assert t.unlock("a", "L") == [("b", "locked", "L")]
    assert t.owns("b", "L")


def test_steal_displaces_owner_who_stays_queued():
    t = LockTable()
    t.lock("a", "L")
    assert t.steal("b", "L") == [("a", "stolen", "L")]
    assert t.owns("b", "L") and t.has_request("a", "L")
    assert t.unlock("b", "L") == [("a", "locked", "L")]


def test_ovs_quirk_waiter_leaving_renotifies_owner():
    # ovsdb-server 3.1: a "lock" waiter leaving sends "locked" to the unchanged owner.
    t = LockTable()
    t.lock("a", "L")
    t.lock("b", "L")
    t.lock("c", "L")
    assert t.unlock("b", "L") == [("a", "locked", "L")]
    assert t.drop_session("c") == [("a", "locked", "L")]
    assert t.drop_session("a") == []
    assert t.owner("L") is None


def test_stealer_leaving_without_owning_sends_nothing():
    t = LockTable()
    t.lock("a", "L")
    t.steal("b", "L")
    t.steal("c", "L")
    assert t.unlock("b", "L") == []
    assert t.unlock("a", "L") == [("c", "locked", "L")]
