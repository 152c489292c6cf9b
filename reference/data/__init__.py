"""The data layer, lowest of all: column types, schemas, values (datums), where-clauses,
OVS's hash order, UUIDs, errors, and the in-memory database with its change sets."""
