"""Resource limits of the public listener and the API (proto/PROTOCOL.md,
"Connecting", "Client messages", "Closing" and the API status table): each
limit produces its documented error for the client that crosses it, while
another, well-behaved session on the same daemon keeps receiving items."""

import http.client
import json
import signal
import socket
import time

import pytest
import websockets
from websockets.exceptions import InvalidStatusCode

from conftest import make_item, metric, raw_http, read_http_response, run, wait_until
from security_helpers import (OP_PING, OP_TEXT, RawWS, Watcher, assert_refused, closes,
                              encode_frame, raw_open, refused, sessions_open)


@pytest.fixture
def limited(start_daemon):
    """start_daemon(*args) -> (daemon, watcher); the watcher is stopped at
    the end of the test."""
    watchers = []

    def start(*args):
        d = start_daemon(*args)
        w = Watcher(d)
        watchers.append(w)
        return d, w

    yield start
    for w in watchers:
        w.stop()


# --------------------------------------------------------------------------
# Connection counts at the upgrade


def test_max_connections_503(limited):
    d, w = limited("--set", "max_connections=3")
    a = raw_open(d)
    b = raw_open(d)
    assert sessions_open(d) == 3
    before = refused(d, "max_connections")
    over = RawWS(d.port)
    assert_refused(over, 503, "too many connections", retry_after="1")
    over.close()
    wait_until(lambda: refused(d, "max_connections") == before + 1, what="refusal counted")
    assert metric(d, 'newswire_handshakes_refused_total{reason="max_connections_per_ip"}') == 0
    w.publish_and_expect(2)
    # one leaves: a new session is accepted
    a.close()
    wait_until(lambda: sessions_open(d) == 2, what="a session released")
    c = raw_open(d)
    w.publish_and_expect()
    for s in (b, c):
        s.close()


def test_max_connections_per_ip_429(limited):
    d, w = limited("--set", "max_connections_per_ip=2")
    a = raw_open(d)  # with the watcher: 2 from 127.0.0.1
    before = refused(d, "max_connections_per_ip")
    over = RawWS(d.port)
    assert_refused(over, 429, "too many connections from this address", retry_after="1")
    over.close()
    # another address is counted on its own
    other = []
    try:
        for _ in range(2):
            other.append(raw_open(d, source="127.0.0.2"))
    except OSError as e:
        pytest.skip(f"cannot connect from 127.0.0.2: {e}")
    over2 = RawWS(d.port, source="127.0.0.2")
    assert_refused(over2, 429, "too many connections from this address", retry_after="1")
    over2.close()
    wait_until(lambda: refused(d, "max_connections_per_ip") == before + 2,
               what="refusals counted")
    assert refused(d, "max_connections") == 0
    w.publish_and_expect(2)
    # a session from 127.0.0.2 receives items too
    other[0].send_text({"op": "subscribe", "topics": ["controle"]})
    assert other[0].recv_json()["type"] == "subscribed"
    ids = w.publish_and_expect()
    assert other[0].recv_json()["id"] == ids[0]
    a.close()
    wait_until(lambda: sessions_open(d) == 3, what="a session released")
    raw_open(d).close()
    for s in other:
        s.close()


def test_refused_upgrade_answers_in_http_1_1(limited):
    """The refusal must be a valid answer to the HTTP/1.1 upgrade request,
    so that a WebSocket library can show its status and Retry-After: python
    websockets, like other strict clients, rejects an HTTP/1.0 status line
    as "did not receive a valid HTTP response"."""
    d, w = limited("--set", "max_connections=1")
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as sock:
        sock.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1:{d.port}\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, head
            head += chunk
    status_line = head.split(b"\r\n")[0]
    assert status_line == b"HTTP/1.1 503 Service Unavailable", status_line

    async def ws_client():
        with pytest.raises(InvalidStatusCode) as e:
            await websockets.connect(d.ws_url(), open_timeout=5)
        assert e.value.status_code == 503
        assert e.value.headers.get("Retry-After") == "1"

    run(ws_client())
    w.publish_and_expect()


# --------------------------------------------------------------------------
# Per-session limits


def test_ws_max_topics(limited):
    d, w = limited("--set", "ws_max_topics=3")
    before = closes(d, "policy")
    s = RawWS(d.port)
    hello = s.recv_json()
    assert hello["limits"]["max_topics"] == 3, hello
    s.send_text({"op": "subscribe", "topics": ["a", "b", "c"]})
    assert len(s.recv_json()["topics"]) == 3
    s.send_text({"op": "subscribe", "topics": ["a"]})  # already held
    assert len(s.recv_json()["topics"]) == 3
    s.send_text({"op": "subscribe", "topics": ["d"]})
    code, reason = s.closed_by_server()
    assert (code, reason) == (1008, "too many topics")
    s.close()
    # four in one op, four in the URL
    s = raw_open(d)
    s.send_text({"op": "subscribe", "topics": ["a", "b", "c", "d"]})
    assert s.closed_by_server() == (1008, "too many topics")
    s.close()
    s = RawWS(d.port, path="/v1/stream?topics=a,b,c,d")
    assert s.status == 101
    assert s.closed_by_server() == (1008, "too many topics")
    s.close()
    wait_until(lambda: closes(d, "policy") == before + 3, what="policy closes counted")
    w.publish_and_expect(2)


def test_ws_max_frame(limited):
    d, w = limited("--set", "ws_max_frame=1024")
    before = closes(d, "message_too_big")
    s = RawWS(d.port)
    assert s.recv_json()["limits"]["max_message_bytes"] == 1024
    ok = json.dumps({"op": "ping"})
    ok = ok[:-1] + " " * (1024 - len(ok)) + "}"
    assert len(ok) == 1024
    s.send_frame(OP_TEXT, ok)
    assert s.recv_json()["type"] == "pong"
    s.send_frame(OP_TEXT, ok[:-1] + " }")  # 1025 bytes
    assert s.closed_by_server() == (1009, "message too big")
    s.close()
    wait_until(lambda: closes(d, "message_too_big") == before + 1, what="1009 counted")
    w.publish_and_expect(2)


def test_ws_ops_rate_4029(limited):
    d, w = limited("--set", "ws_ops_per_sec=5", "--set", "ws_ops_burst=5")
    before = closes(d, "rate_limited")
    s = raw_open(d)
    # a burst of ws_ops_burst messages at once is fine
    s.send(b"".join(encode_frame(OP_TEXT, b'{"op":"ping"}') for _ in range(5)))
    for _ in range(5):
        assert s.recv_json()["type"] == "pong"
    time.sleep(1.2)  # the bucket refills (5 per second)
    s.send(b"".join(encode_frame(OP_TEXT, b'{"op":"ping"}') for _ in range(20)))
    code, reason, frames = s.read_until_close()
    assert (code, reason) == (4029, "too many messages"), (code, reason, frames)
    s.close()
    wait_until(lambda: closes(d, "rate_limited") == before + 1, what="4029 counted")
    w.publish_and_expect()

    # a client within the average rate is never closed: 4 per second
    paced = raw_open(d)
    for _ in range(8):
        paced.send_text({"op": "ping"})
        assert paced.recv_json()["type"] == "pong"
        time.sleep(0.25)
    paced.close()
    assert closes(d, "rate_limited") == before + 1
    w.publish_and_expect()


# --------------------------------------------------------------------------
# Timeouts


def test_ws_handshake_timeout(limited):
    """Two clients that never complete the upgrade — one sent half a
    request head, the other nothing at all — are both dropped a little after
    ws_handshake_timeout (2 s), while the watcher keeps receiving."""
    d, w = limited("--set", "ws_handshake_timeout=2s")
    t0 = time.monotonic()
    half = RawWS(d.port, handshake="half")
    silent = RawWS(d.port, handshake="none")
    # a third one gives up by itself: an abort, not a timeout
    quitter = RawWS(d.port, handshake="none")
    quitter.close()
    ids = w.publish_and_expect()
    for name, s in (("half a request head", half), ("nothing", silent)):
        closed = s.wait_eof(max(0.1, t0 + 8 - time.monotonic()))
        elapsed = time.monotonic() - t0
        s.close()
        assert closed, f"a client that sent {name} is still connected after {elapsed:.1f}s " \
                       "(ws_handshake_timeout=2s)"
        assert 1.0 <= elapsed <= 6.0, f"a client that sent {name} was dropped after " \
                                      f"{elapsed:.1f}s (ws_handshake_timeout=2s)"
    w.expect(ids + w.publish_and_expect())
    wait_until(lambda: metric(d, "newswire_handshake_timeouts_total") == 2,
               what="both timeouts counted")
    assert metric(d, "newswire_handshake_aborts_total") == 1


def test_idle_client_that_never_answers_pings_is_dropped(limited):
    d, w = limited("--set", "ws_ping_interval=1s", "--set", "ws_idle_timeout=3s")
    t0 = time.monotonic()
    s = raw_open(d)  # reads, never answers a ping, never sends anything
    code, reason, frames = s.read_until_close(timeout=12)
    elapsed = time.monotonic() - t0
    assert [f for f in frames if f[1] == OP_PING], f"no ping was sent: {frames}"
    assert elapsed <= 10, f"dropped only after {elapsed:.1f}s (ws_idle_timeout=3s)"
    assert s.wait_eof(8), "the idle client was not dropped"
    s.close()
    # the watcher answered the same pings and is still here, well past 3 s
    assert time.monotonic() - t0 >= 2.5
    w.publish_and_expect()
    wait_until(lambda: sessions_open(d) == 1, what="the idle session released")
    assert closes(d, "idle_timeout") == 1


def test_reload_changes_ping_interval_and_idle_timeout_of_open_sessions(limited, tmp_path):
    """ws_ping_interval and ws_idle_timeout apply after a SIGHUP, to sessions
    already open: one gateway sweep reads them (no timer per connection)."""
    from security_helpers import write_config

    cfg = write_config(tmp_path / "keepalive.conf",
                       head="ws_ping_interval = 30s\nws_idle_timeout = 75s\n")
    d, w = limited("--config", str(cfg))
    s = raw_open(d)  # reads, never answers a ping, never sends anything
    with pytest.raises(TimeoutError):
        s.recv_frame(1.5)  # no ping within 1.5 s under the 30 s interval
    n = d.log().count("configuration reloaded")
    write_config(cfg, head="ws_ping_interval = 1s\nws_idle_timeout = 3s\n")
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: d.log().count("configuration reloaded") == n + 1, what="reload logged")
    # nothing changed that needs a restart (listen and api_listen were
    # reported as changed on every reload until their parse zeroed its result)
    kept = [line for line in d.log().splitlines() if "need a restart" in line]
    assert not kept, kept
    t0 = time.monotonic()
    code, reason, frames = s.read_until_close(timeout=12)
    elapsed = time.monotonic() - t0
    assert [f for f in frames if f[1] == OP_PING], f"no ping after the reload: {frames}"
    assert s.wait_eof(8), "the idle client was not dropped after the reload"
    assert elapsed <= 8, f"dropped {elapsed:.1f}s after the reload (ws_idle_timeout=3s)"
    s.close()
    # the watcher answers the pings and stays
    w.publish_and_expect()
    wait_until(lambda: closes(d, "idle_timeout") == 1, what="idle drop counted")


# --------------------------------------------------------------------------
# API request limits


def post_raw(port, body, extra_headers=b""):
    head = (b"POST /v1/articles?topics=controle HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\n" + extra_headers +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    return raw_http(port, head + body)


def test_api_max_body_413_and_max_header_bytes_431(limited):
    d, w = limited("--set", "api_max_body=2k", "--set", "api_max_header_bytes=2k")
    small = make_item(headline="x" * 1000)
    big = make_item(headline="x" * 3000)
    assert len(json.dumps(small)) < 2048 < len(json.dumps(big))
    r = post_raw(d.api_port, json.dumps(small).encode())
    assert r.status == 202, r
    r = post_raw(d.api_port, json.dumps(big).encode())
    assert r.status == 413 and "error" in r.json(), r
    # a declared length over the limit is refused before the body is sent
    with socket.create_connection(("127.0.0.1", d.api_port), timeout=10) as sock:
        sock.sendall(b"POST /v1/articles?topics=controle HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n")
        r = read_http_response(sock)
        assert r.status == 413, r
    # chunked, over the limit
    chunk = json.dumps(big).encode()
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk)
    r = raw_http(d.api_port, b"POST /v1/articles?topics=controle HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    assert r.status == 413, r
    # headers
    r = post_raw(d.api_port, json.dumps(make_item()).encode(), b"X-Pad: " + b"p" * 1500 + b"\r\n")
    assert r.status == 202, r
    r = post_raw(d.api_port, json.dumps(make_item()).encode(), b"X-Pad: " + b"p" * 3000 + b"\r\n")
    assert r.status == 431 and "error" in r.json(), r
    r = raw_http(d.api_port, b"GET /healthz?" + b"q" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status in (414, 431), r
    m = d.metrics()
    assert m.get('newswire_api_protocol_errors_total{status="413"}', 0) >= 2, m
    assert m.get('newswire_api_protocol_errors_total{status="431"}', 0) >= 1, m
    w.publish_and_expect(2)


def test_api_connection_stays_usable_after_normal_requests(limited):
    """Control for the API limits: a kept-alive connection serves many
    requests under the limits."""
    d, w = limited("--set", "api_max_body=2k", "--set", "api_max_header_bytes=2k")
    conn = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=10)
    try:
        for _ in range(5):
            conn.request("GET", "/healthz", headers={"X-Pad": "p" * 1000})
            r = conn.getresponse()
            r.read()
            assert r.status == 200 and not r.will_close
    finally:
        conn.close()
    w.publish_and_expect()
