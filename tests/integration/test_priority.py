"""Flashes jump a backlog (proto/PROTOCOL.md, "item": "flashes and
bulletins (urgency 1-2) queued behind routine items are sent first; such an
item carries `cursor`"): a session that does not read builds a backlog of
routine items in its output queue; a flash published then is written before
them, with `cursor` = the id of the last item written before it in wire
order; resuming from that cursor replays the routine items it jumped."""

import json

from conftest import make_item, metric, run, stream_id, wait_until, ws_handshake
from resume_helpers import published, read_items, read_raw_until, resume_op

QUEUED = "newswire_queued_bytes"
BODY = 16 * 1024
BACKLOG = 128 * 1024  # bytes that must wait in the session's queue before the flash


def backlog_then_flash(d):
    """A raw session on prio/# that reads nothing gets routine items until
    some of them wait in its output queue, then a flash; then it reads
    everything. Returns (routine receipts, flash receipt, flash item, item
    messages in arrival order)."""
    sock, status, headers, leftover = ws_handshake(d.port, "/v1/stream?topics=prio/%23",
                                                   rcvbuf=4096)
    assert status == 101, (status, headers)
    try:
        wait_until(lambda: metric(d, "newswire_subscriptions") == 1, what="the subscription")
        routine = []
        # routine items until some of them wait in the session's own queue
        # (the socket buffers are full: the client reads nothing)
        while metric(d, QUEUED) < BACKLOG:
            assert len(routine) < 600, "no backlog builds up for a client that does not read"
            item = make_item(headline=f"routine {len(routine)}", urgency=5 + len(routine) % 5,
                             bodies=[{"role": "main", "value": "r" * BODY}])
            routine.append(published(d, item, ["prio/a"]))
        flash_item = make_item(headline="FLASH", urgency=1)
        flash = published(d, flash_item, ["prio/b"])
        assert stream_id(flash["id"]) > stream_id(routine[-1]["id"])

        # now read everything: hello, subscribed, the routine items and the flash
        def all_items(msgs):
            return sum(1 for _, p in msgs if b'"type":"item"' in p[:64] or
                       b'"cursor"' in p[:64]) >= len(routine) + 1
        raw = read_raw_until(sock, all_items, timeout=30, data=leftover)
    finally:
        sock.close()
    frames = [json.loads(p) for op, p in raw if op == 1]
    assert [f["type"] for f in frames[:2]] == ["hello", "subscribed"]
    items = [f for f in frames if f["type"] == "item"]
    assert metric(d, 'newswire_drops_total{reason="overflow",urgency="5"}') == 0
    return routine, flash, flash_item, items


def test_flash_jumps_a_backlog_and_carries_its_cursor(start_daemon):
    # a queue bound large enough that nothing is dropped: the order is the
    # only thing under test
    d = start_daemon("--set", "session_queue_bytes=32m")
    routine, flash, flash_item, items = backlog_then_flash(d)
    ids = [m["id"] for m in items]
    assert sorted(ids, key=stream_id) == [r["id"] for r in routine] + [flash["id"]], \
        "an item is missing or came twice"
    at = ids.index(flash["id"])
    m = items[at]
    assert m["urgency"] == 1 and m["item"] == flash_item
    # it came before routine items published (and queued) before it
    assert at < len(routine), "the flash did not jump the backlog"
    jumped = ids[at + 1:]
    assert jumped and all(stream_id(i) < stream_id(flash["id"]) for i in jumped)
    # ... and tells where to resume: the last item written before it in order
    assert "cursor" in m, m
    assert at > 0, "no routine item was written before the flash"
    assert m["cursor"] == ids[at - 1], (m["cursor"], ids[at - 1])
    # items sent in order carry no cursor
    assert all("cursor" not in x for i, x in enumerate(items) if i != at)


def test_resume_from_a_flash_cursor_replays_what_it_jumped(start_daemon):
    d = start_daemon("--set", "session_queue_bytes=32m")
    routine, flash, flash_item, items = backlog_then_flash(d)
    ids = [m["id"] for m in items]
    at = ids.index(flash["id"])
    cursor = items[at]["cursor"]
    jumped = ids[at + 1:]
    assert jumped

    async def resume():
        # a client that kept the flash's cursor gets the items it jumped
        # (and the flash again, which is after that cursor on the wire);
        # `subscribed` comes first (PROTOCOL.md, "Resuming", steps 2-3)
        c, sub = await resume_op(d, ["prio/#"], cursor)
        assert sub["recovered"] is True, sub
        got = await read_items(c, len(jumped) + 1, timeout=10, what="replayed items")
        # (the flash may jump the replayed routine items again)
        assert sorted((x["id"] for x in got), key=stream_id) == \
            sorted(jumped + [flash["id"]], key=stream_id)
        await c.expect_silence(0.3)
        await c.close()

    run(resume())
