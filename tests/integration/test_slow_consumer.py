"""Slow consumers (proto/PROTOCOL.md, "Slow consumers"): a session that does
not read has its routine items dropped once its queue (session_queue_bytes)
is full, flashes are never dropped, and when only flashes are left over the
bound the session is closed (1013) — while a client that keeps up on the
same daemon gets everything."""

import asyncio
import json
import socket

from conftest import (await_until, connect, in_thread, make_item, metric, run, ws_handshake)

DROPS_U5 = 'newswire_drops_total{reason="overflow",urgency="5"}'
DROPS_U1 = 'newswire_drops_total{reason="overflow",urgency="1"}'
SLOW_CLOSES = 'newswire_session_closes_total{reason="slow_consumer"}'
SESSIONS_JSON = 'newswire_sessions{transport="ws",format="json"}'

BIG = 100 * 1024  # bytes of body text in each routine item
FLASH = 2 * 1024  # bytes of body text in each flash (well under the 16 KiB bound)


async def recv_item(client, want_id, what, timeout=5.0):
    """The next frame, which must be the item want_id."""
    try:
        msg = await client.recv_type("item", timeout=timeout)
    except asyncio.TimeoutError:
        raise AssertionError(f"{what}: not received within {timeout}s") from None
    assert msg["id"] == want_id, (what, msg.get("item", {}).get("headlines"))
    return msg


def stuck_session(daemon, topics="fil"):
    """A raw WebSocket that subscribes through the URL, then never reads,
    with a small receive buffer so that the server's writes block soon."""
    sock, status, headers, _ = ws_handshake(daemon.port, f"/v1/stream?topics={topics}",
                                            rcvbuf=4096)
    assert status == 101, (status, headers)
    return sock


async def overflow_scenario(d, routine_bytes):
    """A reader and a stuck session on topic "fil": routine items (urgency 5,
    routine_bytes of body each) until the stuck session's queue overflows,
    then flashes until it is closed. The reader must get every item."""
    good = await connect(d, topics="fil")
    await good.recv_type("subscribed")
    stuck = stuck_session(d)
    await await_until(lambda: metric(d, SESSIONS_JSON) == 2, what="2 sessions")
    try:
        # The kernel's send buffer for the stuck socket (up to tcp_wmem's
        # maximum, 4 MiB) takes items first: publish until drops show.
        for i in range(2000):
            item = make_item(headline=f"routine {i}", urgency=5,
                             bodies=[{"role": "main", "value": chr(97 + i % 26) * routine_bytes}])
            r = await in_thread(d.publish, item, ["fil"])
            assert r.status == 202, r
            # The client that reads gets every item, in order.
            await recv_item(good, r.json()["id"], f"routine item {i} ({routine_bytes} bytes)")
            if i >= 20 and metric(d, DROPS_U5) >= 3:
                break
        assert metric(d, DROPS_U5) > 0, "no routine item was dropped for the stuck session"
        assert metric(d, SLOW_CLOSES) == 0, "routine items alone must not close a session"

        # Flashes are never dropped: the stuck session is closed instead.
        flashes = 0
        while metric(d, SLOW_CLOSES) == 0:
            assert flashes < 2000, "the stuck session was never closed"
            item = make_item(headline=f"flash {flashes}", urgency=1,
                             bodies=[{"role": "main", "value": "!" * FLASH}])
            r = await in_thread(d.publish, item, ["fil"])
            assert r.status == 202, r
            flashes += 1
            await recv_item(good, r.json()["id"], f"flash {flashes - 1}")
        assert metric(d, SLOW_CLOSES) == 1
        assert metric(d, DROPS_U1) == 0, "a flash was dropped"

        # The stuck session goes; the reader stays and keeps receiving.
        await await_until(lambda: metric(d, SESSIONS_JSON) == 1, timeout=10,
                          what="the stuck session to be closed")
        r = await in_thread(d.publish, make_item(urgency=5), ["fil"])
        assert (await good.recv_type("item"))["id"] == r.json()["id"]
        await good.expect_silence(0.2)
    finally:
        stuck.close()
    await good.close()


def test_large_routine_items_overflow_a_stuck_session_only(start_daemon):
    """Routine items of ~100 KB against a 16 KiB bound: the stuck session
    drops them, the reader on the same daemon still gets every one."""
    d = start_daemon("--set", "session_queue_bytes=16k")
    run(overflow_scenario(d, BIG))


def test_routine_items_overflow_a_stuck_session_only(start_daemon):
    """The same with routine items smaller than the bound (6 KiB)."""
    d = start_daemon("--set", "session_queue_bytes=16k")
    run(overflow_scenario(d, 6 * 1024))


def test_largest_item_reaches_a_subscriber_with_default_settings(daemon):
    """An item as large as ingest accepts (1 MiB body limit) is delivered
    with the default session_queue_bytes (1 MiB): a session that reads is
    never a slow consumer."""
    item = make_item(urgency=5, bodies=[{"role": "main", "value": ""}])
    canonical = len(json.dumps(item, sort_keys=True, separators=(",", ":")))
    item["bodies"] = [{"role": "main", "value": "x" * (512 * 1024)},
                      {"role": "other", "value": "y" * (1024 * 1024 - 64 - canonical - 512 * 1024)}]
    body = json.dumps(item, separators=(",", ":")).encode()
    assert 1024 * 1024 - 100 < len(body) <= 1024 * 1024

    async def scenario():
        c = await connect(daemon, topics="fil")
        await c.recv_type("subscribed")
        r = await in_thread(daemon.publish, body, ["fil"])
        assert r.status == 202, r
        msg = await recv_item(c, r.json()["id"], f"an item of {len(body)} bytes")
        assert msg["item"] == item
        assert metric(daemon, DROPS_U5) == 0
        await c.close()

    run(scenario())


def test_stuck_session_sees_close_1013(start_daemon):
    """Once closed as a slow consumer, what the stuck client finally reads
    ends with a close frame 1013."""
    d = start_daemon("--set", "session_queue_bytes=16k")

    async def scenario():
        stuck = stuck_session(d)
        try:
            n = 0
            while metric(d, SLOW_CLOSES) == 0:
                assert n < 2000, "the stuck session was never closed"
                r = await in_thread(d.publish, make_item(urgency=1, bodies=[
                    {"role": "main", "value": "!" * FLASH}]), ["fil"])
                assert r.status == 202, r
                n += 1
            # Now read everything: frames, then a close frame with 1013.
            stuck.settimeout(10)
            data = b""
            while True:
                try:
                    chunk = stuck.recv(1 << 20)
                except socket.timeout:
                    break
                if not chunk:
                    break
                data += chunk
            code = last_close_code(data)
            assert code == 1013, f"close code {code}"
        finally:
            stuck.close()

    run(scenario())


def last_close_code(data):
    """Walks server frames (unmasked) and returns the close code, or None."""
    pos = 0
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        opcode, n, pos = b0 & 0x0F, b1 & 0x7F, pos + 2
        if n == 126:
            n, pos = int.from_bytes(data[pos:pos + 2], "big"), pos + 2
        elif n == 127:
            n, pos = int.from_bytes(data[pos:pos + 8], "big"), pos + 8
        payload, pos = data[pos:pos + n], pos + n
        if opcode == 0x8:
            return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
    return None
