"""Sessions for the methods that do not touch data: list_dbs, get_schema,
get_server_id, echo, set_db_change_aware, and what happens to unknown ones."""

from tests.reference.sessions import DB, note, req

SESSIONS = {
    "list_dbs": [req(1, "list_dbs")],
    "list_dbs_extra_param": [req(1, "list_dbs", "x")],
    "get_schema": [req(1, "get_schema", DB)],
    "get_schema_server": [req(1, "get_schema", "_Server")],
    "get_schema_unknown_db": [req(1, "get_schema", "Nope", expect_error="unknown database")],
    "get_schema_no_params": [req(1, "get_schema")],
    "get_schema_wrong_type": [req(1, "get_schema", 5)],
    "get_server_id": [req(1, "get_server_id"), req(2, "get_server_id", c=1)],
    "echo": [req("e", "echo", "hello", [1, {"a": None}], 2.5)],
    "echo_empty": [req(["list", "id"], "echo")],
    "echo_notification": [note("echo", "x"), req(1, "list_dbs")],
    "unknown_method": [req(1, "frobnicate", 1, 2, expect_error="unknown method")],
    "unknown_method_notification": [note("frobnicate", 1), req(2, "list_dbs")],
    "reply_from_client": [
        {"c": 0, "send": {"result": [1], "error": None, "id": 99}},
        req(1, "list_dbs"),
    ],
    "error_reply_from_client": [
        {"c": 0, "send": {"result": None, "error": "boom", "id": 98}},
        req(1, "list_dbs"),
    ],
    "set_db_change_aware": [
        req(1, "set_db_change_aware", True),
        req(2, "set_db_change_aware", False),
        req(3, "set_db_change_aware"),
        req(4, "set_db_change_aware", "yes"),
    ],
    "string_and_object_ids": [
        req("abc", "list_dbs"), req({"k": [1]}, "list_dbs"), req(0.5, "list_dbs"),
    ],
    "params_not_array": [{"c": 0, "send": {"method": "list_dbs", "params": {"a": 1}, "id": 1}}],
    "missing_params": [{"c": 0, "send": {"method": "list_dbs", "id": 1}}],
    "extra_member": [{"c": 0, "send": {"method": "list_dbs", "params": [], "id": 1, "x": 2}}],
}
