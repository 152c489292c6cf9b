"""``crucible db`` commands for clustered files (cf. ``ovsdb-tool``'s, same arguments).

    create-cluster DB SCHEMA|STANDALONE-DB LOCAL [--election-timer=MS]
    join-cluster DB NAME LOCAL REMOTE... [--cid=UUID]
    cluster-to-standalone STANDALONE-DB CLUSTERED-DB
    db-cid DB, db-sid DB, db-local-address DB      (clustered files only)
    db-is-clustered DB, db-is-standalone DB        (exit 0 if so, 2 if not)
    show-log [-m]... DB, db-name DB                 (either kind: see cluster_show_log)

Like ovsdb-tool, a failure prints one line and exits 1; ``db-cid`` of a server that has
not joined yet exits 2 ("cluster ID not yet known"), as do the ``db-is-*`` tests when
the answer is no.  Options may come before or after the command.
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Callable
from uuid import UUID

import orjson

from reference.data.datum import datum_from_json, datum_to_string
from reference.data.errors import OvsdbError
from reference.data.ovs_hash import ovs_order
from reference.data.schema import DatabaseSchema, parse_schema
from reference.storage import cluster_file, log_file
from reference.storage.cluster_data import load_database, snapshot_data, standalone_records
from reference.storage.cluster_records import (
    ClusterHeader,
    CommitIndex,
    Entry,
    Leader,
    Note,
    Record,
    Term,
    Vote,
    address_problem,
    is_uuid,
    parse_header,
    parse_record,
)
from reference.storage.log_file import CLUSTER_MAGIC, MAGIC, StorageError

_ID_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class UsageError(StorageError):
    """Wrong arguments: one line, exit status 1 (as ovsdb-tool)."""


def _split_options(args: list[str], allowed: tuple[str, ...]) -> tuple[dict[str, str],
                                                                       list[str]]:
    opts: dict[str, str] = {}
    rest: list[str] = []
    for a in args:
        if a.startswith("--"):
            name, eq, value = a[2:].partition("=")
            if name not in allowed:
                raise UsageError(f"unrecognized option '{a}'")
            if not eq:
                raise UsageError(f"option '--{name}' requires an argument")
            opts[name] = value
        else:
            rest.append(a)
    return opts, rest


def _need(cmd: str, args: list[str], n: int, exact: bool = True) -> None:
    if len(args) < n:
        raise UsageError(f"'{cmd}' command requires at least {n} arguments")
    if exact and len(args) > n:
        raise UsageError(f"'{cmd}' command takes at most {n} arguments")


def _file_magic(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            head = f.read(len(CLUSTER_MAGIC) + 1)
    except OSError as e:
        raise StorageError(f"{path}: open failed ({e.strerror})") from None
    magic = log_file.identify(head)
    if magic is None:
        raise StorageError(f"{path}: cannot identify file type")
    return magic


def _header(path: str) -> ClusterHeader:
    """The header alone, as ovsdb-tool's db-cid/db-sid/... read it."""
    if _file_magic(path) != CLUSTER_MAGIC:
        raise StorageError(f"{path}: not a clustered database")
    parsed = log_file.read(path, CLUSTER_MAGIC)
    if not parsed.records:
        assert parsed.bad is not None
        raise StorageError(parsed.bad.message)
    return parse_header(parsed.records[0])


# ---------------------------------------------------------------------------
# Creating files
# ---------------------------------------------------------------------------

ReadSchema = Callable[[str], dict]


def _cluster_contents(path: str, read_schema: ReadSchema) -> tuple[str, list]:
    """(name, [schema, txn]) from a schema file, or from a standalone database file (its
    whole contents), as ovsdb-tool create-cluster accepts either.  Ephemeral columns
    become persistent: clusters keep everything."""
    try:
        magic = _file_magic(path)
    except StorageError:
        magic = None
    if magic == MAGIC:
        from reference.data.database import Database
        from reference.storage.records import apply_file_record

        parsed = log_file.read(path)
        if parsed.bad is not None or not parsed.records:
            raise StorageError(parsed.bad.message if parsed.bad else f"{path}: empty")
        try:
            db = Database(parse_schema(parsed.records[0]))
            for rec in parsed.records[1:]:
                apply_file_record(db, rec)
        except OvsdbError as e:
            raise StorageError(f"{path}: {e}") from None
        schema, txn = snapshot_data(db, comment=f"created from {path}")
    else:
        schema, txn = read_schema(path), {}
    _persist_ephemeral(path, schema)
    return schema["name"], [schema, txn]


def _persist_ephemeral(path: str, schema: dict) -> None:
    changed = [(t, c) for t, table in schema["tables"].items()
               for c, col in table["columns"].items() if col.pop("ephemeral", False)]
    if changed:
        t, c = changed[0]
        print(f"crucible db: {path}: changed {len(changed)} columns in '{schema['name']}' "
              f"database from ephemeral to persistent, including '{c}' column in '{t}' "
              f"table, because clusters do not support ephemeral columns", file=sys.stderr)


def cmd_create_cluster(args: list[str], read_schema: ReadSchema) -> int:
    """`read_schema(path)` reads and checks a schema file (dbtool's, passed in so that
    the two modules do not import each other)."""
    opts, args = _split_options(args, ("election-timer",))
    _need("create-cluster", args, 3)
    db, src, local = args
    timer = 0
    if "election-timer" in opts:
        text = opts["election-timer"]
        if not text.isdigit() or int(text) == 0:
            raise UsageError(f"election timer must be an integer, got '{text}'")
        timer = int(text)
        problem = cluster_file.election_timer_problem(timer)
        if problem:
            raise StorageError(problem)
    problem = address_problem(local)
    if problem:
        raise StorageError(problem)
    name, data = _cluster_contents(src, read_schema)
    cluster_file.create_cluster(db, name, data, local, timer)
    return 0


def cmd_join_cluster(args: list[str]) -> int:
    opts, args = _split_options(args, ("cid",))
    _need("join-cluster", args, 4, exact=False)
    db, name, local, *remotes = args
    cid = None
    if "cid" in opts:
        if not is_uuid(opts["cid"]):
            raise UsageError(f"{opts['cid']}: not a valid UUID")
        cid = UUID(opts["cid"])
    if not name or name[0].isdigit() or not set(name) <= _ID_CHARS:
        raise StorageError(f'{name}: not a valid schema name (use "schema-name" command '
                           f'to find the correct name)')
    cluster_file.join_cluster(db, name, local, remotes, cid)
    return 0


def cmd_cluster_to_standalone(args: list[str]) -> int:
    _need("cluster-to-standalone", args, 2)
    out, src = args
    if _file_magic(src) != CLUSTER_MAGIC:
        raise StorageError("Database is not clustered db.")
    state = cluster_file.read_cluster(src)
    records = standalone_records(state)
    load_database(state)  # refuse contents that do not replay before writing anything
    log_file.create(out, records[0])
    standalone, _, _ = log_file.LogFile.open(out)
    with standalone:
        for rec in records[1:]:
            standalone.append(rec)
        standalone.commit()
    return 0


# ---------------------------------------------------------------------------
# Reading the header
# ---------------------------------------------------------------------------

def cmd_db_cid(args: list[str]) -> int:
    _need("db-cid", args, 1)
    h = _header(args[0])
    if h.cid is None or h.cid.int == 0:
        print(f"{args[0]}: cluster ID not yet known", file=sys.stderr)
        return 2
    print(h.cid)
    return 0


def _header_field(cmd: str, get: Callable[[ClusterHeader], object]) -> Callable:
    def run(args: list[str]) -> int:
        _need(cmd, args, 1)
        print(get(_header(args[0])))
        return 0
    return run


def _is(magic: bytes) -> Callable[[list[str]], int]:
    def run(args: list[str]) -> int:
        _need("db-is-clustered" if magic == CLUSTER_MAGIC else "db-is-standalone", args, 1)
        return 0 if _file_magic(args[0]) == magic else 2
    return run


def cluster_db_name(path: str) -> str | None:
    """The name in a clustered file's header, or None for a standalone file."""
    return _header(path).name if _file_magic(path) == CLUSTER_MAGIC else None


# ---------------------------------------------------------------------------
# show-log
# ---------------------------------------------------------------------------

def is_clustered(path: str) -> bool:
    return _file_magic(path) == CLUSTER_MAGIC


class _Printer:
    """ovsdb-tool show-log's layout for a clustered file (ovsdb-tool.c print_raft_*),
    written piece by piece as ovsdb-tool writes it: a transaction's date and comment end
    without a newline, which the record's closing newline supplies.  Tables, rows and
    columns come in the order OVS's hash tables hold them."""

    def __init__(self, verbosity: int) -> None:
        self.verbosity = verbosity
        self.names: dict[str, str] = {}
        self.out: list[str] = []
        self.schema: DatabaseSchema | None = None

    def write(self, text: str) -> None:
        self.out.append(text)

    def line(self, text: str) -> None:
        self.out.append(text + "\n")

    def servers(self, what: str, servers: dict[str, str] | None) -> None:
        if servers is not None:
            shown = ", ".join(f"{sid[:4]}({orjson.dumps(servers[sid]).decode()})"
                              for sid in sorted(servers))
            self.line(f" {what}: {shown}")

    def data(self, prefix: str, data: object) -> None:
        if data is None:
            return
        if not isinstance(data, list) or len(data) != 2:
            self.line(" ***invalid data***")
            return
        schema, txn = data
        if isinstance(schema, dict):
            try:
                self.schema = parse_schema(schema)
            except OvsdbError:
                self.schema = None
            self.line(f' {prefix}schema: "{schema.get("name", "")}", '
                      f'version="{schema.get("version", "")}", '
                      f'cksum="{schema.get("cksum", "")}"')
        if not isinstance(txn, dict):
            return
        date = txn.get("_date")
        if type(date) is int:
            ms = date * 1000 if date < 2**31 - 1 else date  # old files: seconds
            when = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
            self.write(" " + when.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}")
        if isinstance(txn.get("_comment"), str):
            self.write(f' "{txn["_comment"]}"')
        if self.verbosity > 0:
            self.changes(txn)

    def changes(self, txn: dict) -> None:
        diff = txn.get("_is_diff") is True
        first = True
        for table in ovs_order(txn):
            rows = txn[table]
            if table.startswith("_") or not isinstance(rows, dict):
                continue
            if first:
                self.write("\n")
                first = False
            for u in ovs_order(rows):
                self.row(table, u, rows[u], diff)

    def row(self, table: str, u: str, cols: object, diff: bool) -> None:
        old = self.names.get(u)
        new = None
        if isinstance(cols, dict) and "name" in cols:
            new = orjson.dumps(cols["name"], option=orjson.OPT_SORT_KEYS).decode()
        if old is None:
            self.line(f"  table {table} insert row {new} ({u[:8]}):" if new else
                      f"  table {table} insert row {u[:8]}:")
        else:
            self.line(f"  table {table} row {old} ({u[:8]}){' diff' if diff else ''}:")
        if isinstance(cols, dict):
            if self.verbosity > 1:
                for c in ovs_order(cols):
                    self.line(f"    {c}={self.value(table, c, cols[c])}")
            if new is not None and new != old:
                self.names[u] = new
            elif old is None:
                self.names[u] = u[:8]
        elif cols is None:
            self.line("    delete row")
            self.names.pop(u, None)

    def value(self, table: str, column: str, value: object) -> str:
        """The value in OVS's datum syntax when the schema knows the column, else JSON."""
        ts = self.schema.tables.get(table) if self.schema else None
        col = ts.columns.get(column) if ts else None
        if col is not None:
            try:
                return datum_to_string(datum_from_json(col.type, value), col.type)
            except OvsdbError:
                pass
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()

    def header(self, h: ClusterHeader) -> None:
        self.line(f" name: \"{h.name}'")  # sic: ovsdb-tool's quotes
        self.line(f' local address: "{h.local_address}"')
        self.line(f" server_id: {str(h.sid)[:4]}")
        if h.cid is not None and h.cid.int:
            self.line(f" cluster_id: {str(h.cid)[:4]}")
        if h.remote_addresses:
            # a set in OVS: shown in its hash order, whatever the file's order
            self.line(" remote_addresses: " + " ".join(ovs_order(h.remote_addresses)))
        if h.prev_index:
            self.line(f" prev_index: {h.prev_index}")
            self.line(f" prev_term: {h.prev_term}")
            self.servers("prev_servers", h.prev_servers)
            if h.prev_eid is not None and h.prev_eid.int:
                self.line(f" prev_eid: {str(h.prev_eid)[:4]}")
            self.data("prev_", h.prev_data)

    def record(self, r: Record) -> None:
        if r.comment is not None:
            self.line(f' comment: "{r.comment}"')
        term = getattr(r, "term", 0)
        if term:
            self.line(f" term: {term}")
        if isinstance(r, Entry):
            self.line(f" index: {r.index}")
            self.servers("servers", r.servers)
            if r.eid is not None and r.eid.int:
                self.line(f" eid: {str(r.eid)[:4]}")
            self.data("", r.data)
        elif isinstance(r, Vote):
            self.line(f" vote: {str(r.vote)[:4]}")
        elif isinstance(r, Note):
            self.line(f' note: "{r.note}"')
        elif isinstance(r, CommitIndex):
            self.line(f" commit_index: {r.commit_index}")
        elif isinstance(r, Leader):
            self.line(f" leader: {str(r.leader)[:4]}")
        else:
            assert isinstance(r, Term)


def cluster_show_log(path: str, verbosity: int) -> int:
    """Print every record of a clustered file; a record that does not parse is shown
    with its error, as ovsdb-tool does; damage in the framing ends the listing (exit 1)."""
    parsed = log_file.read(path, CLUSTER_MAGIC)
    p = _Printer(verbosity)
    for i, obj in enumerate(parsed.records):
        p.line(f"record {i}:")
        try:
            if i == 0:
                p.header(parse_header(obj))
            else:
                p.record(parse_record(obj))
        except StorageError as e:
            p.line(str(e))
        p.write("\n")
    sys.stdout.write("".join(p.out))
    if parsed.bad:
        print(f"crucible db: {parsed.bad.message}", file=sys.stderr)
        return 1
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "join-cluster": cmd_join_cluster,
    "cluster-to-standalone": cmd_cluster_to_standalone,
    "db-cid": cmd_db_cid,
    "db-sid": _header_field("db-sid", lambda h: h.sid),
    "db-local-address": _header_field("db-local-address", lambda h: h.local_address),
    "db-is-clustered": _is(CLUSTER_MAGIC),
    "db-is-standalone": _is(MAGIC),
}
