"""Commands: proposals on the leader, forwarded commands from followers, and their
outcomes, as OVS 3.1 (raft.c's raft_command_*, execute_command_request/reply).

A leader appends a command if its prereq (when given) is the log's current eid,
uncommitted entries included, and answers "success" with the commit index once it
commits; meanwhile it repeats "operation still in progress" to the forwarding follower
with each heartbeat.  A follower forwards with prereq = the eid it last applied and
completes on the leader's final reply (a success waits until the follower itself has
the commit) or on seeing the eid commit in its own log; a lost forward is sent again,
with the same prereq, after an election timer; after twice the timer the outcome is
"timeout" (or "lost leadership" for an ex-leader's own command).  This is a mixin of
RaftNode.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from reference.raft import messages
from reference.raft.progress import LEADER, Command
from reference.raft.ready import (
    BAD_PREREQ,
    IN_PROGRESS,
    LOST_LEADERSHIP,
    NOT_LEADER,
    SUCCESS,
    TIMEOUT,
    CommandReply,
)
from reference.storage.cluster_records import Entry


class Commands:
    """Proposals and forwarded commands; RaftNode inherits them."""

    def propose(self: Any, data: Any, prereq: str | None, result: str) -> None:
        """Proposes ``data`` with eid ``result``; its outcome is a CommandReply keyed by
        ``result``.  ``prereq`` (None: no check) must equal the leader's current eid."""
        if self.role == LEADER:
            self.client_request(data, prereq, result, origin=None)
        elif self.leader_sid is not None and self.leader_sid != self.sid:
            cmd = Command(result, data, prereq or self.applied_eid, self.now, forwarded=True)
            self.commands[result] = cmd
            self.forward(cmd)
        else:
            self._reply(result, NOT_LEADER)

    def client_request(self: Any, data: Any, prereq: str | None, result: str,
                       origin: str | None) -> str | None:
        """Appends a command on the leader; returns the failure status, if any."""
        if prereq is not None and prereq != self.log.current_eid and not (
                origin is not None and "prereq_unchecked" in self.opts.bugs):
            return self._fail(result, origin, BAD_PREREQ)
        index = self._append(Entry(self.term, self.log.end, data, UUID(result)))
        self.commands[result] = Command(result, data, prereq, self.now, origin, index)
        self._event("ClientRequest", index=index, eid=result, origin=origin, prereq=prereq)
        self._replicate_all()
        return None

    def forward(self: Any, cmd: Command) -> None:
        """Forward: a follower sends a command to its leader."""
        assert self.leader_sid is not None
        cmd.sent_at = self.now
        self._event("Forward", leader=self.leader_sid, eid=cmd.result, prereq=cmd.prereq,
                    retry=cmd.retries)
        self._send(messages.ExecuteCommandRequest(sender=self.sid, to=self.leader_sid,
                                           cluster=self.cid, data=cmd.data,
                                           prereq=cmd.prereq, result=cmd.result))

    def _on_execute_command_request(self: Any, rq: messages.ExecuteCommandRequest) -> None:
        """HandleForward: the leader appends the command if the prereq is its current
        eid (uncommitted entries included)."""
        self._event("HandleForward", sender=rq.sender, eid=rq.result, prereq=rq.prereq,
                    current=self.log.current_eid)
        if self.role != LEADER:
            self._send_command_reply(rq.sender, rq.result, NOT_LEADER)
        elif rq.result in self.commands:
            pass  # a duplicate of a command in progress: its reply will come
        else:
            self.client_request(rq.data, rq.prereq, rq.result, origin=rq.sender)

    def _on_execute_command_reply(self: Any, rpy: messages.ExecuteCommandReply) -> None:
        cmd = self.commands.get(rpy.result)
        if cmd is None or not cmd.forwarded:
            return
        if rpy.status == IN_PROGRESS:
            cmd.timestamp = self.now
        elif rpy.status == SUCCESS:
            cmd.index = rpy.commit_index or 0
            if cmd.index <= self.commit_index:
                self._complete(cmd, SUCCESS, cmd.index)
        elif cmd.retries == 0:
            # A failure is final only for a command sent once: after a retry an
            # earlier copy may still commit, so only its commit or the timeout tell.
            self._complete(cmd, rpy.status)

    def _run_commands(self: Any) -> None:
        for cmd in list(self.commands.values()):
            if self.now - cmd.timestamp > 2 * self.election_timer:
                status = (LOST_LEADERSHIP if cmd.index and not cmd.forwarded
                          and self.role != LEADER else TIMEOUT)
                self._complete(cmd, status)
            elif (cmd.forwarded and not cmd.index and self.role != LEADER
                  and self.leader_sid not in (None, self.sid)
                  and self.now - cmd.sent_at >= self.election_timer):
                cmd.retries += 1
                if "forward_retry_after_commit" in self.opts.bugs:
                    cmd.prereq = self.applied_eid
                self.forward(cmd)

    def _send_command_reply(self: Any, to: str, result: str, status: str,
                            commit_index: int | None = None) -> None:
        self._send(messages.ExecuteCommandReply(sender=self.sid, to=to, cluster=self.cid,
                                         result=result, status=status,
                                         commit_index=commit_index))

    def _fail(self: Any, result: str, origin: str | None, status: str) -> str:
        if origin is None:
            self._reply(result, status)
        else:
            self._send_command_reply(origin, result, status)
        return status

    def _complete(self: Any, cmd: Command, status: str, commit_index: int = 0) -> None:
        self.commands.pop(cmd.result, None)
        if cmd.origin is not None:
            if self.role == LEADER:
                self._send_command_reply(cmd.origin, cmd.result, status,
                                         commit_index if status == SUCCESS else None)
        else:
            self._reply(cmd.result, status, commit_index)

    def _complete_committed_commands(self: Any, upto: int) -> None:
        # An installed snapshot jumps over entries without applying them one by one:
        # a forwarded command the leader already reported committed at an index the
        # snapshot covers is done.  (Others learn their fate from the timeout.)
        for cmd in list(self.commands.values()):
            if cmd.forwarded and cmd.index and cmd.index <= upto:
                self._complete(cmd, SUCCESS, cmd.index)

    def _reply(self: Any, result: str, status: str, commit_index: int = 0) -> None:
        self._ready.replies.append(CommandReply(result, status, commit_index))
