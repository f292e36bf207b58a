"""Chaos: Redis restarts in the middle of a stream of 1,000 publishes while
three subscribers keep disconnecting and resuming (and reconnect with their
cursor whenever the server closes them, 1013 included). Every item that got
a 2xx reaches every subscriber exactly once (DESIGN.md: "no data loss when
Redis or an instance restarts"; PROTOCOL.md "Resuming", "503")."""

import asyncio
import http.client
import random
import threading
import time

import websockets

from conftest import Client, make_item, run, stream_id
from resume_helpers import cursor_of, drop, published

TOTAL = 1000
SUBSCRIBERS = 3
RESTART_AT = (250, 650)  # receipts count at which Redis is restarted


def test_redis_restart_mid_stream_loses_and_duplicates_nothing(private_redis, start_daemon):
    d = start_daemon("--set", "redis_reconnect_max=250ms", "--set", "redis_command_timeout=2s",
                     redis_url=private_redis.url)
    marker = published(d, make_item(headline="départ"), ["chaos"])
    receipts = []          # (index, id) in order of acknowledgement
    unavailable = [0]      # 503 answers and refused connections seen by the publisher
    restarts = []
    errors = []
    done = threading.Event()
    deadline = time.monotonic() + 50

    def publish_until_acknowledged(i):
        item = make_item(headline=f"chaos {i}", urgency=3 + i % 7)
        topics = ["chaos/a"] if i % 3 else ["chaos/b", "autre"]
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"item {i} never acknowledged")
            try:
                r = d.publish(item, topics)
            except (OSError, http.client.HTTPException):
                unavailable[0] += 1
                time.sleep(0.05)
                continue
            if r.status == 503:
                unavailable[0] += 1
                time.sleep(0.05)
                continue
            assert r.status in (200, 202), r
            body = r.json()
            assert body["status"] in ("published", "duplicate"), body
            return body["id"]

    def publisher():
        try:
            for i in range(TOTAL):
                receipts.append((i, publish_until_acknowledged(i)))
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()

    def restarter():
        try:
            for at in RESTART_AT:
                while len(receipts) < at and not done.is_set():
                    time.sleep(0.005)
                if done.is_set():
                    return
                private_redis.stop()
                t0 = time.monotonic()
                seen = unavailable[0]
                # away long enough for publishes to be refused and for
                # subscribers to try resuming meanwhile
                while (unavailable[0] < seen + 3 or time.monotonic() - t0 < 1.0) and \
                        time.monotonic() - t0 < 3:
                    time.sleep(0.01)
                private_redis.start()
                restarts.append(time.monotonic() - t0)
        except BaseException as e:
            errors.append(e)

    async def subscriber(n):
        rnd = random.Random(n)
        cursor, epoch = marker["id"], None
        ids, sessions, closes, not_recovered = [], 0, [], []
        while True:
            if done.is_set() and len(ids) >= len(receipts):
                return ids, sessions, closes, not_recovered
            if time.monotonic() > deadline:
                raise AssertionError(f"subscriber {n}: {len(ids)} of {len(receipts)} received")
            q = {"topics": "chaos/#", "since": cursor}
            if epoch:
                q["epoch"] = epoch
            ws = None
            try:
                ws = await websockets.connect(d.ws_url(**q), subprotocols=["newswire.v1.json"],
                                              open_timeout=5, close_timeout=2)
                c = Client(ws, "json")
                await c.recv_type("hello", timeout=5)
            except websockets.ConnectionClosed:
                # closed (1013) before even the hello was written
                closes.append((ws.close_code, ws.close_reason))
                await asyncio.sleep(0.05)
                continue
            except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake):
                await asyncio.sleep(0.1)
                continue
            sessions += 1
            quota = rnd.randint(30, 150)
            session_end = time.monotonic() + rnd.uniform(0.15, 0.5)
            got = 0
            try:
                sub = await c.recv_type("subscribed", timeout=10)
                if sub["recovered"] is not True:
                    not_recovered.append(sub)
                epoch = sub["epoch"]
                while got < quota and time.monotonic() < session_end:
                    try:
                        m = await c.recv(timeout=0.3)
                    except asyncio.TimeoutError:
                        if done.is_set() and len(ids) >= len(receipts):
                            break
                        continue
                    assert m["type"] == "item", m
                    ids.append(m["id"])
                    cursor = cursor_of(m)
                    got += 1
                await drop(c)
            except websockets.ConnectionClosed:
                closes.append((c.ws.close_code, c.ws.close_reason))
                await asyncio.sleep(0.05)
            except asyncio.TimeoutError:
                await drop(c)

    async def scenario():
        threads = [threading.Thread(target=publisher, daemon=True),
                   threading.Thread(target=restarter, daemon=True)]
        for t in threads:
            t.start()
        results = await asyncio.gather(*(subscriber(n) for n in range(SUBSCRIBERS)))
        for t in threads:
            t.join(20)
        return results

    results = run(scenario())
    assert not errors, errors
    assert len(restarts) == len(RESTART_AT), restarts
    assert unavailable[0] > 0, "the publisher never saw Redis away"
    assert len(receipts) == TOTAL
    want = sorted((rid for _, rid in receipts), key=stream_id)
    assert len(set(want)) == TOTAL, "two items got the same wire id"
    for n, (ids, sessions, closes, not_recovered) in enumerate(results):
        assert not not_recovered, (n, not_recovered[:3])
        assert len(ids) == len(set(ids)), f"subscriber {n}: duplicates"
        assert sorted(ids, key=stream_id) == want, f"subscriber {n}: missing items"
        assert ids == want, f"subscriber {n}: out of order"
        assert sessions >= 5, (n, sessions)
        for code, reason in closes:
            assert code == 1013 and reason.endswith("retry"), (n, code, reason)
    # resumes were attempted while Redis was away, and told to retry
    assert sum(len(r[2]) for r in results) > 0
