"""Helpers shared by the resume, versions, embargo, recent, drain, chaos and
priority suites (test_resume.py, test_versions.py, ...)."""

import asyncio
import socket
import time

import websockets

from conftest import connect, in_thread, stream_id


# --------------------------------------------------------------------------
# Publishing

def published(daemon, item, topics, **kw):
    """POSTs an item that must be accepted on the wire (202 published)."""
    r = daemon.publish(item, topics, **kw)
    assert r.status == 202, r
    body = r.json()
    assert body["status"] == "published", body
    return body


async def apublish(daemon, item, topics, **kw):
    """published() from a worker thread, so that clients keep reading."""
    return await in_thread(published, daemon, item, topics, **kw)


def second_instance(start_daemon, first, *args, **kw):
    """A second newswired on the same Redis and the same key prefix as first
    (the conftest command puts its own --set redis_prefix first; a later
    --set of the same key wins). Its .prefix is set to the shared one."""
    d = start_daemon("--set", f"redis_prefix={first.prefix}", *args,
                     redis_url=kw.pop("redis_url", first.redis_url), **kw)
    d.prefix = first.prefix
    return d


# --------------------------------------------------------------------------
# Reading

def cursor_of(msg):
    """The resume cursor an item message leaves the client with."""
    return msg.get("cursor") or msg["id"]


async def read_items(client, count, timeout=5.0, what="items"):
    """Exactly count item messages (anything else fails)."""
    out = []
    for i in range(count):
        try:
            out.append(await client.recv_type("item", timeout=timeout))
        except asyncio.TimeoutError:
            raise AssertionError(f"{what}: got {i} of {count} within {timeout}s "
                                 f"(ids {[m['id'] for m in out]})") from None
    return out


async def read_until_quiet(client, quiet=0.5, limit=10000):
    """Every frame until nothing comes for `quiet` seconds."""
    out = []
    while len(out) < limit:
        try:
            out.append(await client.recv(timeout=quiet))
        except asyncio.TimeoutError:
            return out
    raise AssertionError(f"more than {limit} frames")


async def resume_op(daemon, patterns, since, epoch=None, **extra):
    """A new session that resumes with the subscribe op; returns (client,
    subscribed message)."""
    c = await connect(daemon)
    fields = {"since": since, **extra}
    if epoch is not None:
        fields["epoch"] = epoch
    sub = await c.subscribe(*patterns, **fields)
    return c, sub


async def resume_url(daemon, patterns, since, epoch=None):
    """A new session that resumes through the URL (?topics=...&since=...)."""
    q = {"topics": ",".join(patterns), "since": since}
    if epoch is not None:
        q["epoch"] = epoch
    c = await connect(daemon, **q)
    sub = await c.recv_type("subscribed", timeout=5)
    return c, sub


def assert_increasing(ids, what="ids"):
    keys = [stream_id(i) for i in ids]
    assert keys == sorted(keys) and len(set(keys)) == len(keys), f"{what} not increasing: {ids}"


async def ws_connect_raw(url, timeout=5):
    return await websockets.connect(url, subprotocols=["newswire.v1.json"],
                                    max_size=8 * 1024 * 1024, open_timeout=timeout,
                                    close_timeout=2)


# --------------------------------------------------------------------------
# Raw WebSocket frames (server frames are never masked)

def parse_frames(data):
    """Splits server bytes into messages: a list of (opcode, payload) with
    continuation frames joined; returns (messages, leftover bytes)."""
    out, pos, partial, partial_op = [], 0, b"", None
    while True:
        if pos + 2 > len(data):
            break
        b0, b1 = data[pos], data[pos + 1]
        fin, opcode, n, p = b0 & 0x80, b0 & 0x0F, b1 & 0x7F, pos + 2
        if n == 126:
            if p + 2 > len(data):
                break
            n, p = int.from_bytes(data[p:p + 2], "big"), p + 2
        elif n == 127:
            if p + 8 > len(data):
                break
            n, p = int.from_bytes(data[p:p + 8], "big"), p + 8
        if p + n > len(data):
            break
        payload = data[p:p + n]
        pos = p + n
        if opcode == 0:
            partial += payload
            if fin:
                out.append((partial_op, partial))
                partial, partial_op = b"", None
        elif opcode in (1, 2) and not fin:
            partial, partial_op = payload, opcode
        else:
            out.append((opcode, payload))
    return out, data[pos:]


def read_raw_until(sock, predicate, timeout=10.0, data=b""):
    """Reads a raw socket until predicate(messages) is true or the peer
    closes; returns the messages. data: bytes already read (what
    ws_handshake() read after the response head)."""
    sock.settimeout(0.5)
    deadline = time.monotonic() + timeout
    while True:
        msgs, _ = parse_frames(data)
        if predicate(msgs):
            return msgs
        if time.monotonic() > deadline:
            raise AssertionError(f"raw read timed out with {len(msgs)} messages")
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            continue
        if not chunk:
            return parse_frames(data)[0]
        data += chunk


async def drop(client):
    """Disconnects abruptly (TCP close, no closing handshake), as a client
    that loses its network does; a graceful close could wait for the server
    to flush a large queue to a client that no longer reads."""
    client.ws.transport.abort()
    try:
        await asyncio.wait_for(client.ws.wait_closed(), 5)
    except asyncio.TimeoutError:
        raise AssertionError("the connection did not close after abort()") from None
