------------------------------ MODULE OvsdbRaft ------------------------------
(***************************************************************************)
(* Raft as clustered OVSDB uses it (ovsdb/raft.c).                         *)
(*                                                                         *)
(*  - elections, with an optional pre-vote phase (constant PreVote) as     *)
(*    raft.c's: requests carry the current term, the log alone decides;    *)
(*  - log replication and commit (one entry per AppendEntries);            *)
(*  - client transactions: on the leader they are appended directly; a     *)
(*    follower executes one locally and forwards it to the leader with a   *)
(*    prerequisite, the id of the last entry it applied; the leader        *)
(*    appends it only if that is its own last entry, else the follower     *)
(*    retries later (a "prerequisite check failed");                       *)
(*  - leadership transfer (TimeoutNow to an up-to-date follower);          *)
(*  - one-at-a-time membership change: a configuration entry takes effect  *)
(*    when appended; a leader starts another only once it is committed;   *)
(*  - snapshots on followers only, and InstallSnapshot when a follower     *)
(*    needs entries the leader has compacted;                             *)
(*  - crashes and restarts: term, vote, log and snapshot are durable;      *)
(*    role, commit index, votes and queued messages are lost.              *)
(*                                                                         *)
(* The network is a set of messages in flight (no duplication); a message  *)
(* to or from a server that restarts is lost.  Entry ids are              *)
(* <<index, term>>.  An entry is [term, type ("cmd"|"conf"), cmd, conf].   *)
(* The log is kept whole; snapIndex says how much of it is compacted       *)
(* (the leader cannot send those entries one by one).                      *)
(*                                                                         *)
(* Bug switches (constant Bug):                                            *)
(*  "prevote_as_vote"    a candidate counts a late pre-vote reply (of the  *)
(*                       term it pre-voted in) as a                        *)
(*                       vote: two leaders in one term.                    *)
(*  "forward_no_prereq"  the leader appends forwarded transactions without *)
(*                       checking the prerequisite: a retried transaction  *)
(*                       commits twice.                                    *)
(***************************************************************************)
EXTENDS Integers, Sequences, FiniteSets

CONSTANTS Server,       \* all servers that may ever be members
          InitConfig,   \* the initial cluster
          Cmds,         \* client transactions (integers > 0)
          PreVote,      \* BOOLEAN
          Transfer,     \* BOOLEAN: leadership transfer
          Membership,   \* BOOLEAN: add/remove servers
          Snapshots,    \* BOOLEAN: followers compact and leaders install snapshots
          MaxTerm, MaxLogLen, MaxMsgs, MaxRestarts, MaxRetries,
          Bug           \* "none", "prevote_as_vote", "forward_no_prereq"

Nil == 0

VARIABLES currentTerm, votedFor, log, snapIndex,              \* durable
          state, commitIndex, votes, prevotes,                  \* volatile
          nextIndex, matchIndex, pending,
          msgs,                                                 \* the network
          committed,   \* ghost: the committed log, as leaders commit it
          submitted,   \* ghost: transactions a client has submitted
          restarts, retries

serverVars == <<currentTerm, votedFor, log, snapIndex, state, commitIndex>>
candVars == <<votes, prevotes>>
leaderVars == <<nextIndex, matchIndex>>
ghostVars == <<committed, submitted, restarts, retries>>
vars == <<serverVars, candVars, leaderVars, pending, msgs, ghostVars>>

Min(a, b) == IF a < b THEN a ELSE b
Max(a, b) == IF a > b THEN a ELSE b
LastIndex(s) == Len(log[s])
TermAt(s, i) == IF i = 0 THEN 0 ELSE log[s][i].term
LastTerm(s) == TermAt(s, LastIndex(s))

\* The configuration in force at s: the last configuration entry of its log.
ConfigOf(lg) ==
    LET confs == {i \in 1..Len(lg) : lg[i].type = "conf"}
    IN IF confs = {} THEN InitConfig ELSE lg[CHOOSE i \in confs : \A j \in confs : j <= i].conf
Config(s) == ConfigOf(log[s])
Quorum(cfg, S) == 2 * Cardinality(S \cap cfg) > Cardinality(cfg)

CmdEntry(t, c) == [term |-> t, type |-> "cmd", cmd |-> c, conf |-> {}]
ConfEntry(t, cfg) == [term |-> t, type |-> "conf", cmd |-> 0, conf |-> cfg]

Send(m) == msgs' = msgs \cup {m}
Discard(m) == msgs' = msgs \ {m}
Reply(resp, req) == msgs' = (msgs \ {req}) \cup {resp}
CanSend == Cardinality(msgs) < MaxMsgs

\* Upto-date check of RequestVote.
LogOk(m, s) ==
    \/ m.lastTerm > LastTerm(s)
    \/ m.lastTerm = LastTerm(s) /\ m.lastIndex >= LastIndex(s)

-----------------------------------------------------------------------------
Init ==
    /\ currentTerm = [s \in Server |-> 0]
    /\ votedFor = [s \in Server |-> Nil]
    /\ log = [s \in Server |-> <<>>]
    /\ snapIndex = [s \in Server |-> 0]
    /\ state = [s \in Server |-> "Follower"]
    /\ commitIndex = [s \in Server |-> 0]
    /\ votes = [s \in Server |-> {}]
    /\ prevotes = [s \in Server |-> {}]
    /\ nextIndex = [s \in Server |-> [t \in Server |-> 1]]
    /\ matchIndex = [s \in Server |-> [t \in Server |-> 0]]
    /\ pending = [s \in Server |-> {}]
    /\ msgs = {}
    /\ committed = <<>>
    /\ submitted = {}
    /\ restarts = 0
    /\ retries = 0

-----------------------------------------------------------------------------
(* Elections. *)

\* Election timeout: a member starts a pre-vote round (PreVote) or an election.
Timeout(s) ==
    /\ state[s] \in {"Follower", "PreCandidate", "Candidate"}
    /\ s \in Config(s)
    /\ currentTerm[s] < MaxTerm
    /\ IF PreVote
       THEN /\ state' = [state EXCEPT ![s] = "PreCandidate"]
            /\ prevotes' = [prevotes EXCEPT ![s] = {s}]
            /\ UNCHANGED <<currentTerm, votedFor, votes>>
       ELSE /\ state' = [state EXCEPT ![s] = "Candidate"]
            /\ currentTerm' = [currentTerm EXCEPT ![s] = @ + 1]
            /\ votedFor' = [votedFor EXCEPT ![s] = s]
            /\ votes' = [votes EXCEPT ![s] = {s}]
            /\ UNCHANGED prevotes
    /\ UNCHANGED <<log, snapIndex, commitIndex, leaderVars, pending, msgs, ghostVars>>

\* A pre-candidate with a quorum of pre-votes starts the real election.
StartElection(s) ==
    /\ state[s] = "PreCandidate"
    /\ Quorum(Config(s), prevotes[s])
    /\ state' = [state EXCEPT ![s] = "Candidate"]
    /\ currentTerm' = [currentTerm EXCEPT ![s] = @ + 1]
    /\ votedFor' = [votedFor EXCEPT ![s] = s]
    /\ votes' = [votes EXCEPT ![s] = {s}]
    /\ UNCHANGED <<log, snapIndex, commitIndex, prevotes, leaderVars, pending, msgs, ghostVars>>

\* OVS pre-vote (raft.c): a pre-vote request carries the sender's current term.
RequestVote(s, t) ==
    /\ state[s] \in {"PreCandidate", "Candidate"}
    /\ t \in Config(s) \ {s}
    /\ CanSend
    /\ LET pre == state[s] = "PreCandidate" IN
         Send([type |-> "rv", prevote |-> pre, term |-> currentTerm[s],
               lastTerm |-> LastTerm(s), lastIndex |-> LastIndex(s),
               src |-> s, dst |-> t])
    /\ UNCHANGED <<serverVars, candVars, leaderVars, pending, ghostVars>>

HandleRequestVote(s, m) ==
    /\ m.type = "rv" /\ m.dst = s
    /\ IF m.prevote
       THEN \* raft.c: the log alone decides and nothing is recorded; a newer term
            \* in the request is taken, as from any message.
            LET newer == m.term > currentTerm[s] IN
            /\ currentTerm' = [currentTerm EXCEPT ![s] = Max(m.term, @)]
            /\ state' = [state EXCEPT ![s] = IF newer THEN "Follower" ELSE @]
            /\ votedFor' = [votedFor EXCEPT ![s] = IF newer THEN Nil ELSE @]
            /\ Reply([type |-> "rvr", prevote |-> TRUE, term |-> Max(m.term, currentTerm[s]),
                      granted |-> LogOk(m, s), src |-> s, dst |-> m.src], m)
            /\ UNCHANGED <<log, snapIndex, commitIndex, candVars, leaderVars>>
       ELSE LET newer == m.term > currentTerm[s]
                term == Max(m.term, currentTerm[s])
                voted == IF newer THEN Nil ELSE votedFor[s]
                grant == m.term = term /\ LogOk(m, s) /\ voted \in {Nil, m.src}
            IN /\ currentTerm' = [currentTerm EXCEPT ![s] = term]
               /\ state' = [state EXCEPT ![s] = IF newer THEN "Follower" ELSE @]
               /\ votedFor' = [votedFor EXCEPT ![s] = IF grant THEN m.src ELSE voted]
               /\ Reply([type |-> "rvr", prevote |-> FALSE, term |-> term, granted |-> grant,
                         src |-> s, dst |-> m.src], m)
               /\ UNCHANGED <<log, snapIndex, commitIndex, candVars, leaderVars>>
    /\ UNCHANGED <<pending, ghostVars>>

HandleRequestVoteResponse(s, m) ==
    /\ m.type = "rvr" /\ m.dst = s
    /\ Discard(m)
    /\ IF m.term > currentTerm[s]
       THEN /\ currentTerm' = [currentTerm EXCEPT ![s] = m.term]
            /\ state' = [state EXCEPT ![s] = "Follower"]
            /\ votedFor' = [votedFor EXCEPT ![s] = Nil]
            /\ UNCHANGED <<votes, prevotes>>
       ELSE /\ prevotes' = [prevotes EXCEPT ![s] =
                  IF m.prevote /\ m.granted /\ state[s] = "PreCandidate"
                     /\ m.term = currentTerm[s]
                  THEN @ \cup {m.src} ELSE @]
            \* The bug: a late pre-vote reply (of the term the candidate pre-voted
            \* in, one below its own) is taken for a vote.
            /\ votes' = [votes EXCEPT ![s] =
                  IF m.granted /\ state[s] = "Candidate"
                     /\ \/ ~m.prevote /\ m.term = currentTerm[s]
                        \/ m.prevote /\ Bug = "prevote_as_vote" /\ m.term = currentTerm[s] - 1
                  THEN @ \cup {m.src} ELSE @]
            /\ UNCHANGED <<currentTerm, state, votedFor>>
    /\ UNCHANGED <<log, snapIndex, commitIndex, leaderVars, pending, ghostVars>>

BecomeLeader(s) ==
    /\ state[s] = "Candidate"
    /\ Quorum(Config(s), votes[s])
    /\ state' = [state EXCEPT ![s] = "Leader"]
    /\ nextIndex' = [nextIndex EXCEPT ![s] = [t \in Server |-> LastIndex(s) + 1]]
    /\ matchIndex' = [matchIndex EXCEPT ![s] = [t \in Server |-> IF t = s THEN LastIndex(s) ELSE 0]]
    /\ UNCHANGED <<currentTerm, votedFor, log, snapIndex, commitIndex, candVars, pending, msgs, ghostVars>>

\* Leadership transfer: the leader tells an up-to-date follower to stand now.
TransferLeadership(s, t) ==
    /\ Transfer
    /\ state[s] = "Leader"
    /\ t \in Config(s) \ {s}
    /\ matchIndex[s][t] = LastIndex(s)
    /\ CanSend
    /\ Send([type |-> "tn", term |-> currentTerm[s], src |-> s, dst |-> t])
    /\ UNCHANGED <<serverVars, candVars, leaderVars, pending, ghostVars>>

HandleTimeoutNow(s, m) ==
    /\ m.type = "tn" /\ m.dst = s
    /\ Discard(m)
    /\ IF m.term = currentTerm[s] /\ state[s] = "Follower" /\ currentTerm[s] < MaxTerm
       THEN /\ state' = [state EXCEPT ![s] = "Candidate"]          \* skips pre-vote
            /\ currentTerm' = [currentTerm EXCEPT ![s] = @ + 1]
            /\ votedFor' = [votedFor EXCEPT ![s] = s]
            /\ votes' = [votes EXCEPT ![s] = {s}]
       ELSE UNCHANGED <<state, currentTerm, votedFor, votes>>
    /\ UNCHANGED <<log, snapIndex, commitIndex, prevotes, leaderVars, pending, ghostVars>>

-----------------------------------------------------------------------------
(* Client transactions. *)

ClientRequest(s, c) ==
    /\ state[s] = "Leader"
    /\ c \notin submitted
    /\ LastIndex(s) < MaxLogLen
    /\ log' = [log EXCEPT ![s] = Append(@, CmdEntry(currentTerm[s], c))]
    /\ matchIndex' = [matchIndex EXCEPT ![s][s] = LastIndex(s) + 1]
    /\ submitted' = submitted \cup {c}
    /\ UNCHANGED <<currentTerm, votedFor, snapIndex, state, commitIndex, candVars, nextIndex,
                   pending, msgs, committed, restarts, retries>>

\* The id of the last entry s applied: its prerequisite.
Applied(s) == <<commitIndex[s], TermAt(s, commitIndex[s])>>

CommittedAt(s, c) == \E i \in 1..commitIndex[s] : log[s][i].type = "cmd" /\ log[s][i].cmd = c

\* A follower executes c and forwards it to the leader of its term; later, still
\* not seeing c committed, it may forward it again.  (Knowing the leader is read
\* off the leader's state instead of tracking what s learnt from AppendEntries: a
\* follower without a leader holds the transaction, as OVS does.)
Forward(s, t, c) ==
    /\ state[s] = "Follower"
    /\ t \in Server \ {s}
    /\ state[t] = "Leader" /\ currentTerm[t] = currentTerm[s]
    /\ CanSend
    /\ \/ c \notin submitted /\ UNCHANGED retries
       \/ c \in pending[s] /\ ~CommittedAt(s, c) /\ retries < MaxRetries /\ retries' = retries + 1
    /\ pending' = [pending EXCEPT ![s] = @ \cup {c}]
    /\ submitted' = submitted \cup {c}
    /\ Send([type |-> "fwd", term |-> currentTerm[s], cmd |-> c, prereq |-> Applied(s),
             src |-> s, dst |-> t])
    /\ UNCHANGED <<serverVars, candVars, leaderVars, committed, restarts>>

HandleForward(s, m) ==
    /\ m.type = "fwd" /\ m.dst = s
    /\ Discard(m)
    /\ IF /\ state[s] = "Leader"
          /\ LastIndex(s) < MaxLogLen
          /\ (m.prereq = <<LastIndex(s), LastTerm(s)>> \/ Bug = "forward_no_prereq")
       THEN /\ log' = [log EXCEPT ![s] = Append(@, CmdEntry(currentTerm[s], m.cmd))]
            /\ matchIndex' = [matchIndex EXCEPT ![s][s] = LastIndex(s) + 1]
       ELSE UNCHANGED <<log, matchIndex>>      \* refused: the follower retries
    /\ UNCHANGED <<currentTerm, votedFor, snapIndex, state, commitIndex, candVars, nextIndex,
                   pending, ghostVars>>

-----------------------------------------------------------------------------
(* Membership: one server added or removed at a time. *)

ChangeMembership(s, t) ==
    /\ Membership
    /\ state[s] = "Leader"
    /\ LastIndex(s) < MaxLogLen
    \* No configuration change in flight, and an entry of this term committed.
    /\ \A i \in commitIndex[s] + 1..LastIndex(s) : log[s][i].type # "conf"
    /\ commitIndex[s] > 0 /\ TermAt(s, commitIndex[s]) = currentTerm[s]
    /\ LET cfg == IF t \in Config(s) THEN Config(s) \ {t} ELSE Config(s) \cup {t}
       IN /\ cfg # {} /\ s \in cfg
          /\ log' = [log EXCEPT ![s] = Append(@, ConfEntry(currentTerm[s], cfg))]
    /\ matchIndex' = [matchIndex EXCEPT ![s][s] = LastIndex(s) + 1]
    /\ UNCHANGED <<currentTerm, votedFor, snapIndex, state, commitIndex, candVars, nextIndex,
                   pending, msgs, ghostVars>>

-----------------------------------------------------------------------------
(* Replication. *)

AppendEntries(s, t) ==
    /\ state[s] = "Leader"
    /\ t \in Config(s) \ {s}
    /\ CanSend
    /\ LET n == nextIndex[s][t]
           prev == n - 1
       IN IF n <= snapIndex[s]
          THEN Send([type |-> "is", term |-> currentTerm[s], lastIndex |-> snapIndex[s],
                     lastTerm |-> TermAt(s, snapIndex[s]),
                     prefix |-> SubSeq(log[s], 1, snapIndex[s]), src |-> s, dst |-> t])
          ELSE LET ents == IF n <= LastIndex(s) THEN <<log[s][n]>> ELSE <<>>
               IN Send([type |-> "ae", term |-> currentTerm[s], prevIndex |-> prev,
                        prevTerm |-> TermAt(s, prev), entries |-> ents,
                        commit |-> Min(commitIndex[s], prev + Len(ents)),
                        src |-> s, dst |-> t])
    /\ UNCHANGED <<serverVars, candVars, leaderVars, pending, ghostVars>>

\* Any message from a newer term turns the receiver into a follower of that term.
StepDown(s, m) ==
    /\ m.term > currentTerm[s]
    /\ currentTerm' = [currentTerm EXCEPT ![s] = m.term]
    /\ votedFor' = [votedFor EXCEPT ![s] = Nil]
    /\ state' = [state EXCEPT ![s] = "Follower"]
    /\ UNCHANGED <<log, snapIndex, commitIndex, candVars, leaderVars, pending, msgs, ghostVars>>

HandleAppendEntriesRequest(s, m) ==
    /\ m.type = "ae" /\ m.dst = s
    /\ m.term <= currentTerm[s]
    /\ LET logOk == m.prevIndex = 0 \/
                    (m.prevIndex <= LastIndex(s) /\ TermAt(s, m.prevIndex) = m.prevTerm)
           idx == m.prevIndex + 1
           newLog == IF m.entries = <<>> THEN log[s]
                     ELSE IF LastIndex(s) >= idx /\ log[s][idx].term = m.entries[1].term
                     THEN log[s]
                     ELSE SubSeq(log[s], 1, m.prevIndex) \o m.entries  \* truncate conflicts
       IN IF m.term < currentTerm[s] \/ ~logOk
          THEN /\ Reply([type |-> "aer", term |-> currentTerm[s], success |-> FALSE,
                         matchIndex |-> 0, src |-> s, dst |-> m.src], m)
               /\ state' = [state EXCEPT ![s] = IF m.term = currentTerm[s] THEN "Follower" ELSE @]
               /\ UNCHANGED <<log, commitIndex>>
          ELSE /\ log' = [log EXCEPT ![s] = newLog]
               /\ state' = [state EXCEPT ![s] = "Follower"]
               /\ commitIndex' = [commitIndex EXCEPT ![s] =
                                    Max(@, Min(m.commit, m.prevIndex + Len(m.entries)))]
               /\ Reply([type |-> "aer", term |-> currentTerm[s], success |-> TRUE,
                         matchIndex |-> m.prevIndex + Len(m.entries), src |-> s, dst |-> m.src], m)
    /\ UNCHANGED <<currentTerm, votedFor, snapIndex, candVars, leaderVars, pending, ghostVars>>

HandleInstallSnapshot(s, m) ==
    /\ m.type = "is" /\ m.dst = s
    /\ m.term <= currentTerm[s]
    /\ IF m.term < currentTerm[s]
       THEN /\ Reply([type |-> "aer", term |-> currentTerm[s], success |-> FALSE,
                      matchIndex |-> 0, src |-> s, dst |-> m.src], m)
            /\ UNCHANGED <<log, snapIndex, commitIndex, state>>
       ELSE \* Keep the suffix only if it continues the snapshot.
            /\ log' = [log EXCEPT ![s] =
                         IF LastIndex(s) >= m.lastIndex /\ TermAt(s, m.lastIndex) = m.lastTerm
                         THEN @ ELSE m.prefix]
            /\ snapIndex' = [snapIndex EXCEPT ![s] = Max(@, m.lastIndex)]
            /\ commitIndex' = [commitIndex EXCEPT ![s] = Max(@, m.lastIndex)]
            /\ state' = [state EXCEPT ![s] = "Follower"]
            /\ Reply([type |-> "aer", term |-> currentTerm[s], success |-> TRUE,
                      matchIndex |-> m.lastIndex, src |-> s, dst |-> m.src], m)
    /\ UNCHANGED <<currentTerm, votedFor, candVars, leaderVars, pending, ghostVars>>

HandleAppendEntriesResponse(s, m) ==
    /\ m.type = "aer" /\ m.dst = s
    /\ m.term <= currentTerm[s]
    /\ Discard(m)
    /\ IF m.term = currentTerm[s] /\ state[s] = "Leader"
       THEN IF m.success
            THEN /\ matchIndex' = [matchIndex EXCEPT ![s][m.src] = Max(@, m.matchIndex)]
                 /\ nextIndex' = [nextIndex EXCEPT ![s][m.src] = m.matchIndex + 1]
            ELSE /\ nextIndex' = [nextIndex EXCEPT ![s][m.src] = Max(@ - 1, 1)]
                 /\ UNCHANGED matchIndex
       ELSE UNCHANGED leaderVars
    /\ UNCHANGED <<serverVars, candVars, pending, ghostVars>>

\* The leader commits the longest prefix a quorum holds, ending in its own term.
AdvanceCommitIndex(s) ==
    /\ state[s] = "Leader"
    /\ LET agree(i) == {t \in Server : matchIndex[s][t] >= i}
           ok == {i \in commitIndex[s] + 1..LastIndex(s) :
                    Quorum(Config(s), agree(i)) /\ log[s][i].term = currentTerm[s]}
       IN /\ ok # {}
          /\ LET k == CHOOSE i \in ok : \A j \in ok : j <= i IN
               /\ commitIndex' = [commitIndex EXCEPT ![s] = k]
               /\ committed' = IF k > Len(committed)
                               THEN committed \o SubSeq(log[s], Len(committed) + 1, k)
                               ELSE committed
    /\ UNCHANGED <<currentTerm, votedFor, log, snapIndex, state, candVars, leaderVars,
                   pending, msgs, submitted, restarts, retries>>

\* Followers only (OVS: a leader transfers leadership before it compacts).
TakeSnapshot(s) ==
    /\ Snapshots
    /\ state[s] # "Leader"
    /\ snapIndex[s] < commitIndex[s]
    /\ snapIndex' = [snapIndex EXCEPT ![s] = commitIndex[s]]
    /\ UNCHANGED <<currentTerm, votedFor, log, state, commitIndex, candVars, leaderVars,
                   pending, msgs, ghostVars>>

\* Crash and restart: durable state survives, the rest (and the links) do not.
Restart(s) ==
    /\ restarts < MaxRestarts
    /\ restarts' = restarts + 1
    /\ state' = [state EXCEPT ![s] = "Follower"]
    /\ commitIndex' = [commitIndex EXCEPT ![s] = snapIndex[s]]
    /\ votes' = [votes EXCEPT ![s] = {}]
    /\ prevotes' = [prevotes EXCEPT ![s] = {}]
    /\ nextIndex' = [nextIndex EXCEPT ![s] = [t \in Server |-> 1]]
    /\ matchIndex' = [matchIndex EXCEPT ![s] = [t \in Server |-> 0]]
    /\ pending' = [pending EXCEPT ![s] = {}]
    /\ msgs' = {m \in msgs : m.src # s /\ m.dst # s}
    /\ UNCHANGED <<currentTerm, votedFor, log, snapIndex, committed, submitted, retries>>

\* One named action per message handler, so that TLC names it in traces.
ReceiveStepDown == \E m \in msgs : m.type \in {"ae", "is", "aer", "tn"} /\ StepDown(m.dst, m)
ReceiveRequestVote == \E m \in msgs : HandleRequestVote(m.dst, m)
ReceiveRequestVoteResponse == \E m \in msgs : HandleRequestVoteResponse(m.dst, m)
ReceiveAppendEntriesRequest == \E m \in msgs : HandleAppendEntriesRequest(m.dst, m)
ReceiveInstallSnapshot == \E m \in msgs : HandleInstallSnapshot(m.dst, m)
ReceiveAppendEntriesResponse == \E m \in msgs : HandleAppendEntriesResponse(m.dst, m)
ReceiveTimeoutNow == \E m \in msgs : HandleTimeoutNow(m.dst, m)
ReceiveForward == \E m \in msgs : HandleForward(m.dst, m)

Next ==
    \/ \E s \in Server :
         \/ Timeout(s) \/ StartElection(s) \/ BecomeLeader(s)
         \/ AdvanceCommitIndex(s) \/ TakeSnapshot(s) \/ Restart(s)
         \/ \E c \in Cmds : ClientRequest(s, c)
         \/ \E t \in Server :
              \/ RequestVote(s, t) \/ AppendEntries(s, t) \/ TransferLeadership(s, t)
              \/ ChangeMembership(s, t)
              \/ \E c \in Cmds : Forward(s, t, c)
    \/ ReceiveStepDown
    \/ ReceiveRequestVote
    \/ ReceiveRequestVoteResponse
    \/ ReceiveAppendEntriesRequest
    \/ ReceiveInstallSnapshot
    \/ ReceiveAppendEntriesResponse
    \/ ReceiveTimeoutNow
    \/ ReceiveForward

Spec == Init /\ [][Next]_vars

-----------------------------------------------------------------------------
(* Invariants. *)

\* At most one leader per term.
ElectionSafety ==
    \A s, t \in Server :
       (state[s] = "Leader" /\ state[t] = "Leader" /\ currentTerm[s] = currentTerm[t]) => s = t

\* Two logs with an entry of the same index and term agree up to it.
LogMatching ==
    \A s, t \in Server :
       \A i \in 1..Min(LastIndex(s), LastIndex(t)) :
          log[s][i].term = log[t][i].term => SubSeq(log[s], 1, i) = SubSeq(log[t], 1, i)

\* Every leader holds every committed entry of an earlier or equal term.
LeaderCompleteness ==
    \A s \in Server :
       state[s] = "Leader" =>
          \A i \in 1..Len(committed) :
             committed[i].term <= currentTerm[s] =>
                (i <= LastIndex(s) /\ log[s][i] = committed[i])

\* What a server has committed (or snapshotted) is the committed log: no two
\* servers apply different entries at an index, and no committed entry is ever
\* truncated from a server that applied it.
StateMachineSafety ==
    \A s \in Server :
       /\ snapIndex[s] <= commitIndex[s]
       /\ commitIndex[s] <= LastIndex(s)
       /\ commitIndex[s] <= Len(committed)
       /\ SubSeq(log[s], 1, commitIndex[s]) = SubSeq(committed, 1, commitIndex[s])

\* A transaction (forwarded and retried or not) commits at most once.
ForwardOnce ==
    \A c \in Cmds :
       Cardinality({i \in 1..Len(committed) : committed[i].type = "cmd" /\ committed[i].cmd = c}) <= 1

\* Bounds for TLC: terms.
TermBound == \A s \in Server : currentTerm[s] <= MaxTerm
=============================================================================
