"""``crucible db ...``: small tools for database files (cf. ``ovsdb-tool``).

    crucible db create DBFILE SCHEMA     new file holding only SCHEMA (like ovsdb-tool create)
    crucible db show-log [-m] DBFILE     one line per record (-m: also the rows it touches)
    crucible db repair DBFILE            drop everything from the first damaged record on
    crucible db compact DBFILE [DST]     rewrite as schema + one snapshot (in place or to DST)
    crucible db db-name DBFILE           the schema's name (standalone or clustered)
    crucible db db-version DBFILE        the schema's version
    crucible db create-cluster DBFILE SCHEMA LOCAL [--election-timer=MS]
    crucible db join-cluster DBFILE NAME LOCAL REMOTE... [--cid=UUID]
    crucible db cluster-to-standalone STANDALONE-DBFILE CLUSTERED-DBFILE
    crucible db db-cid|db-sid|db-local-address DBFILE    from a clustered file's header
    crucible db db-is-clustered|db-is-standalone DBFILE  exit 0 if so, 2 if not

Exit status 0 on success, 1 on a failure the message explains, 2 on bad usage (the
cluster commands answer bad arguments with one line and status 1, as ovsdb-tool does).
"""

from __future__ import annotations

import datetime
import re
import sys

import orjson

from reference.storage import cluster_tool, log_file

USAGE = __doc__.split("\n\n")[1]

_ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VERSION_RE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+")


def schema_problem(schema: object) -> str | None:
    """A first sanity check of a schema's shape; the full check belongs to the schema
    module, this only keeps obviously broken files out of a new database."""
    if not isinstance(schema, dict):
        return "Schema must be a JSON object."
    for member in ("name", "tables"):
        if member not in schema:
            return f"Required '{member}' member is missing."
    name = schema["name"]
    if not isinstance(name, str) or not _ID_RE.fullmatch(name):
        return f"Database name {name!r} is not a valid identifier."
    version = schema.get("version")
    if version is not None and (not isinstance(version, str)
                                or not _VERSION_RE.fullmatch(version)):
        return f"Schema version {version!r} is not of the form x.y.z."
    tables = schema["tables"]
    if not isinstance(tables, dict):
        return "'tables' must be a JSON object."
    for tname, table in tables.items():
        if not _ID_RE.fullmatch(tname) or tname.startswith("_"):
            return f"Table name {tname!r} is not a valid identifier."
        if not isinstance(table, dict) or not isinstance(table.get("columns"), dict):
            return f"Table {tname}: required 'columns' member is missing or not an object."
        for cname, column in table["columns"].items():
            if not _ID_RE.fullmatch(cname) or cname.startswith("_"):
                return f"Table {tname}: column name {cname!r} is not a valid identifier."
            if not isinstance(column, dict) or "type" not in column:
                return f"Table {tname}, column {cname}: required 'type' member is missing."
    return None


def _read_schema(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise log_file.StorageError(f'failed to read schema: "{path}" could not be read as '
                                   f'JSON (error opening "{path}": {e.strerror})') from None
    try:
        schema = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise log_file.StorageError(f'failed to read schema: "{path}" could not be read as '
                                   f'JSON ({e})') from None
    problem = schema_problem(schema)
    if problem:
        raise log_file.StorageError(f'failed to parse "{path}" as ovsdb schema: {problem}')
    return _canonical(path, schema)


def _canonical(path: str, schema: dict) -> dict:
    """The schema as ovsdb-tool writes it: fully checked, then re-serialised the way
    get_schema returns it.  Falls back to the file's own JSON (already sanity-checked)
    while the schema module cannot be loaded."""
    try:
        from reference.data.errors import OvsdbError
        from reference.data.schema import parse_schema
    except ImportError:
        return schema
    try:
        return parse_schema(schema).to_json()
    except OvsdbError as e:
        details = getattr(e, "details", None) or str(e)
        raise log_file.StorageError(f'failed to parse "{path}" as ovsdb schema: '
                                   f'{details}') from None
    except ImportError:
        return schema


def cmd_create(args: list[str]) -> int:
    if len(args) != 2:
        return _usage("create needs DBFILE and SCHEMA")
    dbfile, schema_path = args
    log_file.create(dbfile, _read_schema(schema_path))
    return 0


def _describe(i: int, rec: dict, verbose: bool) -> list[str]:
    if i == 0:
        return [f'record 0: "{rec.get("name")}" schema, version="{rec.get("version", "")}"']
    head = f"record {i}:"
    if "_date" in rec:
        when = datetime.datetime.fromtimestamp(rec["_date"] / 1000, datetime.timezone.utc)
        head += " " + when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"
    if "_comment" in rec:
        head += f' "{rec["_comment"]}"'
    lines = [head]
    if verbose:
        for table, rows in rec.items():
            if table.startswith("_") or not isinstance(rows, dict):
                continue
            for uuid, row in rows.items():
                what = "delete row" if row is None else "row"
                lines.append(f"  table {table} {what} {uuid[:8]}")
                if isinstance(row, dict):
                    lines += [f"    {col}={orjson.dumps(val).decode()}" for col, val in row.items()]
    return lines


def cmd_show_log(args: list[str]) -> int:
    verbosity = 0
    while args and (args[0].startswith("-m") or args[0] == "--more"):
        verbosity += 1 if args[0] == "--more" else len(args[0]) - 1
        args = args[1:]
    if len(args) != 1:
        return _usage("show-log needs DBFILE")
    if cluster_tool.is_clustered(args[0]):
        return cluster_tool.cluster_show_log(args[0], verbosity)
    verbose = verbosity > 0
    parsed = log_file.read(args[0])
    for i, rec in enumerate(parsed.records):
        print("\n".join(_describe(i, rec, verbose)))
    if parsed.bad:
        print(parsed.bad.message, file=sys.stderr)
        return 1
    return 0


def cmd_repair(args: list[str]) -> int:
    if len(args) != 1:
        return _usage("repair needs DBFILE")
    log, _, records = log_file.LogFile.open(args[0], repair=True)
    log.close()
    print(f"{args[0]}: {len(records)} transaction records kept")
    return 0


def cmd_compact(args: list[str]) -> int:
    if len(args) not in (1, 2):
        return _usage("compact needs DBFILE and optionally DST")
    # The record contents (folding transactions, taking a snapshot) are the records
    # module's job; this command only moves them between files.
    from reference.data.database import Database
    from reference.data.schema import parse_schema
    from reference.storage.records import apply_file_record, database_to_file_record

    log, schema_json, records = log_file.LogFile.open(args[0])
    try:
        database = Database(parse_schema(schema_json))
        for record in records:
            apply_file_record(database, record)
        # ovsdb-tool compact labels its snapshot "compacted by ovsdb-tool 3.1.0".
        snapshot = database_to_file_record(database, comment="compacted by crucible db")
        if len(args) == 1:
            log.compact(schema_json, snapshot)
            return 0
    finally:
        log.close()
    log_file.create(args[1], schema_json)
    out, _, _ = log_file.LogFile.open(args[1])
    with out:
        out.append(snapshot, durable=True)
    return 0


def cmd_schema_field(field: str, args: list[str]) -> int:
    if len(args) != 1:
        return _usage(f"db-{field} needs DBFILE")
    if cluster_tool.is_clustered(args[0]):
        if field != "name":
            raise log_file.StorageError(f"{args[0]}: is a clustered database; its schema "
                                        f"is in the log, not in a header")
        print(cluster_tool.cluster_db_name(args[0]))
        return 0
    parsed = log_file.read(args[0])
    if not parsed.records:
        raise log_file.CorruptLogError(parsed.bad.message if parsed.bad else "no schema record")
    print(parsed.records[0].get(field, ""))
    return 0


COMMANDS = {
    "create": cmd_create,
    "show-log": cmd_show_log,
    "repair": cmd_repair,
    "compact": cmd_compact,
    "db-name": lambda a: cmd_schema_field("name", a),
    "db-version": lambda a: cmd_schema_field("version", a),
    "create-cluster": lambda a: cluster_tool.cmd_create_cluster(a, _read_schema),
    **cluster_tool.COMMANDS,
}


def _usage(problem: str) -> int:
    print(f"crucible db: {problem}\n\n{USAGE}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # ovsdb-tool takes options before the command (--election-timer, --cid, -m): let
    # them come first here too, by moving them behind the command name.
    lead = 0
    while lead < len(argv) and argv[lead].startswith("-") and argv[lead] not in (
            "-h", "--help"):
        lead += 1
    if 0 < lead < len(argv):
        argv = [argv[lead], *argv[:lead], *argv[lead + 1:]]
    if not argv or argv[0] in ("-h", "--help", "help") or any(
            a in ("-h", "--help") for a in argv[1:]):
        print(USAGE)  # "show-log --help" asks for help: it does not name a file
        return 0
    cmd = COMMANDS.get(argv[0])
    if cmd is None:
        return _usage(f"unknown command {argv[0]!r}")
    try:
        return cmd(argv[1:])
    except cluster_tool.UsageError as e:
        print(f"crucible db: {e}", file=sys.stderr)
        return 1
    except log_file.StorageError as e:
        print(f"crucible db: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"crucible db: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
