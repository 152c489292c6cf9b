"""The server's named locks (RFC 7047 section 4.1.8-4.1.10), as ovsdb-server keeps them.

Each lock has a queue of waiting sessions; the first is the owner.  ``lock`` joins at
the back, ``steal`` at the front; the session it displaces stays queued behind it and is
told ``stolen`` (and later ``locked`` again when the stealer lets go).  A session may
have one request per lock name at a time.

Pure: methods return the notifications to send as (session, method, lock name).
"""

from __future__ import annotations

from collections.abc import Hashable

Notice = tuple[Hashable, str, str]  # (session, "locked" | "stolen", lock name)


class LockTable:
    def __init__(self) -> None:
        self._queues: dict[str, list[Hashable]] = {}

    def owner(self, name: str) -> Hashable | None:
        queue = self._queues.get(name)
        return queue[0] if queue else None

    def owns(self, session: Hashable, name: str) -> bool:
        return self.owner(name) == session

    def has_request(self, session: Hashable, name: str) -> bool:
        return session in self._queues.get(name, ())

    def lock(self, session: Hashable, name: str) -> bool:
        """Queue ``session`` for ``name``; True if it owns the lock now."""
        queue = self._queues.setdefault(name, [])
        queue.append(session)
        return queue[0] == session

    def steal(self, session: Hashable, name: str) -> list[Notice]:
        queue = self._queues.setdefault(name, [])
        notices: list[Notice] = []
        if queue and queue[0] != session:
            notices.append((queue[0], "stolen", name))
        queue.insert(0, session)
        return notices

    def unlock(self, session: Hashable, name: str) -> list[Notice]:
        queue = self._queues.get(name, [])
        if session not in queue:
            return []
        was_owner = queue[0] == session
        queue.remove(session)
        if not queue:
            del self._queues[name]
            return []
        return [(queue[0], "locked", name)] if was_owner else []

    def drop_session(self, session: Hashable) -> list[Notice]:
        notices: list[Notice] = []
        for name in [n for n, q in self._queues.items() if session in q]:
            notices += self.unlock(session, name)
        return notices
