"""Schema parsing: round trip against what the real ovsdb-server's get_schema returns,
implicit columns, isRoot defaults, and invalid schemas that must be rejected."""

from __future__ import annotations

import copy

import orjson
import pytest

from harness.targets.server import OVN_NB, OVN_SB, VSWITCH
from reference.data.errors import OvsdbError
from reference.data.schema import load_schema, parse_schema
from reference.data.types import UNLIMITED

# A small schema that exercises every kind of type and constraint; the transaction
# tests (unit and differential) run against it.
TEST_SCHEMA = {'name': 'T',
     'version': '1.2.3',
     'tables': {'Root': {'isRoot': True,
                         'columns': {'name': {'type': 'string'},
                                     'i': {'type': 'integer'},
                                     'r': {'type': 'real'},
                                     'b': {'type': 'boolean'},
                                     'u': {'type': 'uuid'},
                                     'ri': {'type': {'key': {'type': 'integer',
                                                             'minInteger': 0,
                                                             'maxInteger': 10},
                                                     'min': 0,
                                                     'max': 1}},
                                     'rmin': {'type': {'key': {'type': 'integer', 'minInteger': 5},
                                                       'min': 0,
                                                       'max': 1}},
                                     'rmax': {'type': {'key': {'type': 'integer', 'maxInteger': 5},
                                                       'min': 0,
                                                       'max': 1}},
                                     'rr': {'type': {'key': {'type': 'real',
                                                             'minReal': -1.5,
                                                             'maxReal': 2.5},
                                                     'min': 0,
                                                     'max': 1}},
                                     'e': {'type': {'key': {'type': 'string',
                                                            'enum': ['set',
                                                                     ['a1', 'b', 'c d', 'true']]},
                                                    'min': 0,
                                                    'max': 1}},
                                     'sl': {'type': {'key': {'type': 'string',
                                                             'minLength': 2,
                                                             'maxLength': 4},
                                                     'min': 0,
                                                     'max': 1}},
                                     'opt': {'type': {'key': 'integer', 'min': 0, 'max': 1}},
                                     'iset': {'type': {'key': 'integer',
                                                       'min': 0,
                                                       'max': 'unlimited'}},
                                     'rset': {'type': {'key': 'real',
                                                       'min': 0,
                                                       'max': 'unlimited'}},
                                     'sset3': {'type': {'key': 'string', 'min': 1, 'max': 3}},
                                     'smap': {'type': {'key': 'string',
                                                       'value': 'string',
                                                       'min': 0,
                                                       'max': 'unlimited'}},
                                     'imap': {'type': {'key': 'integer',
                                                       'value': {'type': 'integer',
                                                                 'maxInteger': 100},
                                                       'min': 0,
                                                       'max': 2}},
                                     'imm': {'type': 'string', 'mutable': False},
                                     'eph': {'type': 'integer', 'ephemeral': True},
                                     'kids': {'type': {'key': {'type': 'uuid', 'refTable': 'Kid'},
                                                       'min': 0,
                                                       'max': 'unlimited'}},
                                     'weak': {'type': {'key': {'type': 'uuid',
                                                               'refTable': 'Kid',
                                                               'refType': 'weak'},
                                                       'min': 0,
                                                       'max': 'unlimited'}},
                                     'wmap': {'type': {'key': 'string',
                                                       'value': {'type': 'uuid',
                                                                 'refTable': 'Kid',
                                                                 'refType': 'weak'},
                                                       'min': 0,
                                                       'max': 'unlimited'}}},
                         'indexes': [['name']]},
                'Kid': {'columns': {'name': {'type': 'string'},
                                    'parent': {'type': {'key': {'type': 'uuid', 'refTable': 'Kid'},
                                                        'min': 0,
                                                        'max': 1}},
                                    'n': {'type': 'integer'}}},
                'Lim': {'isRoot': True,
                        'maxRows': 2,
                        'columns': {'a': {'type': 'integer'}, 'b': {'type': 'string'}},
                        'indexes': [['a', 'b'], ['b']]},
                'W1': {'isRoot': True,
                       'columns': {'weak1': {'type': {'key': {'type': 'uuid',
                                                              'refTable': 'Kid',
                                                              'refType': 'weak'},
                                                      'min': 1,
                                                      'max': 2}},
                                   'x': {'type': 'integer'}}},
                'Cons': {'isRoot': True,
                         'columns': {'rmin': {'type': {'key': {'type': 'integer',
                                                               'minInteger': 5}}}}}}}


def test_test_schema_parses():
    s = parse_schema(TEST_SCHEMA)
    root = s.tables["Root"]
    assert list(root.columns)[:2] == ["_uuid", "_version"]
    assert not root.columns["_uuid"].mutable
    assert root.columns["iset"].type.n_max == UNLIMITED
    assert root.columns["iset"].type.is_set and not root.columns["i"].type.is_set
    assert root.columns["opt"].type.is_optional and root.columns["opt"].type.is_set
    assert root.columns["smap"].type.is_map
    assert root.columns["kids"].type.key.is_strong_ref
    assert root.columns["weak"].type.key.is_weak_ref
    assert not s.tables["Kid"].is_root and s.tables["Lim"].max_rows == 2
    assert s.tables["Lim"].indexes == (("a", "b"), ("b",))
    assert root.columns["eph"].ephemeral and not root.columns["imm"].mutable


def test_round_trip_is_stable_and_drops_defaults():
    j = parse_schema(TEST_SCHEMA).to_json()
    assert parse_schema(j).to_json() == j
    # OVS writes min/max only where they differ from 1 (compared with the real
    # get_schema output in test_txn_vs_ovs.py).
    assert j["tables"]["Root"]["columns"]["opt"] == {"type": {"key": "integer", "min": 0}}
    assert j["tables"]["Root"]["columns"]["sset3"] == {"type": {"key": "string", "max": 3}}
    assert j["tables"]["Root"]["isRoot"] is True and "isRoot" not in j["tables"]["Kid"]


@pytest.mark.parametrize("path", [OVN_NB, OVN_SB, VSWITCH])
def test_shipped_schemas_round_trip(path):
    raw = orjson.loads(open(path, "rb").read())
    s = load_schema(path)
    again = parse_schema(s.to_json())
    assert again.to_json() == s.to_json()
    assert set(s.tables) == set(raw["tables"])
    assert s.version == raw["version"] and s.cksum == raw.get("cksum")


def test_no_root_means_all_root_and_is_not_written():
    j = {"name": "D", "tables": {"A": {"columns": {"x": {"type": "integer"}}},
                                 "B": {"columns": {"y": {"type": "integer"}}}}}
    s = parse_schema(j)
    assert all(t.is_root for t in s.tables.values())
    assert "isRoot" not in s.to_json()["tables"]["A"]


def test_weak_refs_are_always_mutable():
    j = {"name": "D", "tables": {"A": {"columns": {"w": {"type": {"key": {
        "type": "uuid", "refTable": "A", "refType": "weak"}}, "mutable": False}}}}}
    assert parse_schema(j).tables["A"].columns["w"].mutable


def test_type_english():
    s = parse_schema(TEST_SCHEMA).tables["Root"].columns
    assert s["i"].type.to_english() == "integer"
    assert s["iset"].type.to_english() == "set of integers"
    assert s["sset3"].type.to_english() == "set of 1 to 3 strings"
    assert s["opt"].type.to_english() == "set of up to 1 integers"
    assert s["imap"].type.to_english() == "map of up to 2 (integer, integer) pairs"
    assert s["smap"].type.to_english() == "map of (string, string) pairs"


def _bad(mutate):
    j = copy.deepcopy(TEST_SCHEMA)
    mutate(j)
    return j


@pytest.mark.parametrize("bad", [
    _bad(lambda j: j.pop("name")),
    _bad(lambda j: j.update(version="1.2")),
    _bad(lambda j: j["tables"]["Root"]["columns"].update(_x={"type": "integer"})),
    _bad(lambda j: j["tables"]["Root"]["columns"].update(x={"type": "int"})),
    _bad(lambda j: j["tables"]["Root"]["columns"].update(x={"type": {"key": "integer",
                                                                      "min": 2, "max": 3}})),
    _bad(lambda j: j["tables"]["Root"]["columns"].update(x={"type": {"key": "integer",
                                                                      "max": 0}})),
    _bad(lambda j: j["tables"]["Root"]["columns"].update(x={"type": {"key": {
        "type": "uuid", "refTable": "Nope"}}})),
    _bad(lambda j: j["tables"]["Root"]["columns"].update(x={"type": {"key": {
        "type": "integer", "minInteger": 5, "maxInteger": 1}}})),
    _bad(lambda j: j["tables"]["Root"]["columns"].update(x={"type": {"key": {
        "type": "string", "minInteger": 5}}})),
    _bad(lambda j: j["tables"]["Root"].update(indexes=[["nope"]])),
    _bad(lambda j: j["tables"]["Root"].update(indexes=[["eph"]])),
    # found by the core fuzz target (convert): iterating it raised TypeError
    _bad(lambda j: j["tables"]["Root"].update(indexes=True)),
    _bad(lambda j: j["tables"]["Root"].update(maxRows=0)),
    _bad(lambda j: j["tables"]["Root"].update(frob=1)),
    _bad(lambda j: j["tables"]["Root"].update(columns={})),
])
def test_invalid_schemas_are_rejected(bad):
    with pytest.raises(OvsdbError) as e:
        parse_schema(bad)
    assert e.value.error == "syntax error"


BAD_SCHEMAS = [
    {"tables": {}},
    {"name": "D", "version": "1.2", "tables": {}},
    {"name": "D", "tables": {"A": {"columns": {"_x": {"type": "integer"}}}}},
    {"name": "D", "tables": {"A": {"columns": {"x": {"type": "int"}}}}},
    {"name": "D", "tables": {"A": {"columns": {"x": {"type": {"key": "integer", "min": 2,
                                                              "max": 3}}}}}},
    {"name": "D", "tables": {"A": {"columns": {"x": {"type": {"key": {
        "type": "uuid", "refTable": "Nope"}}}}}}},
    {"name": "D", "tables": {"A": {"columns": {"x": {"type": {"key": {
        "type": "integer", "minInteger": 5, "maxInteger": 1}}}}}}},
    {"name": "D", "tables": {"A": {"columns": {"x": {"type": "integer"}},
                                   "indexes": [["nope"]]}}},
    {"name": "D", "tables": {"A": {"columns": {"x": {"type": "integer", "ephemeral": True}},
                                   "indexes": [["x"]]}}},
    {"name": "D", "tables": {"A": {"columns": {"x": {"type": "integer"}}, "maxRows": 0}}},
    {"name": "D", "tables": {"A": {"columns": {"x": {"type": "integer"}}, "frob": 1}}},
    {"name": "D", "tables": {"A": {"columns": {}}}},
    {"name": "D", "tables": {"A": {"columns": {"x": {"type": {"key": {
        "type": "string", "minInteger": 1}}}}}}},
]


def test_invalid_schema_messages_match_ovsdb_tool(tmp_path):
    import subprocess
    for i, bad in enumerate(BAD_SCHEMAS):
        path = tmp_path / f"bad{i}.ovsschema"
        path.write_bytes(orjson.dumps(bad))
        res = subprocess.run(["ovsdb-tool", "create", str(tmp_path / f"bad{i}.db"), str(path)],
                             capture_output=True, text=True)
        assert res.returncode != 0
        theirs = res.stderr.strip().split("as ovsdb schema: ", 1)[1]
        with pytest.raises(OvsdbError) as e:
            parse_schema(bad)
        assert (e.value.error, e.value.details) == ("syntax error", theirs), bad
