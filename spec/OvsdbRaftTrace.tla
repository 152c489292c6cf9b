---------------------------- MODULE OvsdbRaftTrace ----------------------------
(***************************************************************************)
(* Trace validation for OvsdbRaft.  RaftTraceData (written into a temp     *)
(* folder by harness/spec/raft_trace_validation.py) holds the events the   *)
(* sans-I/O node (reference/raft/node.py) logged in a simulated cluster,   *)
(* as the sequence Trace.  A cursor i walks it: each step is the spec      *)
(* action the event names, taken by the event's server with the event's    *)
(* parameters, and the event's outputs (term and role after, grants, ok,   *)
(* the commit index reached, eids) must equal what the spec computes.      *)
(*                                                                         *)
(* The spec's variables are the node's state (term, vote, role, log with   *)
(* the snapshot kept whole, commit index, votes, the leader's match        *)
(* indexes).  The network differs: the simulator drops, duplicates,        *)
(* delays and reorders, so msgs here is the history of every message sent *)
(* (never emptied) and a handler needs only a matching message in it.      *)
(* Messages the node sends without a spec action (refusals: stale term,    *)
(* usurped leadership) are not in msgs; a StepDown they cause is checked   *)
(* against the highest term any server held (topTerm).  A step sends what  *)
(* the node sends in one go: Timeout asks every member for its vote,       *)
(* AppendEntries carries a batch of n entries (a heartbeat when n = 0),    *)
(* BecomeLeader appends the no-op.                                         *)
(*                                                                         *)
(* Accepted iff the cursor reaches the end (NotDone violated, exit 12); a  *)
(* trace whose run breaks ElectionSafety, StateMachineSafety,              *)
(* LeaderCompleteness or ForwardOnce is rejected after the event that      *)
(* broke it; otherwise TLC stops at the first event no step can take.      *)
(***************************************************************************)
EXTENDS OvsdbRaft, RaftTraceData

VARIABLES i,        \* the cursor: events replayed
          elected,  \* ghost: <<term, server>> for every BecomeLeader
          topTerm   \* ghost: the highest term any server held

E == Trace[i + 1]
S == E.server

NoopEntry(t) == [term |-> t, type |-> "noop", cmd |-> 0, conf |-> {}]

\* The eid of the last data entry at or before k (the bootstrap entry holds the
\* genesis eid): a forward's prerequisite, and what the leader checks it against.
RECURSIVE EidBack(_, _)
EidBack(lg, k) == IF k = 0 THEN 0 ELSE IF lg[k].cmd # 0 THEN lg[k].cmd ELSE EidBack(lg, k - 1)
CurrentEid(s) == EidBack(log[s], LastIndex(s))
AppliedEid(s) == EidBack(log[s], commitIndex[s])

\* The first of the n entries (1-based) that is past the end of lg or conflicts.
RECURSIVE FirstConflict(_, _, _, _)
FirstConflict(lg, prev, ents, k) ==
    IF k > Len(ents) THEN 0
    ELSE IF prev + k > Len(lg) \/ lg[prev + k].term # ents[k].term THEN k
    ELSE FirstConflict(lg, prev, ents, k + 1)

\* raft.c's append: entries the log already holds (same index and term) are kept,
\* the log is cut at the first conflict and the rest appended; nothing past the
\* request's last entry is cut when there is no conflict.
Merge(lg, prev, ents) ==
    LET k == FirstConflict(lg, prev, ents, 1)
    IN IF k = 0 THEN lg ELSE SubSeq(lg, 1, prev + k - 1) \o SubSeq(ents, k, Len(ents))

\* The vote requests a (pre-)candidate sends to every other member at once.
SendVotes(s, pre, term) ==
    msgs' = msgs \cup {[type |-> "rv", prevote |-> pre, term |-> term,
                        lastTerm |-> LastTerm(s), lastIndex |-> LastIndex(s),
                        src |-> s, dst |-> t] : t \in Config(s) \ {s}}

Stand(s) ==
    /\ state' = [state EXCEPT ![s] = "Candidate"]
    /\ currentTerm' = [currentTerm EXCEPT ![s] = @ + 1]
    /\ votedFor' = [votedFor EXCEPT ![s] = s]
    /\ votes' = [votes EXCEPT ![s] = {s}]
    /\ SendVotes(s, FALSE, currentTerm[s] + 1)

\* A message of a newer term: the receiver takes the term, forgets its vote and
\* becomes a follower (the vote handlers do it themselves, with no StepDown event).
TakeTerm(s, t) ==
    IF t > currentTerm[s]
    THEN /\ currentTerm' = [currentTerm EXCEPT ![s] = t]
         /\ votedFor' = [votedFor EXCEPT ![s] = Nil]
         /\ state' = [state EXCEPT ![s] = "Follower"]
    ELSE UNCHANGED <<currentTerm, votedFor, state>>

Keep == UNCHANGED <<nextIndex, pending, submitted, restarts, retries>>

-----------------------------------------------------------------------------
(* One step per event. *)

TimeoutStep ==
    /\ state[S] \in {"Follower", "PreCandidate", "Candidate"}
    /\ S \in Config(S)
    /\ IF E.prevote
       THEN \* OVS pre-vote: the request carries the current term; nothing moves yet.
            /\ state' = [state EXCEPT ![S] = "PreCandidate"]
            /\ prevotes' = [prevotes EXCEPT ![S] = {S}]
            /\ SendVotes(S, TRUE, currentTerm[S])
            /\ UNCHANGED <<currentTerm, votedFor, votes>>
       ELSE Stand(S) /\ UNCHANGED prevotes
    /\ UNCHANGED <<log, snapIndex, commitIndex, matchIndex, committed, elected>>

StartElectionStep ==
    /\ state[S] = "PreCandidate"
    /\ Quorum(Config(S), prevotes[S])
    /\ Stand(S)
    /\ UNCHANGED <<prevotes, log, snapIndex, commitIndex, matchIndex, committed, elected>>

HandleRequestVoteStep ==
    LET m == [type |-> "rv", prevote |-> E.prevote, term |-> E.term, lastTerm |-> E.lastTerm,
              lastIndex |-> E.lastIndex, src |-> E.candidate, dst |-> S]
        ok == LogOk(m, S)
        newer == E.term > currentTerm[S]
        voted == IF newer THEN Nil ELSE votedFor[S]
        vote == IF E.prevote THEN (IF ok THEN E.candidate ELSE Nil)
                ELSE IF voted = Nil THEN (IF ok THEN E.candidate ELSE Nil) ELSE voted
    IN /\ m \in msgs
       /\ E.term >= currentTerm[S]
       /\ E.grant = (vote = E.candidate)
       /\ currentTerm' = [currentTerm EXCEPT ![S] = E.term]
       /\ state' = [state EXCEPT ![S] = IF newer THEN "Follower" ELSE @]
       \* A pre-vote is not recorded; a vote is.  No vote at all: no reply.
       /\ votedFor' = [votedFor EXCEPT ![S] = IF E.prevote THEN voted ELSE vote]
       /\ msgs' = IF vote = Nil THEN msgs
                  ELSE msgs \cup {[type |-> "rvr", prevote |-> E.prevote, term |-> E.term,
                                   vote |-> vote, src |-> S, dst |-> E.candidate]}
       /\ UNCHANGED <<votes, prevotes, log, snapIndex, commitIndex, matchIndex, committed, elected>>

HandleRequestVoteResponseStep ==
    /\ [type |-> "rvr", prevote |-> E.prevote, term |-> E.term, vote |-> E.vote,
        src |-> E.voter, dst |-> S] \in msgs
    /\ E.term >= currentTerm[S]
    /\ TakeTerm(S, E.term)
    /\ LET role == IF E.term > currentTerm[S] THEN "Follower" ELSE state[S] IN
         /\ prevotes' = [prevotes EXCEPT ![S] =
                  IF E.vote = S /\ E.prevote /\ role = "PreCandidate" THEN @ \cup {E.voter} ELSE @]
         /\ votes' = [votes EXCEPT ![S] =
                  IF E.vote = S /\ ~E.prevote /\ role = "Candidate" THEN @ \cup {E.voter} ELSE @]
    /\ UNCHANGED <<log, snapIndex, commitIndex, matchIndex, msgs, committed, elected>>

BecomeLeaderStep ==
    /\ state[S] = "Candidate"
    /\ Quorum(Config(S), votes[S])
    /\ E.lastIndex = LastIndex(S)
    /\ ~\E p \in elected : p[1] = currentTerm[S]
    /\ elected' = elected \cup {<<currentTerm[S], S>>}
    /\ state' = [state EXCEPT ![S] = "Leader"]
    /\ log' = [log EXCEPT ![S] = Append(@, NoopEntry(currentTerm[S]))]     \* raft.c's no-op
    /\ matchIndex' = [matchIndex EXCEPT ![S] = [t \in Server |-> 0]]
    /\ UNCHANGED <<currentTerm, votedFor, votes, prevotes, snapIndex, commitIndex, msgs, committed>>

TransferLeadershipStep ==
    /\ state[S] = "Leader"
    /\ E.target \in Config(S) \ {S}
    /\ E.match = matchIndex[S][E.target]
    /\ msgs' = msgs \cup {[type |-> "tn", term |-> currentTerm[S], src |-> S, dst |-> E.target]}
    /\ UNCHANGED <<currentTerm, votedFor, state, votes, prevotes, log, snapIndex, commitIndex,
                   matchIndex, committed, elected>>

HandleTimeoutNowStep ==
    /\ IF E.ignored
       THEN /\ [type |-> "tn", term |-> currentTerm[S], src |-> E.sender, dst |-> S] \in msgs
            /\ state[S] # "Follower"
            /\ UNCHANGED <<currentTerm, votedFor, state, votes, msgs>>
       ELSE /\ [type |-> "tn", term |-> E.term - 1, src |-> E.sender, dst |-> S] \in msgs
            /\ E.term - 1 = currentTerm[S]
            /\ state[S] = "Follower"
            /\ Stand(S)
    /\ UNCHANGED <<prevotes, log, snapIndex, commitIndex, matchIndex, committed, elected>>

ClientRequestStep ==
    /\ state[S] = "Leader"
    /\ E.index = LastIndex(S) + 1
    \* The prerequisite is the eid of the last data entry (uncommitted included).
    /\ IF E.origin # Nil
       THEN /\ [type |-> "fwd", cmd |-> E.eid, prereq |-> E.prereq, src |-> E.origin,
                dst |-> S] \in msgs
            /\ E.prereq = CurrentEid(S)
       ELSE E.prereq \in {Nil, CurrentEid(S)}
    /\ log' = [log EXCEPT ![S] = Append(@, CmdEntry(currentTerm[S], E.eid))]
    /\ UNCHANGED <<currentTerm, votedFor, state, votes, prevotes, snapIndex, commitIndex,
                   matchIndex, msgs, committed, elected>>

ForwardStep ==
    /\ state[S] = "Follower"
    /\ <<currentTerm[S], E.leader>> \in elected
    \* A first send carries the eid of the last data entry applied; retries repeat it.
    /\ E.retry > 0 \/ E.prereq = AppliedEid(S)
    /\ msgs' = msgs \cup {[type |-> "fwd", cmd |-> E.eid, prereq |-> E.prereq, src |-> S,
                           dst |-> E.leader]}
    /\ UNCHANGED <<currentTerm, votedFor, state, votes, prevotes, log, snapIndex, commitIndex,
                   matchIndex, committed, elected>>

HandleForwardStep ==
    /\ [type |-> "fwd", cmd |-> E.eid, prereq |-> E.prereq, src |-> E.sender, dst |-> S] \in msgs
    /\ E.current = CurrentEid(S)
    /\ UNCHANGED <<currentTerm, votedFor, state, votes, prevotes, log, snapIndex, commitIndex,
                   matchIndex, msgs, committed, elected>>

AppendEntriesStep ==
    /\ state[S] = "Leader"
    /\ E.follower \in Config(S) \ {S}
    /\ IF E.snapshot > 0
       THEN /\ E.snapshot = snapIndex[S]
            /\ msgs' = msgs \cup {[type |-> "is", term |-> currentTerm[S],
                                   lastIndex |-> snapIndex[S], lastTerm |-> TermAt(S, snapIndex[S]),
                                   prefix |-> SubSeq(log[S], 1, snapIndex[S]),
                                   src |-> S, dst |-> E.follower]}
       ELSE /\ E.prev >= snapIndex[S]
            /\ E.prev + E.n <= LastIndex(S)
            /\ E.commit = commitIndex[S]
            /\ msgs' = msgs \cup {[type |-> "ae", term |-> currentTerm[S], prevIndex |-> E.prev,
                                   prevTerm |-> TermAt(S, E.prev),
                                   entries |-> SubSeq(log[S], E.prev + 1, E.prev + E.n),
                                   commit |-> E.commit, src |-> S, dst |-> E.follower]}
    /\ UNCHANGED <<currentTerm, votedFor, state, votes, prevotes, log, snapIndex, commitIndex,
                   matchIndex, committed, elected>>

HandleAppendEntriesRequestStep ==
    /\ \E m \in msgs :
         /\ m.type = "ae" /\ m.src = E.leader /\ m.dst = S /\ m.term = currentTerm[S]
         /\ m.prevIndex = E.prev /\ Len(m.entries) = E.n
         /\ LET ok == m.prevIndex <= LastIndex(S) /\ TermAt(S, m.prevIndex) = m.prevTerm
                lg == Merge(log[S], m.prevIndex, m.entries)
                ci == Max(commitIndex[S], Min(Min(m.commit, m.prevIndex + E.n), Len(lg)))
            IN /\ E.ok = ok
               /\ IF ok
                  THEN /\ log' = [log EXCEPT ![S] = lg]
                       /\ E.commit = ci
                       /\ commitIndex' = [commitIndex EXCEPT ![S] = ci]
                       /\ msgs' = msgs \cup {[type |-> "aer", term |-> currentTerm[S],
                                              success |-> TRUE, matchIndex |-> E.prev + E.n,
                                              src |-> S, dst |-> E.leader]}
                  ELSE UNCHANGED <<log, commitIndex, msgs>>
    /\ state' = [state EXCEPT ![S] = "Follower"]
    /\ UNCHANGED <<currentTerm, votedFor, votes, prevotes, snapIndex, matchIndex, committed,
                   elected>>

HandleInstallSnapshotStep ==
    /\ E.applied = commitIndex[S]
    /\ \E m \in msgs :
         /\ m.type = "is" /\ m.src = E.leader /\ m.dst = S /\ m.term = currentTerm[S]
         /\ m.lastIndex = E.lastIndex
         /\ IF m.lastIndex > commitIndex[S]
            THEN \* Keep the suffix only if it continues the snapshot.
                 /\ log' = [log EXCEPT ![S] =
                              IF LastIndex(S) >= m.lastIndex /\ TermAt(S, m.lastIndex) = m.lastTerm
                              THEN @ ELSE m.prefix]
                 /\ snapIndex' = [snapIndex EXCEPT ![S] = m.lastIndex]
                 /\ commitIndex' = [commitIndex EXCEPT ![S] = m.lastIndex]
            ELSE UNCHANGED <<log, snapIndex, commitIndex>>
    /\ state' = [state EXCEPT ![S] = "Follower"]
    /\ msgs' = msgs \cup {[type |-> "aer", term |-> currentTerm[S], success |-> TRUE,
                           matchIndex |-> E.lastIndex, src |-> S, dst |-> E.leader]}
    /\ UNCHANGED <<currentTerm, votedFor, votes, prevotes, matchIndex, committed, elected>>

HandleAppendEntriesResponseStep ==
    /\ E.ok => [type |-> "aer", term |-> currentTerm[S], success |-> TRUE,
                matchIndex |-> E.match, src |-> E.follower, dst |-> S] \in msgs
    /\ matchIndex' = IF E.ok /\ state[S] = "Leader"
                     THEN [matchIndex EXCEPT ![S][E.follower] = Max(@, E.match)]
                     ELSE matchIndex
    /\ UNCHANGED <<currentTerm, votedFor, state, votes, prevotes, log, snapIndex, commitIndex,
                   msgs, committed, elected>>

AdvanceCommitIndexStep ==
    /\ state[S] = "Leader"
    /\ commitIndex[S] < E.commit /\ E.commit <= LastIndex(S)
    /\ log[S][E.commit].term = currentTerm[S]
    /\ Quorum(Config(S), {S} \cup {t \in Server : matchIndex[S][t] >= E.commit})
    /\ commitIndex' = [commitIndex EXCEPT ![S] = E.commit]
    /\ committed' = IF E.commit > Len(committed)
                    THEN committed \o SubSeq(log[S], Len(committed) + 1, E.commit)
                    ELSE committed
    /\ UNCHANGED <<currentTerm, votedFor, state, votes, prevotes, log, snapIndex, matchIndex,
                   msgs, elected>>

TakeSnapshotStep ==
    /\ state[S] # "Leader"
    /\ snapIndex[S] < E.index /\ E.index <= commitIndex[S]
    /\ snapIndex' = [snapIndex EXCEPT ![S] = E.index]
    /\ UNCHANGED <<currentTerm, votedFor, state, votes, prevotes, log, commitIndex, matchIndex,
                   msgs, committed, elected>>

\* What the disk gave back: a crash loses unsynced writes, so the event says what
\* survived (term, vote, snapshot, the entries after it, commit index); the
\* snapshot's part of the log is the one this server held.
RestartStep ==
    /\ E.term <= currentTerm[S]
    /\ E.snapshot <= Len(log[S])
    /\ log' = [log EXCEPT ![S] = SubSeq(@, 1, E.snapshot) \o E.entries]
    /\ E.snapshot <= E.commit /\ E.commit <= Len(log'[S])
    /\ currentTerm' = [currentTerm EXCEPT ![S] = E.term]
    /\ votedFor' = [votedFor EXCEPT ![S] = E.vote]
    /\ snapIndex' = [snapIndex EXCEPT ![S] = E.snapshot]
    /\ commitIndex' = [commitIndex EXCEPT ![S] = E.commit]
    /\ state' = [state EXCEPT ![S] = "Follower"]
    /\ votes' = [votes EXCEPT ![S] = {}]
    /\ prevotes' = [prevotes EXCEPT ![S] = {}]
    /\ matchIndex' = [matchIndex EXCEPT ![S] = [t \in Server |-> 0]]
    /\ UNCHANGED <<msgs, committed, elected>>

\* A message of a newer term (the receiver's StepDown), or raft.c's leader that
\* heard from too few followers within an election timeout ("lost quorum").
StepDownStep ==
    /\ IF E.lostQuorum
       THEN /\ state[S] = "Leader"
            /\ state' = [state EXCEPT ![S] = "Follower"]
            /\ UNCHANGED <<currentTerm, votedFor>>
       ELSE /\ currentTerm[S] < E.term /\ E.term <= topTerm
            /\ currentTerm' = [currentTerm EXCEPT ![S] = E.term]
            /\ votedFor' = [votedFor EXCEPT ![S] = Nil]
            /\ state' = [state EXCEPT ![S] = "Follower"]
    /\ UNCHANGED <<votes, prevotes, log, snapIndex, commitIndex, matchIndex, msgs, committed,
                   elected>>

-----------------------------------------------------------------------------
TraceInit ==
    /\ i = 0
    /\ elected = {}
    /\ topTerm = 1
    /\ \E g \in TrGenesis :
         LET boot == [term |-> 1, type |-> "conf", cmd |-> g, conf |-> InitConfig] IN
         /\ log = [s \in Server |-> <<boot>>]
         /\ committed = <<boot>>
    /\ currentTerm = [s \in Server |-> 1]
    /\ votedFor = [s \in Server |-> Nil]
    /\ snapIndex = [s \in Server |-> 1]
    /\ commitIndex = [s \in Server |-> 1]
    /\ state = [s \in Server |-> "Follower"]
    /\ votes = [s \in Server |-> {}]
    /\ prevotes = [s \in Server |-> {}]
    /\ nextIndex = [s \in Server |-> [t \in Server |-> 1]]
    /\ matchIndex = [s \in Server |-> [t \in Server |-> 0]]
    /\ pending = [s \in Server |-> {}]
    /\ msgs = {}
    /\ submitted = {}
    /\ restarts = 0
    /\ retries = 0

TraceNext ==
    /\ i < Len(Trace)
    /\ i' = i + 1
    /\ Keep
    /\ CASE E.action = "Timeout"                     -> TimeoutStep
         [] E.action = "StartElection"               -> StartElectionStep
         [] E.action = "HandleRequestVote"           -> HandleRequestVoteStep
         [] E.action = "HandleRequestVoteResponse"   -> HandleRequestVoteResponseStep
         [] E.action = "BecomeLeader"                -> BecomeLeaderStep
         [] E.action = "TransferLeadership"          -> TransferLeadershipStep
         [] E.action = "HandleTimeoutNow"            -> HandleTimeoutNowStep
         [] E.action = "ClientRequest"               -> ClientRequestStep
         [] E.action = "Forward"                     -> ForwardStep
         [] E.action = "HandleForward"               -> HandleForwardStep
         [] E.action = "AppendEntries"               -> AppendEntriesStep
         [] E.action = "HandleAppendEntriesRequest"  -> HandleAppendEntriesRequestStep
         [] E.action = "HandleInstallSnapshot"       -> HandleInstallSnapshotStep
         [] E.action = "HandleAppendEntriesResponse" -> HandleAppendEntriesResponseStep
         [] E.action = "AdvanceCommitIndex"          -> AdvanceCommitIndexStep
         [] E.action = "TakeSnapshot"                -> TakeSnapshotStep
         [] E.action = "Restart"                     -> RestartStep
         [] E.action = "StepDown"                    -> StepDownStep
         [] OTHER                                    -> FALSE
    \* Every event says the term and role its server ended with.
    /\ currentTerm'[S] = E.term
    /\ state'[S] = E.role
    /\ topTerm' = Max(topTerm, E.term)

\* Violated exactly when the whole trace has been replayed.
NotDone == i < Len(Trace)
=============================================================================
