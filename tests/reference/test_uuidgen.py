"""reference.data.uuidgen: fresh UUIDs made in bulk must be ordinary version-4 UUIDs."""

from __future__ import annotations

import copy
import pickle
import uuid

from reference.data import uuidgen


def test_bulk_made_uuids_are_ordinary_random_uuid4s():
    made = [uuidgen.uuid4() for _ in range(3 * 256 + 7)]  # several refills
    assert len(set(made)) == len(made)
    for u in made:
        assert type(u) is uuid.UUID
        assert u.version == 4 and u.variant == uuid.RFC_4122
        assert uuid.UUID(str(u)) == u and hash(u) == hash(uuid.UUID(str(u)))
        assert u.is_safe is uuid.SafeUUID.unknown
    u = made[0]
    assert pickle.loads(pickle.dumps(u)) == u == copy.deepcopy(u)
    # Every random bit varies: OR and AND over many UUIDs leave only the fixed bits.
    fixed = (0xF << 76) | (0x3 << 62)
    ored, anded = 0, (1 << 128) - 1
    for u in made:
        ored |= u.int
        anded &= u.int
    assert ored | fixed == (1 << 128) - 1
    assert anded & ~fixed == 0
