"""The server's named locks (RFC 7047 section 4.1.8-4.1.10), as ovsdb-server keeps them.

Each lock has a queue of waiting sessions; the first is the owner.  ``lock`` joins at
the back, ``steal`` at the front; the session it displaces stays queued behind it and is
told ``stolen`` (and later ``locked`` again when the stealer lets go).  A session may
have one request per lock name at a time.

One quirk of ovsdb-server 3.1 is reproduced on purpose, because clients see it: when a
session that joined with ``lock`` (not ``steal``) leaves the queue without owning the
lock (unlock or disconnect), the current owner is sent ``locked`` again although
nothing changed for it (seen with 3.1.0: owner A, waiters B and C, C unlocks -> A gets
"locked").  Leaving a ``steal`` request that does not own the lock sends nothing.

Pure: methods return the notifications to send as (session, method, lock name).
"""

from __future__ import annotations

from collections.abc import Hashable

Notice = tuple[Hashable, str, str]  # (session, "locked" | "stolen", lock name)


class LockTable:
    def __init__(self) -> None:
        # lock name -> [(session, mode)], owner first; mode is "lock" or "steal"
        self._queues: dict[str, list[tuple[Hashable, str]]] = {}

    def owner(self, name: str) -> Hashable | None:
        queue = self._queues.get(name)
        return queue[0][0] if queue else None

    def owns(self, session: Hashable, name: str) -> bool:
        return self.owner(name) == session

    def has_request(self, session: Hashable, name: str) -> bool:
        return any(s == session for s, _ in self._queues.get(name, ()))

    def lock(self, session: Hashable, name: str) -> bool:
        """Queue ``session`` for ``name``; True if it owns the lock now."""
        queue = self._queues.setdefault(name, [])
        queue.append((session, "lock"))
        return queue[0][0] == session

    def steal(self, session: Hashable, name: str) -> list[Notice]:
        queue = self._queues.setdefault(name, [])
        notices: list[Notice] = []
        if queue and queue[0][0] != session:
            notices.append((queue[0][0], "stolen", name))
        queue.insert(0, (session, "steal"))
        return notices

    def unlock(self, session: Hashable, name: str) -> list[Notice]:
        queue = self._queues.get(name, [])
        position = next((i for i, (s, _) in enumerate(queue) if s == session), None)
        if position is None:
            return []
        mode = queue.pop(position)[1]
        if not queue:
            del self._queues[name]
            return []
        if position == 0 or mode == "lock":
            return [(queue[0][0], "locked", name)]
        return []

    def drop_session(self, session: Hashable) -> list[Notice]:
        notices: list[Notice] = []
        for name in [n for n in self._queues if self.has_request(session, n)]:
            notices += self.unlock(session, name)
        return notices
