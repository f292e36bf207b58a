"""WebSocket gateway: subprotocols, routing by topic and wildcard, one
delivery per event, wire order, unsubscribe, ping, urgency filter, fan-out
to many sessions, and the session/delivery metrics (proto/PROTOCOL.md,
"WebSocket protocol")."""

import asyncio
import json
import time

import msgpack
import websockets

from conftest import (assert_ninjs, await_until, connect, in_thread, make_item, metric, run,
                      stream_id)

SESSIONS_JSON = 'newswire_sessions{transport="ws",format="json"}'
SESSIONS_MSGPACK = 'newswire_sessions{transport="ws",format="msgpack"}'


def assert_fields(msg, expected):
    """msg has every field of expected with that value (further fields are
    allowed: the protocol may grow)."""
    assert {k: msg.get(k) for k in expected} == expected, msg


def published(daemon, item, topics, **kw):
    r = daemon.publish(item, topics, **kw)
    assert r.status == 202, r
    return r.json()


async def apublish(daemon, item, topics, **kw):
    """Publishes from a worker thread so that the clients keep reading."""
    r = await in_thread(daemon.publish, item, topics, **kw)
    assert r.status == 202, r
    return r.json()


def test_json_subprotocol(daemon):
    async def scenario():
        c = await connect(daemon)  # reads and checks hello
        assert c.ws.subprotocol == "newswire.v1.json"
        sub = await c.subscribe("sport")
        assert_fields(sub, {"type": "subscribed", "topics": ["sport"], "min_urgency": 9})
        item = make_item(urgency=4)
        receipt = published(daemon, item, ["sport"])
        raw = await asyncio.wait_for(c.ws.recv(), 2)
        assert isinstance(raw, str), "JSON sessions get text frames"
        msg = json.loads(raw)
        assert_fields(msg, {"type": "item", "id": receipt["id"], "kind": "new",
                            "topics": ["sport"], "urgency": 4, "item": item})
        await c.close()

    run(scenario())


def test_hello_frame(daemon):
    async def scenario():
        c = await connect(daemon, hello=False)
        hello = await c.recv_type("hello")
        assert hello["protocol"] == "newswire.v1"
        assert hello["format"] == "json"
        assert hello["server"].startswith("newswired/")
        assert isinstance(hello["session"], str) and hello["session"]
        assert hello["limits"] == {"max_topics": 64, "max_message_bytes": 4096}
        c2 = await connect(daemon, hello=False)
        hello2 = await c2.recv_type("hello")
        assert hello2["session"] != hello["session"]
        await c.close()
        await c2.close()

    run(scenario())


def test_msgpack_subprotocol(daemon):
    async def scenario():
        c = await connect(daemon, fmt="msgpack", hello=False)
        assert c.ws.subprotocol == "newswire.v1.msgpack"
        raw = await asyncio.wait_for(c.ws.recv(), 2)
        assert isinstance(raw, bytes), "msgpack sessions get binary frames"
        hello = msgpack.unpackb(raw)
        assert hello["type"] == "hello" and hello["format"] == "msgpack"
        sub = await c.subscribe("sport")  # the op is sent as msgpack too
        assert sub["topics"] == ["sport"]
        await c.send({"op": "ping"})
        assert (await c.recv_type("pong")) == {"type": "pong"}
        item = make_item(urgency=2, bodies=[{"role": "main", "value": "é" * 100,
                                             "charcount": 100}])
        receipt = published(daemon, item, ["sport"])
        raw = await asyncio.wait_for(c.ws.recv(), 2)
        assert isinstance(raw, bytes)
        msg = msgpack.unpackb(raw)
        assert_fields(msg, {"type": "item", "id": receipt["id"], "kind": "new",
                            "topics": ["sport"], "urgency": 2, "item": item})
        assert_ninjs(msg["item"])
        await c.close()

    run(scenario())


def test_no_subprotocol_means_json(daemon):
    async def scenario():
        c = await connect(daemon, subprotocol=False, hello=False)
        assert c.ws.subprotocol is None
        raw = await asyncio.wait_for(c.ws.recv(), 2)
        assert isinstance(raw, str)
        assert json.loads(raw)["format"] == "json"
        await c.subscribe("sport")
        receipt = published(daemon, make_item(), ["sport"])
        msg = await c.recv_type("item")  # asserts a text frame
        assert msg["id"] == receipt["id"]
        await c.close()

    run(scenario())


def test_same_event_in_both_formats(daemon):
    async def scenario():
        cj = await connect(daemon, topics="sport")
        cm = await connect(daemon, fmt="msgpack", topics="sport")
        await cj.recv_type("subscribed")
        await cm.recv_type("subscribed")
        item = make_item()
        published(daemon, item, ["sport"])
        mj = await cj.recv_type("item")
        mm = await cm.recv_type("item")
        assert mj == mm
        assert mj["urgency"] == 5  # no urgency in the item: 5
        await cj.close()
        await cm.close()

    run(scenario())


def test_publish_reaches_subscriber_within_one_second(daemon):
    async def scenario():
        c = await connect(daemon, topics="alertes")
        await c.recv_type("subscribed")
        for _ in range(5):
            item = make_item(urgency=1)
            t0 = time.monotonic()
            receipt = await apublish(daemon, item, ["alertes"])
            msg = await c.recv_type("item", timeout=5.0)
            elapsed = time.monotonic() - t0
            assert msg["id"] == receipt["id"]
            assert elapsed < 1.0, f"delivery took {elapsed:.3f}s"
        await c.close()

    run(scenario())


def test_no_delivery_to_non_matching_topics(daemon):
    async def scenario():
        c = await connect(daemon, topics="monde/afrique")
        await c.recv_type("subscribed")
        for topics in (["sport"], ["monde"], ["monde/afrique/benin"], ["monde/europe"],
                       ["afrique"], ["monde-afrique"], ["eco/monde/afrique"]):
            published(daemon, make_item(), topics)
        await c.expect_silence(0.5)
        # The session is alive: a matching publish arrives, and only it.
        receipt = published(daemon, make_item(), ["monde/afrique"])
        msg = await c.recv_type("item")
        assert msg["id"] == receipt["id"]
        await c.expect_silence(0.2)
        await c.close()

    run(scenario())


# pattern -> which of the topics below it must receive
WILDCARD_CASES = {
    "monde/+": {"monde/afrique", "monde/europe"},
    "monde/#": {"monde", "monde/afrique", "monde/europe", "monde/afrique/benin"},
    "+/afrique": {"monde/afrique", "eco/afrique"},
    "#": {"monde", "monde/afrique", "monde/europe", "monde/afrique/benin", "eco/afrique", "sport"},
    "monde/+/benin": {"monde/afrique/benin"},
    "+": {"monde", "sport"},
    "monde/afrique/#": {"monde/afrique", "monde/afrique/benin"},
}
WILDCARD_TOPICS = ["monde", "monde/afrique", "monde/europe", "monde/afrique/benin", "eco/afrique",
                   "sport"]


async def _check_wildcards(daemon, clients):
    """clients: pattern -> Client already subscribed to it."""
    expected = {p: [] for p in clients}
    for topic in WILDCARD_TOPICS:
        receipt = await apublish(daemon, make_item(), [topic])
        for p, matches in WILDCARD_CASES.items():
            if topic in matches:
                expected[p].append((receipt["id"], topic))
    for p, c in clients.items():
        got = []
        for _ in expected[p]:
            msg = await c.recv_type("item")
            got.append((msg["id"], msg["topics"][0]))
        assert got == expected[p], p
        await c.expect_silence(0.2)
        await c.close()


def test_wildcards_via_subscribe_op(daemon):
    async def scenario():
        clients = {}
        for p in WILDCARD_CASES:
            c = await connect(daemon)
            sub = await c.subscribe(p)
            assert sub["topics"] == [p]
            clients[p] = c
        await _check_wildcards(daemon, clients)

    run(scenario())


def test_wildcards_via_url(daemon):
    async def scenario():
        clients = {}
        for p in WILDCARD_CASES:
            c = await connect(daemon, topics=p)  # '+' as %2B, '#' as %23
            sub = await c.recv_type("subscribed")
            assert sub["topics"] == [p]
            clients[p] = c
        await _check_wildcards(daemon, clients)

    run(scenario())


def test_url_literal_encodings(daemon):
    """?topics=monde/%2B, monde/%23 and a raw '+' (which form encoding would
    otherwise turn into a blank)."""
    async def scenario():
        base = f"ws://127.0.0.1:{daemon.port}/v1/stream?topics="
        for query, pattern in (("monde/%2B", "monde/+"), ("monde/%23", "monde/#"),
                               ("monde/+", "monde/+"), ("%2B/afrique,sport", "+/afrique")):
            ws = await websockets.connect(base + query, subprotocols=["newswire.v1.json"])
            assert json.loads(await ws.recv())["type"] == "hello"
            sub = json.loads(await asyncio.wait_for(ws.recv(), 2))
            assert sub["type"] == "subscribed", sub
            assert pattern in sub["topics"], (query, sub)
            await ws.close()
        # monde/# matches "monde" itself
        ws = await websockets.connect(base + "monde/%23")
        await ws.recv()
        await ws.recv()
        receipt = published(daemon, make_item(), ["monde"])
        msg = json.loads(await asyncio.wait_for(ws.recv(), 2))
        assert msg["id"] == receipt["id"] and msg["topics"] == ["monde"]
        await ws.close()

    run(scenario())


def test_overlapping_patterns_deliver_once(daemon):
    async def scenario():
        c = await connect(daemon)
        sub = await c.subscribe("monde/#", "monde/afrique", "+/afrique", "sport", "#")
        assert sorted(sub["topics"]) == sorted(["monde/#", "monde/afrique", "+/afrique",
                                                "sport", "#"])
        c2 = await connect(daemon)
        await c2.subscribe("monde/#", "monde/afrique", "+/afrique")
        item = make_item()
        receipt = published(daemon, item, ["economie", "monde/afrique", "sport"])
        msg = await c.recv_type("item")
        assert msg["id"] == receipt["id"]
        assert msg["topics"] == ["economie", "monde/afrique", "sport"]
        msg2 = await c2.recv_type("item")
        assert msg2["id"] == receipt["id"]
        assert msg2["topics"] == ["monde/afrique"]  # only what this session matched
        await c.expect_silence(0.3)
        await c2.expect_silence(0.05)
        await c.close()
        await c2.close()

    run(scenario())


def test_subscribing_twice_keeps_one_subscription(daemon):
    async def scenario():
        c = await connect(daemon)
        await c.subscribe("sport")
        sub = await c.subscribe("sport", "monde")
        assert sorted(sub["topics"]) == ["monde", "sport"]
        receipt = published(daemon, make_item(), ["sport"])
        msg = await c.recv_type("item")
        assert msg["id"] == receipt["id"]
        await c.expect_silence(0.3)
        await c.close()

    run(scenario())


def test_only_matched_topics_are_listed(daemon):
    async def scenario():
        c = await connect(daemon, topics="sport")
        await c.recv_type("subscribed")
        receipt = published(daemon, make_item(), ["monde/afrique", "sport"])
        msg = await c.recv_type("item")
        assert msg["id"] == receipt["id"]
        assert msg["topics"] == ["sport"]
        await c.close()

    run(scenario())


def test_hundred_publishes_arrive_in_wire_order(daemon):
    async def scenario():
        c = await connect(daemon, topics="fil/#")
        await c.recv_type("subscribed")
        cm = await connect(daemon, fmt="msgpack", topics="fil/a,fil/b")
        await cm.recv_type("subscribed")
        receipts = []
        for i in range(100):
            # routine urgencies (3-9): flashes and bulletins may be sent
            # ahead of routine items already queued (PROTOCOL.md, "item")
            item = make_item(headline=f"dépêche {i}", urgency=3 + i % 7)
            receipts.append(published(daemon, item, ["fil/a" if i % 2 else "fil/b"]))
        ids = [r["id"] for r in receipts]
        assert [stream_id(i) for i in ids] == sorted(stream_id(i) for i in ids)
        assert len(set(ids)) == 100
        for client in (c, cm):
            got = [(await client.recv_type("item"))["id"] for _ in range(100)]
            assert got == ids
            await client.expect_silence(0.2)
        await c.close()
        await cm.close()

    run(scenario())


def test_unsubscribe_stops_delivery(daemon):
    async def scenario():
        c = await connect(daemon)
        await c.subscribe("sport", "monde/#")
        await c.send({"op": "unsubscribe", "topics": ["monde/#"]})
        unsub = await c.recv_type("unsubscribed")
        assert_fields(unsub, {"type": "unsubscribed", "topics": ["monde/#"]})
        published(daemon, make_item(), ["monde/afrique"])
        await c.expect_silence(0.4)
        receipt = published(daemon, make_item(), ["sport"])
        assert (await c.recv_type("item"))["id"] == receipt["id"]
        # Unsubscribing what is not held removes nothing.
        await c.send({"op": "unsubscribe", "topics": ["culture", "sport"]})
        unsub = await c.recv_type("unsubscribed")
        assert unsub["topics"] == ["sport"]
        published(daemon, make_item(), ["sport"])
        await c.expect_silence(0.4)
        await c.close()

    run(scenario())


def test_ping_pong(daemon):
    async def scenario():
        c = await connect(daemon)
        for _ in range(3):
            await c.send({"op": "ping"})
            assert await c.recv_type("pong") == {"type": "pong"}
        await c.close()

    run(scenario())


def test_min_urgency_filter(daemon):
    async def scenario():
        c = await connect(daemon)
        sub = await c.subscribe("sport", min_urgency=2)
        assert sub["min_urgency"] == 2
        cu = await connect(daemon, topics="sport", min_urgency="3")
        sub = await cu.recv_type("subscribed")
        assert sub["min_urgency"] == 3
        call = await connect(daemon, topics="sport")
        await call.recv_type("subscribed")
        expected = {2: [], 3: [], 9: []}
        for urgency in (1, 2, 3, 4, 5, 9, None):
            receipt = published(daemon, make_item(urgency=urgency), ["sport"])
            u = urgency or 5
            for limit in expected:
                if u <= limit:
                    expected[limit].append((receipt["id"], u))
        for client, limit in ((c, 2), (cu, 3), (call, 9)):
            got = []
            for _ in expected[limit]:
                m = await client.recv_type("item")
                got.append((m["id"], m["urgency"]))
            assert got == expected[limit], limit
            await client.expect_silence(0.2)
            await client.close()

    run(scenario())


def test_thousand_concurrent_subscribers(daemon):
    n, batch = 1000, 100

    async def open_one(i):
        c = await connect(daemon, topics="alertes" if i % 2 else "alertes/#")
        sub = await c.recv_type("subscribed", timeout=10)
        assert sub["topics"]
        return c

    async def receive_once(c, want_id):
        msg = await c.recv_type("item", timeout=10)
        assert msg["id"] == want_id
        assert msg["topics"] == ["alertes"]
        await c.expect_silence(0.5)

    async def scenario():
        clients = []
        for start in range(0, n, batch):
            clients += await asyncio.gather(*(open_one(i) for i in range(start, start + batch)))
        await await_until(lambda: metric(daemon, SESSIONS_JSON) == n, timeout=10,
                          what=f"{n} sessions in /metrics")
        before = metric(daemon, "newswire_deliveries_total")
        item = make_item(urgency=1)
        receipt = await apublish(daemon, item, ["alertes"])
        await asyncio.gather(*(receive_once(c, receipt["id"]) for c in clients))
        assert metric(daemon, "newswire_deliveries_total") - before == n
        assert metric(daemon, "newswire_subscriptions") == n
        for start in range(0, n, batch):
            await asyncio.gather(*(c.close() for c in clients[start:start + batch]))
        await await_until(lambda: metric(daemon, SESSIONS_JSON) == 0, timeout=10,
                          what="sessions back to 0")

    run(scenario())


def test_metrics_show_sessions_and_deliveries(daemon):
    async def scenario():
        m0 = daemon.metrics()
        assert m0[SESSIONS_JSON] == 0 and m0[SESSIONS_MSGPACK] == 0
        j1 = await connect(daemon, topics="sport,monde/#")
        j2 = await connect(daemon, topics="sport")
        mp = await connect(daemon, fmt="msgpack", topics="culture")
        for c in (j1, j2, mp):
            await c.recv_type("subscribed")
        m = daemon.metrics()
        assert m[SESSIONS_JSON] == 2
        assert m[SESSIONS_MSGPACK] == 1
        assert m['newswire_sessions_opened_total{transport="ws"}'] == 3
        assert m["newswire_subscriptions"] == 4
        published(daemon, make_item(), ["sport"])      # j1, j2
        published(daemon, make_item(), ["culture"])    # mp
        published(daemon, make_item(), ["politique"])  # nobody
        for c in (j1, j2, mp):
            await c.recv_type("item")
        m = daemon.metrics()
        assert m["newswire_deliveries_total"] == 3
        assert m['newswire_wire_events_total{kind="new"}'] == 3
        assert m["newswire_gateway_events_total"] == 3
        await await_until(lambda: metric(daemon, "newswire_frames_written_total") >= 9,
                          what="frames written (3 hello, 3 subscribed, 3 items)")
        await j2.close()
        await await_until(lambda: metric(daemon, SESSIONS_JSON) == 1, what="j2 closed")
        assert metric(daemon, "newswire_subscriptions") == 3
        await j1.close()
        await mp.close()
        await await_until(lambda: metric(daemon, SESSIONS_JSON) == 0
                          and metric(daemon, SESSIONS_MSGPACK) == 0, what="all closed")
        assert metric(daemon, "newswire_subscriptions") == 0
        assert metric(daemon, "newswire_queued_bytes") == 0

    run(scenario())


def test_both_event_loops_deliver(start_daemon):
    """gateway_epoll = 1 (the default) runs each gateway's lws context on
    libev's epoll loop; 0 keeps lws' own poll() loop. Both deliver, to
    several gateway threads, and the log says which loop runs."""
    for epoll in (1, 0):
        d = start_daemon("--log-level", "debug", "--set", f"gateway_epoll={epoll}",
                         "--set", "gateway_threads=2")

        async def scenario():
            clients = [await connect(d) for _ in range(4)]
            for c in clients:
                await c.subscribe("boucle")
            receipt = published(d, make_item(), ["boucle"])
            for c in clients:
                msg = json.loads(await asyncio.wait_for(c.ws.recv(), 2))
                assert msg["id"] == receipt["id"]
                await c.close()

        run(scenario())
        d.stop()
        log = d.log()
        assert ("libwebsockets-evlib_ev" in log) == bool(epoll), log[-3000:]
        assert "no epoll loop for lws" not in log


def test_wire_batch_wait_keeps_every_item_in_order(start_daemon):
    """Under a burst the tail waits wire_batch_wait between reads (here the
    largest, 100 ms, so that the burst surely triggers it): every item still
    arrives once, in wire order, and the waits are counted."""
    d = start_daemon("--set", "wire_batch_wait=100ms")

    async def scenario():
        c = await connect(d, topics="rafale")
        await c.recv_type("subscribed")
        items = [make_item(headline=f"rafale {i}", urgency=5) for i in range(200)]
        receipts = await asyncio.gather(
            *(in_thread(lambda chunk=chunk: [published(d, it, ["rafale"]) for it in chunk])
              for chunk in (items[0::4], items[1::4], items[2::4], items[3::4])))
        ids = sorted((r["id"] for chunk in receipts for r in chunk), key=stream_id)
        assert len(set(ids)) == 200
        got = [(await asyncio.wait_for(c.recv_type("item"), 5))["id"] for _ in range(200)]
        assert got == ids
        await c.expect_silence(0.3)
        await c.close()

    run(scenario())
    assert metric(d, "newswire_wire_batch_waits_total") > 0
