"""WebSocket error handling: error frames that leave the session usable and
unchanged, and the cases that close the connection (proto/PROTOCOL.md,
"Server messages" and "Closing")."""

import asyncio
import json

import msgpack
import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.frames import Opcode

from conftest import await_until, connect, make_item, metric, run, wait_until, ws_handshake


async def expect_error(c, code):
    msg = await c.recv_type("error")
    assert msg["code"] == code, msg
    assert isinstance(msg["message"], str) and msg["message"], msg
    return msg


async def assert_usable(daemon, c, topic="controle"):
    """The session still answers and delivers."""
    await c.send({"op": "ping"})
    await c.recv_type("pong")
    sub = await c.subscribe(topic)
    assert topic in sub["topics"]
    r = daemon.publish(make_item(), [topic])
    assert r.status == 202, r
    msg = await c.recv_type("item")
    assert msg["id"] == r.json()["id"]


async def expect_close(c, code, timeout=3.0):
    """The server closes the connection with code (frames before it are ignored)."""
    try:
        while True:
            await asyncio.wait_for(c.ws.recv(), timeout)
    except ConnectionClosed as e:
        assert e.rcvd is not None, f"closed without a close frame: {e!r}"
        assert e.rcvd.code == code, e
        return e.rcvd


@pytest.mark.parametrize("text", ['{"op": "ping"', "{op: ping}", "", "[1, 2,]", "nul"])
def test_invalid_json_is_an_error_frame(daemon, text):
    async def scenario():
        c = await connect(daemon)
        await c.ws.send(text)
        msg = await expect_error(c, "invalid_json")
        assert "line" in msg["message"] and "column" in msg["message"], msg
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


def test_invalid_msgpack_is_an_error_frame(daemon):
    async def scenario():
        c = await connect(daemon, fmt="msgpack")
        for raw in (b"\xc1", msgpack.packb({"op": "ping"})[:-2], b"\x81\xa2op"):
            await c.ws.send(raw)
            await expect_error(c, "invalid_msgpack")
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


def test_binary_frame_on_json_session(daemon):
    async def scenario():
        c = await connect(daemon)
        await c.ws.send(json.dumps({"op": "ping"}).encode())
        await expect_error(c, "unsupported_frame")
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


def test_text_frame_on_msgpack_session(daemon):
    async def scenario():
        c = await connect(daemon, fmt="msgpack")
        await c.ws.send(json.dumps({"op": "ping"}))
        await expect_error(c, "unsupported_frame")
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


def test_unknown_op(daemon):
    async def scenario():
        c = await connect(daemon)
        for op in ("publish", "SUBSCRIBE", ""):
            await c.send({"op": op, "topics": ["sport"]})
            await expect_error(c, "unknown_op")
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


@pytest.mark.parametrize("msg", [[1, 2], "subscribe", 42, None, {}, {"topics": ["sport"]},
                                 {"op": 1}, {"op": ["ping"]}, {"op": None}],
                         ids=["array", "string", "number", "null", "empty", "no-op",
                              "op-number", "op-array", "op-null"])
def test_invalid_message(daemon, msg):
    async def scenario():
        c = await connect(daemon)
        await c.ws.send(json.dumps(msg))
        await expect_error(c, "invalid_message")
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


@pytest.mark.parametrize("msg", [[1, 2], "subscribe", 42, None, {}, {"op": 1}],
                         ids=["array", "string", "number", "nil", "empty", "op-number"])
def test_invalid_message_msgpack(daemon, msg):
    async def scenario():
        c = await connect(daemon, fmt="msgpack")
        await c.ws.send(msgpack.packb(msg))
        await expect_error(c, "invalid_message")
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


@pytest.mark.parametrize("topics", [["Monde"], ["sport", "Monde"], ["a//b"], ["monde/#/x"],
                                    ["monde/a+"], ["#a"], ["a/b/c/d/e/f/g/h/i"], ["x" * 129],
                                    ["sport", "sport"], [""]],
                         ids=["upper", "one-of-two", "empty-segment", "hash-not-last",
                              "plus-in-segment", "hash-in-segment", "nine-segments", "too-long",
                              "duplicate", "empty"])
def test_invalid_topic_subscribes_nothing(daemon, topics):
    async def scenario():
        c = await connect(daemon)
        await c.send({"op": "subscribe", "topics": topics})
        await expect_error(c, "invalid_topic")
        assert metric(daemon, "newswire_subscriptions") == 0
        r = daemon.publish(make_item(), ["sport"])
        assert r.status == 202
        await c.expect_silence(0.4)
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


def test_invalid_topic_in_url(daemon):
    async def scenario():
        c = await connect(daemon, topics="Monde,sport")
        await expect_error(c, "invalid_topic")
        assert metric(daemon, "newswire_subscriptions") == 0
        assert daemon.publish(make_item(), ["sport"]).status == 202
        await c.expect_silence(0.4)
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


def test_invalid_topic_keeps_earlier_subscriptions(daemon):
    async def scenario():
        c = await connect(daemon)
        await c.subscribe("sport")
        await c.send({"op": "subscribe", "topics": ["monde", "Bad"]})
        await expect_error(c, "invalid_topic")
        assert metric(daemon, "newswire_subscriptions") == 1
        assert daemon.publish(make_item(), ["monde"]).status == 202
        await c.expect_silence(0.4)
        r = daemon.publish(make_item(), ["sport"])
        assert (await c.recv_type("item"))["id"] == r.json()["id"]
        await c.close()

    run(scenario())


@pytest.mark.parametrize("msg", [
    {"op": "subscribe"},
    {"op": "subscribe", "topics": "sport"},
    {"op": "subscribe", "topics": []},
    {"op": "subscribe", "topics": [1]},
    {"op": "subscribe", "topics": ["sport"], "min_urgency": 0},
    {"op": "subscribe", "topics": ["sport"], "min_urgency": 10},
    {"op": "subscribe", "topics": ["sport"], "min_urgency": "3"},
    {"op": "subscribe", "topics": ["sport"], "couleur": "rouge"},
    {"op": "unsubscribe", "topics": "sport"},
    {"op": "unsubscribe"},
], ids=["no-topics", "topics-string", "topics-empty", "topics-number", "min-urgency-0",
        "min-urgency-10", "min-urgency-string", "unknown-field", "unsub-string", "unsub-none"])
def test_invalid_field(daemon, msg):
    async def scenario():
        c = await connect(daemon)
        await c.send(msg)
        await expect_error(c, "invalid_field")
        assert metric(daemon, "newswire_subscriptions") == 0
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


def test_message_over_4kib_closes_with_1009(daemon):
    async def scenario():
        c = await connect(daemon)
        big = json.dumps({"op": "ping", "pad": "x" * 5000})
        await c.ws.send(big)
        await expect_close(c, 1009)
        await await_closes(daemon, "message_too_big", 1)

    run(scenario())


def test_fragmented_message_over_4kib_closes_with_1009(daemon):
    async def scenario():
        c = await connect(daemon)
        # 4 x 1000 bytes, then the last fragment crosses 4 KiB.
        text = json.dumps({"op": "ping", "pad": "x" * 4200})
        await c.ws.send(text[i:i + 1000] for i in range(0, len(text), 1000))
        await expect_close(c, 1009)

    run(scenario())


@pytest.mark.parametrize("fragmented", [True, False], ids=["fragmented", "single-frame"])
def test_oversized_message_always_gets_1009(daemon, fragmented):
    """The close code must not depend on timing: 400 sessions in a row send
    a 6 KB message (fragments still arriving after the limit is crossed);
    every one must see the close frame 1009, not a bare disconnect."""
    text = json.dumps({"op": "ping", "pad": "x" * 6000})

    async def one():
        c = await connect(daemon)
        try:
            if fragmented:
                await c.ws.send(text[i:i + 1000] for i in range(0, len(text), 1000))
            else:
                await c.ws.send(text)
        except ConnectionClosed:
            pass  # closed while still sending: the close code still counts
        try:
            while True:
                await asyncio.wait_for(c.ws.recv(), 3)
        except ConnectionClosed as e:
            return e.rcvd.code if e.rcvd is not None else None

    async def scenario():
        codes = [await one() for _ in range(400)]
        bad = [c for c in codes if c != 1009]
        assert not bad, f"{len(bad)}/400 sessions closed without 1009: {sorted(set(map(str, bad)))}"

    run(scenario())


def test_message_of_4kib_is_accepted(daemon):
    async def scenario():
        c = await connect(daemon)
        msg = {"op": "subscribe", "topics": ["sport"]}
        text = json.dumps(msg)
        text = text[:-1] + " " * (4096 - len(text)) + "}"
        assert len(text) == 4096
        await c.ws.send(text)
        await c.recv_type("subscribed")
        # fragmented, 4 KiB in all
        await c.ws.send(text[i:i + 512] for i in range(0, len(text), 512))
        await c.recv_type("subscribed")
        await c.close()

    run(scenario())


async def await_closes(daemon, reason, n):
    sample = f'newswire_session_closes_total{{reason="{reason}"}}'
    await await_until(lambda: metric(daemon, sample) >= n, what=sample)


def test_more_than_64_topics_in_op_closes_with_1008(daemon):
    async def scenario():
        c = await connect(daemon)
        await c.send({"op": "subscribe", "topics": [f"t{i}" for i in range(65)]})
        await expect_close(c, 1008)
        await await_closes(daemon, "policy", 1)

    run(scenario())


def test_more_than_64_topics_in_total_closes_with_1008(daemon):
    async def scenario():
        c = await connect(daemon)
        sub = await c.subscribe(*[f"t{i}" for i in range(64)])
        assert len(sub["topics"]) == 64
        sub = await c.subscribe("t0", "t1")  # already held: still 64
        assert len(sub["topics"]) == 64
        await c.send({"op": "subscribe", "topics": ["t64"]})
        await expect_close(c, 1008)

    run(scenario())


def test_more_than_64_topics_in_url_closes_with_1008(daemon):
    async def scenario():
        c = await connect(daemon, hello=False, topics=",".join(f"t{i}" for i in range(65)))
        await expect_close(c, 1008)

    run(scenario())


def test_64_topics_in_url_are_accepted(daemon):
    async def scenario():
        c = await connect(daemon, topics=",".join(f"t{i}" for i in range(64)))
        sub = await c.recv_type("subscribed")
        assert len(sub["topics"]) == 64
        await c.close()

    run(scenario())


@pytest.mark.parametrize("path", ["/", "/v1/streams", "/v1/stream/x", "/v2/stream", "/v1/events",
                                  "/v1/stream/../stream2"])
def test_other_paths_refuse_the_handshake_with_404(daemon, path):
    sock, status, headers, _ = ws_handshake(daemon.port, path)
    sock.close()
    assert status == 404, (status, headers)
    wait_until(lambda: metric(daemon, "newswire_handshakes_rejected_total") >= 1,
               what="rejected handshake counted")

    async def scenario():
        with pytest.raises(InvalidHandshake):
            await websockets.connect(f"ws://127.0.0.1:{daemon.port}{path}", open_timeout=5)

    run(scenario())


def test_stream_path_with_query_is_accepted(daemon):
    sock, status, headers, _ = ws_handshake(daemon.port, "/v1/stream?topics=sport")
    sock.close()
    assert status == 101, (status, headers)
    assert headers.get("sec-websocket-protocol") == "newswire.v1.json"


def test_since_on_a_second_subscription_is_refused(daemon):
    async def scenario():
        c = await connect(daemon, topics="sport")
        await c.recv_type("subscribed")
        await c.send({"op": "subscribe", "topics": ["monde"], "since": "1-0"})
        await expect_error(c, "invalid_field")
        assert metric(daemon, "newswire_subscriptions") == 1  # nothing changed
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


@pytest.mark.parametrize("since", ["", "abc", "1-", "-1", "1-2-3", "1.5"])
def test_invalid_since_is_refused(daemon, since):
    async def scenario():
        c = await connect(daemon)
        await c.send({"op": "subscribe", "topics": ["sport"], "since": since})
        await expect_error(c, "invalid_field")
        assert metric(daemon, "newswire_subscriptions") == 0  # nothing changed
        await assert_usable(daemon, c)
        await c.close()

    run(scenario())


def test_invalid_utf8_text_closes_with_1007(daemon):
    async def scenario():
        c = await connect(daemon)
        await c.ws.write_frame(True, Opcode.TEXT, b'{"op": "ping", "x": "\xff\xfe"}')
        await expect_close(c, 1007)

    run(scenario())


def test_errors_are_counted(daemon):
    async def scenario():
        c = await connect(daemon)
        await c.ws.send("not json")
        await expect_error(c, "invalid_json")
        await c.send({"op": "nope"})
        await expect_error(c, "unknown_op")
        assert metric(daemon, "newswire_client_errors_total") == 2
        await c.close()

    run(scenario())
