"""The agent's stream batches: items packed in one frame come out the same, in order; a
damaged batch is an error, never a wrong item."""

from __future__ import annotations

import pytest

from rosweb.graph.remote.wire import pack_batch, unpack_batch


def test_items_come_out_as_they_went_in() -> None:
    items = [(b"/odom", b"\xa1" * 900), (b"/scan\x003", b""), (b"", b"x"), (b"/big", b"y" * 70000)]
    assert list(unpack_batch(pack_batch(items))) == items
    assert list(unpack_batch(pack_batch([]))) == []


@pytest.mark.parametrize("cut", [1, 7, 8, 12, 20])
def test_a_truncated_batch_is_refused(cut: int) -> None:
    blob = pack_batch([(b"/odom", b"0123456789")])
    with pytest.raises(ValueError, match="truncated"):
        list(unpack_batch(blob[:-cut]))
