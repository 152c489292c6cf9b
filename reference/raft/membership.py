"""One-at-a-time membership changes, as OVS 3.1 does them (raft.c, Raft thesis 4.1).

Joining: a server made by ``join_state`` (join-cluster's header: no log, no cid) sends
add_server_request to every remote address each second; a non-leader answers "not
leader" with the addresses it knows; the leader catches the joiner up (append_request
"initialize new server", then install_snapshot and entries), appends a ``servers`` entry
with it (ChangeMembership) and, once that commits, answers success "completed".

Removing: ``kick(sid)`` on the leader, or remove_server_request from a member (a
follower's kick, or a member leaving), appends a ``servers`` entry without the target;
on commit the requester gets success "completed".  ``leave()`` hands leadership over
first when leading, then asks the leader to remove us each election timer; on success
the node writes the ``left`` note and goes inert.

A configuration takes effect when appended; the leader starts another change only when
no configuration entry is uncommitted.  This is a mixin of RaftNode: it reads and
changes the node's state through the node's own helpers.
"""

from __future__ import annotations

from typing import Any

from reference.raft import messages
from reference.raft.durable import DurableState
from reference.raft.log import RaftLog, Snapshot
from reference.raft.progress import LEADER, Peer
from reference.storage.cluster_records import Entry, Note

ZERO_EID = "00000000-0000-0000-0000-000000000000"
JOIN_RETRY_MS = 1000  # RAFT_JOIN_TIMEOUT_MS


def join_state(sid: str, name: str, address: str, remote_addresses: list[str],
               cid: str | None = None) -> DurableState:
    """What ``join-cluster`` leaves: identity and remotes, an empty log."""
    return DurableState(sid, cid, name, address, RaftLog(Snapshot(0, 0, ZERO_EID, {}, 0, None)),
                        remote_addresses=list(remote_addresses))


class Membership:
    """Membership state and handlers; RaftNode inherits them."""

    # Declared for readers; RaftNode sets them (see _init_membership).
    joining: bool
    remote_addresses: list[str]
    add_servers: dict[str, list[str]]      # sid -> [address, phase]
    remove_server: tuple[str, str | None] | None   # (target, requester) in progress
    leaving: bool
    left: bool

    def _init_membership(self: Any, state: DurableState) -> None:
        self.remote_addresses = list(state.remote_addresses)
        self.joining = bool(self.remote_addresses) and self.sid not in self.servers
        self.join_deadline = self.now
        self.add_servers = {}
        self.remove_server = None
        self.leaving = False
        self.left = False   # a file with the "left" note does not replay
        self.leave_deadline = 0

    # --- commands -----------------------------------------------------------------------

    def kick(self: Any, sid: str, requester: str | None = None) -> str:
        """cluster/kick on the leader: remove ``sid``.  Returns OVS's comment."""
        if self.role != LEADER:
            return "not leader"
        if sid not in self.servers:
            return "already not in cluster"
        if self.remove_server is not None or self._config_uncommitted():
            return "in progress"
        servers = {s: a for s, a in self.servers.items() if s != sid}
        if not servers:
            return "empty"
        self.remove_server = (sid, requester)
        self._change_membership(servers, removed=sid)
        return "in progress"

    def kick_via_leader(self: Any, sid: str) -> bool:
        """cluster/kick on a follower: ask the leader to remove ``sid``; False when no
        leader is known."""
        if self.leader_sid in (None, self.sid):
            return False
        self._send(messages.RemoveServerRequest(sender=self.sid, to=self.leader_sid,
                                                cluster=self.cid, server_id=sid,
                                                comment="via unixctl"))
        return True

    def leave(self: Any) -> None:
        """cluster/leave: hand leadership over if leading, then ask to be removed."""
        self.leaving = True
        if self.role == LEADER:
            self.transfer_leadership()
        self.leave_deadline = self.now

    # --- ticks --------------------------------------------------------------------------

    def _membership_tick(self: Any) -> None:
        if self.joining and self.now >= self.join_deadline:
            self.join_deadline = self.now + JOIN_RETRY_MS
            for address in sorted(set(self.remote_addresses)):
                self._send(messages.AddServerRequest(sender=self.sid, to=None, cluster=None,
                                              address=self.address), address=address)
        if self.leaving and not self.left and self.now >= self.leave_deadline:
            self.leave_deadline = self.now + self.election_timer
            if self.role == LEADER:
                self.transfer_leadership()
            for sid in sorted(self.servers):
                if sid != self.sid:
                    self._send(messages.RemoveServerRequest(sender=self.sid, to=sid,
                                                     cluster=self.cid, server_id=self.sid))

    # --- the leader's side --------------------------------------------------------------

    def _on_add_server_request(self: Any, rq: messages.AddServerRequest) -> None:
        def reply(success: bool, comment: str, addresses: bool = False) -> None:
            others = tuple(a for s, a in sorted(self.servers.items()) if s != self.sid)
            self._send(messages.AddServerReply(sender=self.sid, to=rq.sender, cluster=self.cid,
                                        success=success, comment=comment,
                                        remote_addresses=others if addresses else None))
        if self.role != LEADER:
            return reply(False, "not leader", addresses=True)
        if rq.sender in self.servers:
            return reply(True, "already in cluster")
        if self.remove_server is not None and self.remove_server[0] == rq.sender:
            return reply(False, "committing")
        if rq.sender in self.add_servers:
            return reply(False, "in progress")
        self.add_servers[rq.sender] = [rq.address, "catchup"]
        self._sync_peers()
        p = self.peers[rq.sender]
        self._send_append(p, [], comment="initialize new server")

    def _joiner_caught_up(self: Any, p: Peer) -> None:
        joiner = self.add_servers.get(p.sid)
        if (joiner is None or joiner[1] != "catchup" or p.match_index < self.log.last_index
                or self.remove_server is not None or self._config_uncommitted()):
            return
        joiner[1] = "committing"
        self._change_membership({**self.servers, p.sid: joiner[0]}, added=p.sid)

    def _on_remove_server_request(self: Any, rq: messages.RemoveServerRequest) -> None:
        status = self.kick(rq.server_id, requester=rq.sender)
        if status == "in progress" and self.remove_server == (rq.server_id, rq.sender):
            return  # ours: the reply comes when the new configuration commits
        self._send(messages.RemoveServerReply(
            sender=self.sid, to=rq.sender, cluster=self.cid,
            success=status == "already not in cluster",
            target_server=None if rq.server_id == rq.sender else rq.server_id,
            comment=status))

    def _change_membership(self: Any, servers: dict[str, str], **what: str) -> None:
        """ChangeMembership: append the new configuration (in force at once)."""
        index = self._append(Entry(self.term, self.log.end, servers=servers))
        self._event("ChangeMembership", index=index, servers=sorted(servers), **what)
        self._sync_peers()
        self._replicate_all()

    def _config_uncommitted(self: Any) -> bool:
        return any(self.log.entry(i).servers is not None
                   for i in range(self.commit_index + 1, self.log.end))

    def _sync_peers(self: Any) -> None:
        wanted = (set(self.servers) | set(self.add_servers)) - {self.sid}
        for sid in wanted - set(self.peers):
            self.peers[sid] = Peer(sid, self.log.end)
        for sid in set(self.peers) - wanted:
            del self.peers[sid]

    def _membership_committed(self: Any, first: int, last: int) -> None:
        """A committed configuration completes the change in progress."""
        if not any(self.log.entry(i).servers is not None for i in range(first, last + 1)
                   if i >= self.log.start):
            return
        committed = self.log.servers_through(last)
        if self.joining and self.sid in committed:
            self.joining = False
        if self.role != LEADER:
            return
        for sid, (_address, phase) in list(self.add_servers.items()):
            if phase == "committing" and sid in committed:
                del self.add_servers[sid]
                self._send(messages.AddServerReply(sender=self.sid, to=sid, cluster=self.cid,
                                            success=True, comment="completed"))
        if self.remove_server is not None and self.remove_server[0] not in committed:
            target, requester = self.remove_server
            self.remove_server = None
            if requester is not None:
                self._send(messages.RemoveServerReply(
                    sender=self.sid, to=requester, cluster=self.cid, success=True,
                    target_server=None if target == requester else target,
                    comment="completed"))
        if self.sid not in committed:
            self._become_follower()       # we removed ourselves: lead no more
            return
        self._sync_peers()
        for sid in sorted(self.add_servers):
            self._joiner_caught_up(self.peers[sid])

    # --- the joiner's and leaver's side -------------------------------------------------

    def _on_add_server_reply(self: Any, rpy: messages.AddServerReply) -> None:
        if not self.joining:
            return
        if rpy.success:
            self.joining = False
        elif rpy.remote_addresses:
            self.remote_addresses = sorted(set(self.remote_addresses)
                                           | set(rpy.remote_addresses))

    def _on_remove_server_reply(self: Any, rpy: messages.RemoveServerReply) -> None:
        if (self.leaving and rpy.success
                and rpy.target_server in (None, self.sid) and not self.left):
            self.left = True
            self._write(Note("left"))

    def _accepts_stranger(self: Any, msg: messages.Message) -> bool:
        """Messages from outside our configuration we still handle: join traffic, and,
        as raft.c (thesis 4.1), a leader's appends and snapshots: a leader our log does
        not know yet is how we learn of the configuration that has it.  Votes from
        outside the configuration are dropped, so a removed server cannot disrupt."""
        if self.joining or isinstance(msg, (messages.AddServerRequest, messages.AppendRequest,
                                            messages.InstallSnapshotRequest)):
            return True
        return msg.sender in self.add_servers
