"""Graceful drain (proto/PROTOCOL.md, "Closing"): on SIGTERM the daemon
flushes what it queued for each session, closes it with 1012 "service
restart", and exits 0; the clients resume on another instance (same Redis,
same prefix) and get nothing twice and nothing missing."""

import asyncio
import json
import threading
import time

import websockets

from conftest import (await_until, connect, in_thread, make_item, metric, run, stream_id,
                      wait_until, ws_handshake)
from resume_helpers import (assert_increasing, cursor_of, parse_frames, published, resume_op,
                            second_instance)

CLIENTS = 3


def test_sigterm_drains_then_clients_resume_on_another_instance(start_daemon):
    d1 = start_daemon()
    d2 = second_instance(start_daemon, d1)
    receipts = {"before": [], "during": [], "after": []}
    lock = threading.Lock()

    def pub(daemon, phase, i):
        item = make_item(headline=f"{phase} {i}", urgency=3 + i % 7,
                         bodies=[{"role": "main", "value": "x" * 2000}])
        r = published(daemon, item, ["drain/a" if i % 2 else "drain/b/c"])
        with lock:
            receipts[phase].append(r)

    async def scenario():
        clients = []
        for _ in range(CLIENTS):
            c = await connect(d1, topics="drain/#")
            await c.recv_type("subscribed")
            clients.append(c)
        # before: published and queued on d1 while the clients read nothing
        for i in range(40):
            await in_thread(pub, d1, "before", i)
        await await_until(lambda: metric(d1, "newswire_deliveries_total") == 40 * CLIENTS,
                          what="d1 to queue every item to every session")

        # during: a publisher on d2 keeps going while d1 drains
        stop = threading.Event()

        def publisher():
            i = 0
            while not stop.is_set() or i < 5:
                pub(d2, "during", i)
                i += 1
                time.sleep(0.005)

        thread = threading.Thread(target=publisher, daemon=True)
        thread.start()
        await await_until(lambda: len(receipts["during"]) >= 3, what="publishes during")
        rc_task = asyncio.ensure_future(in_thread(d1.stop))

        async def read_until_closed(c):
            got = []
            while True:
                try:
                    got.append(await c.recv(timeout=15))
                except websockets.ConnectionClosed:
                    return got

        sessions = await asyncio.gather(*(read_until_closed(c) for c in clients))
        assert await rc_task == 0, "newswired did not exit 0 after the drain"
        stop.set()
        thread.join(20)
        closes = [(c.ws.close_code, c.ws.close_reason) for c in clients]
        before_ids = [r["id"] for r in receipts["before"]]
        for got in sessions:
            assert all(m["type"] == "item" for m in got), got[:3]
            ids = [m["id"] for m in got]
            assert ids[:len(before_ids)] == before_ids, "queued items were not all flushed"
            assert_increasing(ids)

        # after: d1 is gone
        for i in range(10):
            await in_thread(pub, d2, "after", i)
        everything = [r["id"] for phase in ("before", "during", "after")
                      for r in receipts[phase]]
        everything.sort(key=stream_id)
        assert len(receipts["during"]) >= 5

        for c, got in zip(clients, sessions):
            cursor = cursor_of(got[-1])
            rc, sub = await resume_op(d2, ["drain/#"], cursor)
            assert sub["recovered"] is True, sub
            rest = []
            want = len(everything) - len(got)
            while len(rest) < want:
                try:
                    rest.append(await rc.recv_type("item", timeout=5))
                except asyncio.TimeoutError:
                    raise AssertionError(f"got {len(rest)} of {want} after the resume") from None
            await rc.expect_silence(0.3)
            await rc.close()
            ids = [m["id"] for m in got] + [m["id"] for m in rest]
            assert len(ids) == len(set(ids)), "an item came twice"
            assert ids == everything, "an item is missing or out of order"
        # (checked last, so that a failure here still says whether anything
        # was lost)
        assert closes == [(1012, "service restart")] * CLIENTS, closes

    run(scenario())


def test_sigterm_with_idle_clients_closes_1012(start_daemon):
    d = start_daemon()

    async def scenario():
        clients = []
        for _ in range(CLIENTS):
            c = await connect(d, topics="drain")
            await c.recv_type("subscribed")
            clients.append(c)
        rc_task = asyncio.ensure_future(in_thread(d.stop))
        for c in clients:
            try:
                msg = await c.recv(timeout=10)
                raise AssertionError(f"unexpected frame {msg}")
            except websockets.ConnectionClosed:
                pass
            assert c.ws.close_code == 1012 and c.ws.close_reason == "service restart"
        assert await rc_task == 0

    run(scenario())


def test_sigterm_flushes_a_backlog_then_sends_1012(start_daemon):
    """A client that reads slowly has a backlog in its session queue (and
    in the socket) when the daemon is told to stop: it still gets every
    queued item, then the close frame 1012 "service restart"."""
    d = start_daemon()
    sock, status, headers, data = ws_handshake(d.port, "/v1/stream?topics=drain", rcvbuf=4096)
    assert status == 101, (status, headers)
    try:
        wait_until(lambda: metric(d, "newswire_subscriptions") == 1, what="the subscription")
        receipts = []
        while metric(d, "newswire_queued_bytes") < 200 * 1024:
            assert len(receipts) < 600, "no backlog builds up for a client that does not read"
            item = make_item(headline=f"file {len(receipts)}",
                             bodies=[{"role": "main", "value": "x" * 16000}])
            receipts.append(published(d, item, ["drain"]))
        result = {}
        stopper = threading.Thread(target=lambda: result.setdefault("rc", d.stop()),
                                   daemon=True)
        stopper.start()
        sock.settimeout(15)
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            data += chunk
        stopper.join(20)
    finally:
        sock.close()
    assert result.get("rc") == 0, result
    msgs, leftover = parse_frames(data)
    assert leftover == b"", "the stream ends in the middle of a frame"
    texts = [p for op, p in msgs if op == 1]
    ids = [json.loads(p)["id"] for p in texts[2:]]
    assert ids == [r["id"] for r in receipts], "queued items were not all flushed"
    op, payload = msgs[-1]
    assert op == 8, f"no close frame after the last item (last opcode {op})"
    assert int.from_bytes(payload[:2], "big") == 1012
    assert payload[2:] == b"service restart"
