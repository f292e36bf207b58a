"""Malformed WebSocket input (RFC 6455, section 5): frames built by hand on
raw sockets, masked as a client must unless the case is about masking. Each
bad client is closed with the documented code (proto/PROTOCOL.md,
"Closing": 1002 for protocol errors, 1007 for invalid UTF-8, 1009 for an
oversized message) and its TCP connection ends, while another session on
the same daemon keeps receiving every item published meanwhile and never
notices."""

import pytest

from conftest import make_item, wait_until
from security_helpers import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, Watcher,
                              close_payload, encode_frame, raw_open, sessions_open)

PING = b'{"op":"ping"}'

# name -> (frames to send, expected close code)
CASES = {
    "unknown-opcode-3": ([encode_frame(0x3, PING)], 1002),
    "unknown-control-opcode-b": ([encode_frame(0xB, b"")], 1002),
    "rsv1-without-extension": ([encode_frame(OP_TEXT, PING, rsv=4)], 1002),
    "rsv3-without-extension": ([encode_frame(OP_TEXT, PING, rsv=1)], 1002),
    "invalid-utf8-text": ([encode_frame(OP_TEXT, b'{"op":"ping","x":"\xff\xfe"}')], 1007),
    "invalid-utf8-across-fragments": ([encode_frame(OP_TEXT, b'{"op":"ping","x":"\xc3',
                                                    fin=False),
                                       encode_frame(OP_CONT, b'("}')], 1007),
    "fragmented-ping": ([encode_frame(OP_PING, b"abc", fin=False)], 1002),
    # libwebsockets 4.1 drops the connection at once, without a close frame
    # (its illegal_ctl_length path sets no close reason): None = no code.
    "control-payload-over-125": ([encode_frame(OP_PING, b"x" * 126)], None),
    "oversized-message": ([encode_frame(OP_TEXT, b'{"op":"ping","pad":"' + b"x" * 5000
                                        + b'"}')], 1009),
    "oversized-fragmented-message": ([encode_frame(OP_TEXT, b"x" * 3000, fin=False),
                                      encode_frame(OP_CONT, b"x" * 3000)], 1009),
    "continuation-without-start": ([encode_frame(OP_CONT, PING)], 1002),
    "new-message-inside-fragmented-one": ([encode_frame(OP_TEXT, b'{"op":', fin=False),
                                           encode_frame(OP_TEXT, PING)], 1002),
}


@pytest.fixture
def watched(start_daemon):
    """A daemon and a watcher session subscribed to "controle"."""
    d = start_daemon()
    w = Watcher(d)
    yield d, w
    w.stop()


def publish(daemon, topic="controle"):
    r = daemon.publish(make_item(), [topic])
    assert r.status == 202, r
    return r.json()["id"]


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_frame_closes_only_the_offender(watched, name):
    d, w = watched
    frames, code = CASES[name]
    before = publish(d)
    bad = raw_open(d)
    # the bad client is a real session first: it subscribed like the watcher
    bad.send_text({"op": "subscribe", "topics": ["controle"]})
    assert bad.recv_json()["type"] == "subscribed"
    during = publish(d)
    assert bad.recv_json()["id"] == during
    for f in frames:
        bad.send(f)
    got, reason = bad.closed_by_server(timeout=5)
    assert got == code, f"{name}: closed with {got} ({reason!r}), expected {code}"
    bad.close()
    after = publish(d)
    w.expect([before, during, after])
    # the offender's session is gone; the watcher's is the only one left
    wait_until(lambda: sessions_open(d) == 1, what="the bad session to be released")
    w.assert_alive()


def test_unmasked_client_frame_is_accepted_by_libwebsockets_4_1(watched):
    """RFC 6455 says a server must close on an unmasked client frame;
    Debian 12's libwebsockets 4.1 does not check the mask bit and handles
    the frame (PROTOCOL.md, "Closing", documents this). What must hold:
    the offender gets nothing it should not, and nobody else notices."""
    d, w = watched
    before = publish(d)
    bad = raw_open(d)
    bad.send_text({"op": "subscribe", "topics": ["controle"]})
    assert bad.recv_json()["type"] == "subscribed"
    bad.send(encode_frame(OP_TEXT, PING, mask=False))
    assert bad.recv_json()["type"] == "pong"
    after = publish(d)
    assert bad.recv_json()["id"] == after
    bad.close()
    w.expect([before, after])
    w.assert_alive()


def test_many_malformed_clients_at_once(watched):
    """Every kind of bad client at once, interleaved with publishes: the
    watcher gets every item, in order, and stays open; once the bad clients
    are gone every one of their sessions is released (the close codes
    themselves are checked case by case above)."""
    d, w = watched
    ids, bad = [], []
    for name, (frames, code) in CASES.items():
        ws = raw_open(d)
        for f in frames:
            ws.send(f)
        bad.append(ws)
        ids.append(publish(d))
    w.expect(ids, timeout=10)
    for ws in bad:
        ws.close()
    wait_until(lambda: sessions_open(d) == 1, what="every bad session to be released")
    w.publish_and_expect()


def test_client_close_frame_is_echoed(watched):
    """The opposite case: a well-formed close from the client gets the close
    handshake (the same code echoed) and the connection ends cleanly."""
    d, w = watched
    ws = raw_open(d)
    ws.send_frame(OP_CLOSE, close_payload(1000, b"bye"))
    code, _, _ = ws.read_until_close(timeout=5)
    assert code == 1000
    assert ws.wait_eof(5)
    ws.close()
    w.publish_and_expect()


@pytest.mark.parametrize("payload", [close_payload(999), close_payload(1005),
                                     close_payload(2999)],
                         ids=["code-999", "code-1005", "code-2999"])
def test_close_frame_with_forbidden_code_gets_1002(watched, payload):
    d, w = watched
    ws = raw_open(d)
    ws.send_frame(OP_CLOSE, payload)
    got, reason = ws.closed_by_server(timeout=5)
    assert got == 1002, f"closed with {got} ({reason!r}), expected 1002"
    ws.close()
    w.publish_and_expect()


@pytest.mark.parametrize("payload", [b"\x03", close_payload(1000, b"\xff\xfe")],
                         ids=["one-byte-body", "reason-not-utf8"])
def test_malformed_close_frame_ends_the_connection(watched, payload):
    """RFC 6455 would answer 1002 (one-byte body) and 1007 (reason not
    UTF-8). libwebsockets 4.1.6 echoes the one-byte body, and drops the
    connection without a close frame for the bad reason; both are the end of
    the connection anyway, so only that is required here: it ends at once
    and nobody else notices."""
    d, w = watched
    ws = raw_open(d)
    ws.send_frame(OP_CLOSE, payload)
    assert ws.wait_eof(5), "the connection stays open after a malformed close frame"
    ws.close()
    wait_until(lambda: sessions_open(d) == 1, what="the session to be released")
    w.publish_and_expect()


def test_binary_frame_on_json_session_is_not_a_protocol_error(watched):
    """Control: a well-formed binary frame is an application error (an error
    frame), not a close."""
    d, w = watched
    ws = raw_open(d)
    ws.send_frame(OP_BINARY, PING)
    msg = ws.recv_json()
    assert msg["type"] == "error" and msg["code"] == "unsupported_frame", msg
    ws.send_frame(OP_PING, b"still here")
    fin, op, payload = ws.recv_frame()
    assert (op, payload) == (0xA, b"still here")
    ws.close()
    w.publish_and_expect()


def test_half_frame_then_disconnect(watched):
    """A client that vanishes in the middle of a frame leaves nothing behind."""
    d, w = watched
    ws = raw_open(d)
    frame = encode_frame(OP_TEXT, b'{"op":"ping","pad":"' + b"y" * 200 + b'"}')
    ws.send(frame[:50])
    ws.close()
    wait_until(lambda: sessions_open(d) == 1, what="the half-frame session to be released")
    w.publish_and_expect(3)
