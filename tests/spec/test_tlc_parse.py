"""harness.spec.tlc's pure half: TLC output -> verdict, figures and trace (canned output)."""

from pathlib import Path

from harness.spec.tlc import Simulation, build_command, parse_output

PASS = """TLC2 Version 2.15 of Day Month 20?? (rev: d5b5a7f)
Model checking completed. No error has been found.
  Estimates of the probability that TLC did not check all reachable states
2,777,181 states generated, 901512 distinct states found, 0 states left on queue.
The depth of the complete state graph search is 11.
Finished in 32s at (2026-11-24 00:54:12)
"""

VIOLATION = """Starting...
Error: Invariant ReplicaOK is violated.
Error: The behavior up to this point is:
State 1: <Initial predicate>
/\\ x = 0
/\\ y = <<1, 2>>

State 2: <Commit line 181, col 27 to line 182, col 42 of module MonitorDelta>
/\\ x = 1
/\\ y = << 1,
   2 >>

58025 states generated, 36788 distinct states found, 11958 states left on queue.
The depth of the complete state graph search is 9.
Finished in 03s at (2026-11-24 00:56:17)
"""

PARSE_ERROR = """Semantic errors:

*** Errors: 1

line 35, col 51 to line 35, col 56 of module MDTraceData

Unknown operator: `Absent'.

Error: Parsing or semantic analysis failed.
"""

SIMULATION = """Running Random Simulation with seed 1 with 2 workers on 2 cores
Computed 1 initial states...
Progress: 408652 states checked.
Finished in 25s at (2026-11-24 01:18:09)
"""


def test_pass_with_figures():
    r = parse_output(PASS, 0, 32.0)
    assert r.verdict == "pass"
    assert (r.generated, r.distinct, r.depth) == (2777181, 901512, 11)
    assert "pass" in r.summary() and "distinct=901512" in r.summary()


def test_violation_with_trace():
    r = parse_output(VIOLATION, 12)
    assert r.verdict == "violation"
    assert r.property == "ReplicaOK" and r.kind == "safety"
    assert [s.action for s in r.trace] == ["Initial predicate", "Commit"]
    assert r.trace[1].text.splitlines()[0] == "/\\ x = 1"
    assert "2 >>" in r.trace[1].text
    assert (r.distinct, r.depth) == (36788, 9)
    assert "State 2: Commit" in r.trace_text(full=False)


def test_violation_exit_code_without_message_is_an_error():
    # Exit 12 but no recognisable violation line: do not claim a violation.
    assert parse_output("garbage\n", 12).verdict == "error"


def test_parse_error_is_error_with_details():
    r = parse_output(PARSE_ERROR, 150)
    assert r.verdict == "error"
    assert "Unknown operator" in r.message


def test_deadlock():
    r = parse_output("Error: Deadlock reached.\nState 1: <Initial predicate>\n/\\ x = 1\n", 11)
    assert (r.verdict, r.property) == ("violation", "deadlock")


def test_simulation_pass():
    r = parse_output(SIMULATION, 0)
    assert r.verdict == "pass" and r.generated == 408652


def test_exit_zero_without_completion_line_is_not_a_pass():
    assert parse_output("Starting...\n", 0).verdict == "error"


def test_command_line():
    cmd = build_command(Path("M.tla"), Path("M.cfg"), Path("/tmp/meta"), jar=Path("t.jar"),
                        simulate=Simulation(depth=10, num=5, seed=3))
    assert cmd[:1] == ["java"] and "tlc2.TLC" in cmd
    assert cmd[cmd.index("-metadir") + 1] == "/tmp/meta"
    assert "-deadlock" in cmd  # bounded models: running out of steps is fine
    assert cmd[cmd.index("-simulate") + 1] == "num=5"
    assert cmd[-1] == "M.tla"
    assert "-deadlock" not in build_command(Path("M.tla"), Path("M.cfg"), Path("/m"),
                                            jar=Path("t.jar"), check_deadlock=True)
