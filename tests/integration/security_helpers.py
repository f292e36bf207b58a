"""Helpers shared by the security suites (test_publishers, test_tokens,
test_limits, test_browser_edge, test_rfc6455): publisher config files,
subscriber tokens, raw WebSocket sockets that build their own frames, and a
background "watcher" session that must keep receiving items while another
client misbehaves."""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import ssl
import struct
import threading
import time

import websockets
from websockets.exceptions import ConnectionClosed

from conftest import make_item, metric, wait_until

# --------------------------------------------------------------------------
# Publishers ([publisher NAME] sections) and API requests


def sha256_hex(key):
    return hashlib.sha256(key.encode()).hexdigest()


def publisher_section(name, key, topics, rate=None):
    """One [publisher NAME] section holding the SHA-256 of key."""
    lines = [f"[publisher {name}]", f"key_sha256 = {sha256_hex(key)}", f'topics = "{topics}"']
    if rate is not None:
        lines.append(f"rate = {rate}")
    return "\n".join(lines) + "\n"


def write_config(path, *sections, head=""):
    """Writes a config file: plain keys (head) first, then the sections."""
    text = "# written by the security integration tests\n" + head + "\n" + "\n".join(sections)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)  # a reload never sees a half-written file
    return path


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def publish_as(daemon, key, topics, item=None, **kw):
    """POSTs an item with an API key (None: no Authorization header)."""
    headers = dict(kw.pop("headers", {}) or {})
    if key is not None:
        headers.update(bearer(key))
    return daemon.publish(item or make_item(), topics, headers=headers, **kw)


def assert_error(resp, status, field=None, contains=None):
    """resp is an error answer {"error": ..., "field": ...} with status."""
    assert resp.status == status, resp
    assert resp.headers.get("content-type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    if field is not None:
        assert body.get("field") == field, body
    if contains is not None:
        assert contains in body["error"], body
    return body


def log_has(daemon, text):
    return text in daemon.log()


def local_non_loopback_ipv4():
    """An IPv4 address of this host that is not loopback, or None (a UDP
    connect sends nothing: it only picks the source address of the route)."""
    for probe in ("192.0.2.1", "10.255.255.255", "8.8.8.8"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))
                addr = s.getsockname()[0]
        except OSError:
            continue
        if not addr.startswith("127.") and addr != "0.0.0.0":
            return addr
    return None


# --------------------------------------------------------------------------
# Subscriber tokens

SECRET = "0123456789abcdef0123456789abcdef-newswire-tests"  # 47 bytes


def b64url(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(topics=("monde/#",), ttl=300, **extra):
    """Token claims: topics, exp = now + ttl (None: no exp), extra ones."""
    c = {"topics": list(topics)}
    if ttl is not None:
        c["exp"] = int(time.time()) + ttl
    c.update(extra)
    return c


def hs256(secret, payload, header=None):
    """An HS256 JWS built by hand (so that any header or key can be used)."""
    if isinstance(secret, str):
        secret = secret.encode()
    h = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}, separators=(",", ":")))
    p = b64url(json.dumps(payload, separators=(",", ":")))
    sig = hmac.new(secret, f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64url(sig)}"


def alg_none(payload):
    """An unsigned token ({"alg":"none"}), with an empty signature part."""
    h = b64url(json.dumps({"alg": "none", "typ": "JWT"}, separators=(",", ":")))
    p = b64url(json.dumps(payload, separators=(",", ":")))
    return f"{h}.{p}."


# --------------------------------------------------------------------------
# Raw WebSocket: handshake and frames built by hand

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def encode_frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One WebSocket frame. rsv: the RSV1..3 bits as 0..7 (RSV1 = 4).
    length overrides the declared payload length."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class RawWS:
    """A WebSocket client on a raw socket: sends whatever frames the test
    builds and parses what the server sends."""

    def __init__(self, port, path="/v1/stream", protocol="newswire.v1.json", headers=(),
                 source=None, host="127.0.0.1", timeout=5.0, tls=None, handshake="full"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source is not None:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        if tls is not None:
            self.sock = tls.wrap_socket(self.sock, server_hostname=host)
        self.buf = b""
        self.status = None
        self.headers = {}
        self.body = b""
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                 "Sec-WebSocket-Version: 13"]
        if protocol:
            lines.append(f"Sec-WebSocket-Protocol: {protocol}")
        lines.extend(f"{k}: {v}" for k, v in headers)
        request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if handshake == "none":
            return
        if handshake == "half":
            self.sock.sendall(request[: len(request) // 2])
            return
        self.sock.sendall(request)
        self._read_head()

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed during the handshake: {self.buf!r}")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("iso-8859-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        assert m, lines[0]
        self.status = int(m.group(1))
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        if self.status != 101:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
            self.body, self.buf = self.buf[:n], self.buf[n:]

    def json(self):
        return json.loads(self.body)

    # -- frames

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", **kw):
        self.sock.sendall(encode_frame(opcode, payload, **kw))

    def send_text(self, obj):
        self.send_frame(OP_TEXT, json.dumps(obj))

    def _need(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError from None
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:
                raise EOFError
            self.buf += chunk

    def recv_frame(self, timeout=5.0):
        """(fin, opcode, payload) of the next server frame. Raises EOFError
        when the server closed the TCP connection, TimeoutError after
        timeout."""
        deadline = time.monotonic() + timeout
        self._need(2, deadline)
        b0, b1 = self.buf[0], self.buf[1]
        assert not b1 & 0x80, "server frames must not be masked"
        n, off = b1 & 0x7F, 2
        if n == 126:
            self._need(4, deadline)
            n, off = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            self._need(10, deadline)
            n, off = struct.unpack("!Q", self.buf[2:10])[0], 10
        self._need(off + n, deadline)
        payload = self.buf[off:off + n]
        self.buf = self.buf[off + n:]
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def recv_json(self, timeout=5.0):
        """The next data frame as JSON (control frames are skipped)."""
        while True:
            fin, op, payload = self.recv_frame(timeout)
            if op == OP_TEXT:
                return json.loads(payload)
            assert op in (OP_PING, OP_PONG), (op, payload)

    def read_until_close(self, timeout=5.0):
        """Reads frames until the server's close frame. Returns (code,
        reason, frames before it); code is None when the TCP connection
        ended without a close frame."""
        deadline = time.monotonic() + timeout
        frames = []
        while True:
            try:
                fin, op, payload = self.recv_frame(max(0.0, deadline - time.monotonic()))
            except EOFError:
                return None, None, frames
            if op == OP_CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                return code, payload[2:].decode("utf-8", "replace"), frames
            frames.append((fin, op, payload))

    def closed_by_server(self, timeout=5.0, eof_timeout=8.0):
        """Reads until the server's close frame, answers it as a client must
        (the close handshake), and checks that the server then ends the TCP
        connection (within eof_timeout: libwebsockets may miss the answer
        after a protocol error and then waits for its close-ack timeout, 5 s).
        Returns (code, reason)."""
        code, reason, _ = self.read_until_close(timeout)
        if code is not None:
            try:
                self.send_frame(OP_CLOSE, close_payload(code))
            except OSError:
                pass
        assert self.wait_eof(eof_timeout), "the TCP connection stays open after the close"
        return code, reason

    def wait_eof(self, timeout=5.0):
        """True when the server closes the TCP connection within timeout
        (whatever it sends before)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            except ssl.SSLError:
                return True
            if not chunk:
                return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def raw_open(daemon, **kw):
    """A RawWS on daemon's public listener that must be upgraded (101), with
    hello read."""
    ws = RawWS(daemon.port, **kw)
    assert ws.status == 101, (ws.status, ws.headers, ws.body)
    hello = ws.recv_json()
    assert hello["type"] == "hello", hello
    return ws


def assert_refused(ws, status, error, retry_after=None):
    """A refused upgrade: status, JSON {"error": ...}, Connection: close and
    the connection closed."""
    assert ws.status == status, (ws.status, ws.headers, ws.body)
    assert ws.headers.get("content-type", "").startswith("application/json"), ws.headers
    assert ws.json() == {"error": error}, ws.body
    if retry_after is not None:
        assert ws.headers.get("retry-after") == retry_after, ws.headers
    else:
        assert "retry-after" not in ws.headers, ws.headers
    assert ws.wait_eof(5), "the connection stays open after a refused upgrade"


# --------------------------------------------------------------------------
# A session on its own thread that must keep receiving items


class Watcher:
    """A well-behaved websockets session, on a thread of its own (so that
    synchronous tests can use it), subscribed to topic; it answers pings,
    collects items, and records how it ended."""

    def __init__(self, daemon, topic="controle", url=None, ssl_context=None, timeout=10.0):
        self.daemon = daemon
        self.topic = topic
        self.url = url or daemon.ws_url()
        self.ssl_context = ssl_context
        self.items = []
        self.others = []
        self.closed = None  # the ConnectionClosed exception, once closed
        self.error = None
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._ws = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise AssertionError("watcher: no session within the timeout")
        if self.error is not None:
            raise AssertionError(f"watcher: cannot open a session: {self.error!r}")

    def _run(self):
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        # let the websockets close handshake and its helpers finish
        pending = asyncio.all_tasks(self._loop)
        if pending:
            self._loop.run_until_complete(asyncio.wait(pending, timeout=5))
        self._loop.close()

    async def _main(self):
        try:
            self._ws = await websockets.connect(self.url, subprotocols=["newswire.v1.json"],
                                                ssl=self.ssl_context, open_timeout=5,
                                                close_timeout=2, max_size=4 * 1024 * 1024)
            hello = json.loads(await asyncio.wait_for(self._ws.recv(), 5))
            assert hello["type"] == "hello", hello
            await self._ws.send(json.dumps({"op": "subscribe", "topics": [self.topic]}))
            sub = json.loads(await asyncio.wait_for(self._ws.recv(), 5))
            assert sub["type"] == "subscribed", sub
        except Exception as e:  # reported by __init__
            self.error = e
            self._ready.set()
            return
        self._ready.set()
        try:
            async for raw in self._ws:
                msg = json.loads(raw)
                (self.items if msg.get("type") == "item" else self.others).append(msg)
        except ConnectionClosed as e:
            self.closed = e
        else:
            self.closed = True

    def ids(self):
        return [m["id"] for m in list(self.items)]

    def expect(self, ids, timeout=5.0):
        """Every id of ids arrives (in that order), and the session is open."""
        ids = list(ids)
        wait_until(lambda: all(i in self.ids() for i in ids) or self.closed is not None,
                   timeout=timeout, what=f"watcher items {ids}")
        self.assert_alive()
        got = [i for i in self.ids() if i in ids]
        assert got == ids, f"watcher got {got}, expected {ids}"

    def assert_alive(self):
        assert self.closed is None, f"the watcher session was closed: {self.closed!r}"
        assert not [m for m in self.others if m.get("type") == "error"], self.others

    def publish_and_expect(self, n=1, timeout=5.0):
        """Publishes n items on the watcher's topic (loopback API, no key)
        and checks that they all arrive."""
        ids = []
        for _ in range(n):
            r = self.daemon.publish(make_item(), [self.topic])
            assert r.status == 202, r
            ids.append(r.json()["id"])
        self.expect(ids, timeout)
        return ids

    def stop(self):
        if self._ws is not None and self.closed is None and not self._loop.is_closed():
            try:
                asyncio.run_coroutine_threadsafe(self._ws.close(), self._loop)
            except RuntimeError:
                pass  # the loop ended meanwhile
        self._thread.join(10)


# --------------------------------------------------------------------------
# Metrics


def sessions_open(daemon):
    m = daemon.metrics()
    return sum(v for k, v in m.items() if k.startswith("newswire_sessions{"))


def closes(daemon, reason):
    return metric(daemon, f'newswire_session_closes_total{{reason="{reason}"}}')


def refused(daemon, reason):
    return metric(daemon, f'newswire_handshakes_refused_total{{reason="{reason}"}}')


def api_refused(daemon, reason):
    return metric(daemon, f'newswire_api_auth_refused_total{{reason="{reason}"}}')


# --------------------------------------------------------------------------
# asyncio clients (conftest.Client) with tokens and headers


async def connect_with(daemon, headers=None, hello=True, url=None, ssl_context=None, **query):
    """conftest.connect() with extra request headers (Authorization,
    Origin...)."""
    from conftest import Client
    ws = await websockets.connect(url or daemon.ws_url(**query),
                                  subprotocols=["newswire.v1.json"],
                                  extra_headers=headers or {}, ssl=ssl_context,
                                  max_size=4 * 1024 * 1024, open_timeout=5, close_timeout=2)
    c = Client(ws, "json")
    if hello:
        h = await c.recv_type("hello")
        assert h["protocol"] == "newswire.v1"
    return c


async def expect_close(c, code, reason=None, timeout=5.0):
    """The server closes the session with code (and reason, when given).
    Returns (close frame, the messages received before it)."""
    msgs = []
    try:
        while True:
            raw = await asyncio.wait_for(c.ws.recv(), timeout)
            msgs.append(json.loads(raw))
    except ConnectionClosed as e:
        assert e.rcvd is not None, f"closed without a close frame: {e!r}; before: {msgs}"
        assert e.rcvd.code == code, f"closed with {e.rcvd.code} {e.rcvd.reason!r}, " \
                                    f"expected {code}; before: {msgs}"
        if reason is not None:
            assert e.rcvd.reason == reason, e.rcvd
        return e.rcvd, msgs
    except asyncio.TimeoutError:
        raise AssertionError(f"not closed within {timeout}s (expected {code}); got {msgs}")


async def expect_forbidden(c, topic):
    msg = await c.recv_type("error")
    assert msg["code"] == "forbidden", msg
    assert f'"{topic}"' in msg["message"], msg
    return msg
