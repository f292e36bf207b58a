"""Fixtures for Newswire's integration tests.

Every test runs against real processes: a private redis-server on a free
loopback port (started once per session, append-only with fsync always, data
in a temporary folder) and a real newswired (started per test, with its own
ports and its own Redis key prefix so that tests never see each other's
data). Clients are real too: http.client for the API, python3-websockets for
the gateway.
"""

import asyncio
import http.client
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid

import jsonschema
import msgpack
import pytest
import redis as redis_py
import websockets

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(__file__).resolve().parent / "data"
NEWSWIRED = os.environ.get("NEWSWIRED", str(ROOT / "build" / "daemon" / "newswired"))


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls predicate until it returns a true value; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def load_item(name):
    with open(DATA / name, encoding="utf-8") as f:
        return json.load(f)


def make_item(uri=None, version="1", headline="Essai", urgency=None, **extra):
    """A minimal valid ninjs 2.2 item."""
    item = {
        "uri": uri or f"urn:newsml:test.example:{uuid.uuid4().hex}",
        "version": version,
        "versioncreated": "2026-11-27T09:12:00Z",
        "type": "text",
        "language": "fr",
        "headlines": [{"role": "main", "value": headline}],
    }
    if urgency is not None:
        item["urgency"] = urgency
    item.update(extra)
    return item


class RedisServer:
    """A private redis-server process."""

    def __init__(self, directory):
        self.dir = pathlib.Path(directory)
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--daemonize", "no", "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._pings, what="redis-server to answer PING")

    def _pings(self):
        try:
            return self.client().ping()
        except redis_py.exceptions.ConnectionError:
            return False

    def stop(self):
        """Graceful stop (SHUTDOWN semantics: the AOF is flushed)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=20)
            self.proc = None

    def client(self):
        return redis_py.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                              socket_timeout=5)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


class Daemon:
    """A newswired process with its own ports and Redis key prefix."""

    def __init__(self, redis_url, directory, args=()):
        self.redis_url = redis_url
        self.dir = pathlib.Path(directory)
        self.port = free_port()
        self.api_port = free_port()
        self.prefix = f"t{uuid.uuid4().hex[:10]}:"
        self.fixed_ports = False  # set when a test chose the ports itself
        self.args = list(args)
        self.proc = None
        self.log_path = self.dir / f"newswired-{self.port}.log"

    def command(self):
        if getattr(self, "argv", None) is not None:
            return [NEWSWIRED, *self.argv]
        # wire_batch_wait=0: tests publish faster than any newsroom, so the
        # default 1 ms wait would put most of their items in one dispatch
        # batch, where flashes and bulletins go ahead of routine items (as
        # PROTOCOL.md allows): tests that check the wire order of mixed
        # urgencies would then depend on timing. The batching path has its
        # own tests (test_gateway, test_resume), which set it explicitly.
        return [NEWSWIRED, "--redis", self.redis_url, "--listen", f"127.0.0.1:{self.port}",
                "--api-listen", f"127.0.0.1:{self.api_port}", "--set",
                f"redis_prefix={self.prefix}", "--log-level", "debug",
                "--set", "wire_batch_wait=0", *self.args]

    def start(self, wait_ready=True):
        """Starts newswired. free_port() can race with another process
        taking the port before newswired binds it: when the daemon exits at
        once because it cannot listen, it is started again on fresh ports
        (a few times)."""
        for attempt in range(5):
            self.log_file = open(self.log_path, "ab")
            mark = self.log_path.stat().st_size if self.log_path.exists() else 0
            self.proc = subprocess.Popen(self.command(), stdout=self.log_file,
                                         stderr=self.log_file)
            if not wait_ready:
                return self
            try:
                wait_until(self.ready, what="newswired /readyz")
                return self
            except AssertionError:
                failed_to_listen = (self.proc.poll() is not None and
                                    "cannot listen" in self.log()[mark:])
                if not failed_to_listen or attempt == 4 or self.fixed_ports:
                    raise
                self.log_file.close()
                self.port, self.api_port = free_port(), free_port()
        return self

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"newswired exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return self.api("GET", "/readyz").status == 200
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM, timeout=20):
        """Signals the daemon and returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"newswired did not stop within {timeout}s:\n{self.log()}")
        self.proc = None
        self.log_file.close()
        return rc

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def api(self, method, path, body=None, headers=None, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def publish(self, item, topics, fmt="json", via="query", headers=None):
        """POSTs an item; topics is a list or a comma-separated string."""
        if not isinstance(topics, str):
            topics = ",".join(topics)
        h = dict(headers or {})
        if fmt == "json":
            body = item if isinstance(item, (bytes, str)) else json.dumps(item)
            h.setdefault("Content-Type", "application/json")
        else:
            body = item if isinstance(item, bytes) else msgpack.packb(item)
            h.setdefault("Content-Type", "application/msgpack")
        path = "/v1/articles"
        if via == "query":
            path += "?topics=" + urllib.parse.quote(topics, safe=",/")
        else:
            h["Newswire-Topics"] = topics
        return self.api("POST", path, body=body, headers=h)

    def ws_url(self, **query):
        q = urllib.parse.urlencode(query, safe=",/")
        return f"ws://127.0.0.1:{self.port}/v1/stream" + (f"?{q}" if q else "")

    def metrics(self):
        """The /metrics samples as {'name{labels}': value}."""
        text = self.api("GET", "/metrics").body.decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out


@pytest.fixture
def start_daemon(redis_server, tmp_path):
    """Factory: start_daemon(*extra_args, redis_url=None) -> Daemon. Every
    daemon started is stopped at the end of the test, and must exit 0 with
    no sanitizer report.

    argv=[...] replaces the whole command line (after the program name); the
    caller then passes the ports it configured as port= and api_port=."""
    started = []

    def start(*args, redis_url=None, wait_ready=True, argv=None, port=None, api_port=None):
        d = Daemon(redis_url or redis_server.url, tmp_path, args)
        if argv is not None:
            d.argv = list(argv)
            d.fixed_ports = True
            d.port = port if port is not None else d.port
            d.api_port = api_port if api_port is not None else d.api_port
        started.append(d)
        return d.start(wait_ready=wait_ready)

    yield start
    for d in started:
        rc = d.stop()
        log = d.log()
        assert "AddressSanitizer" not in log and "runtime error:" not in log, log[-4000:]
        assert rc in (0, None), f"newswired exited with {rc}:\n{log[-4000:]}"


@pytest.fixture
def daemon(start_daemon):
    return start_daemon()


class Client:
    """A WebSocket session speaking newswire.v1.json or newswire.v1.msgpack."""

    def __init__(self, ws, fmt):
        self.ws = ws
        self.fmt = fmt

    async def send(self, msg):
        if self.fmt == "msgpack":
            await self.ws.send(msgpack.packb(msg))
        else:
            await self.ws.send(json.dumps(msg))

    async def recv(self, timeout=2.0):
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        if self.fmt == "msgpack":
            assert isinstance(raw, bytes), "msgpack sessions get binary frames"
            return msgpack.unpackb(raw)
        assert isinstance(raw, str), "JSON sessions get text frames"
        return json.loads(raw)

    async def recv_type(self, type_, timeout=2.0):
        """The next frame, which must be of the given type."""
        msg = await self.recv(timeout)
        assert msg.get("type") == type_, msg
        return msg

    async def expect_silence(self, seconds=0.3):
        """Asserts that nothing arrives for a while."""
        try:
            msg = await asyncio.wait_for(self.ws.recv(), seconds)
        except asyncio.TimeoutError:
            return
        raise AssertionError(f"unexpected frame: {msg!r}")

    async def subscribe(self, *topics, **extra):
        await self.send({"op": "subscribe", "topics": list(topics), **extra})
        return await self.recv_type("subscribed")

    async def close(self):
        await self.ws.close()


async def connect(daemon, fmt="json", subprotocol=True, hello=True, **query):
    """Opens a session; returns a Client after reading hello."""
    protos = None
    if subprotocol:
        protos = ["newswire.v1.msgpack" if fmt == "msgpack" else "newswire.v1.json"]
    ws = await websockets.connect(daemon.ws_url(**query), subprotocols=protos,
                                  max_size=4 * 1024 * 1024, open_timeout=5, close_timeout=2)
    c = Client(ws, fmt)
    if hello:
        h = await c.recv_type("hello")
        assert h["protocol"] == "newswire.v1"
    return c


def run(coro):
    return asyncio.run(coro)


# ---------------------------------------------------------------------------
# Helpers added for the behaviour suites (test_ingest, test_gateway, ...).

_NINJS_VALIDATOR = None
_NINJS_LOCK = threading.Lock()


def ninjs_validator():
    """A Draft 2020-12 validator for tests/integration/data/ninjs-schema_2.2.json."""
    global _NINJS_VALIDATOR
    with _NINJS_LOCK:
        if _NINJS_VALIDATOR is None:
            with open(DATA / "ninjs-schema_2.2.json", encoding="utf-8") as f:
                schema = json.load(f)
            jsonschema.Draft202012Validator.check_schema(schema)
            # The schema's only remote reference (places[].geojson) points at
            # geojson.org; the tests run offline, so it resolves to "any
            # GeoJSON object" here instead of being fetched.
            resolver = jsonschema.RefResolver.from_schema(
                schema, store={"https://geojson.org/schema/GeoJSON.json": {
                    "$schema": "https://json-schema.org/draft/2020-12/schema",
                    "type": "object", "required": ["type"]}})
            _NINJS_VALIDATOR = jsonschema.Draft202012Validator(
                schema, resolver=resolver, format_checker=jsonschema.FormatChecker())
        return _NINJS_VALIDATOR


def assert_ninjs(item):
    """Fails with every schema error if item is not a valid ninjs 2.2 item."""
    errors = sorted(ninjs_validator().iter_errors(item), key=lambda e: list(e.path))
    assert not errors, "not valid ninjs 2.2:\n" + "\n".join(
        f"  {'/'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors)


async def await_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    """wait_until for coroutines: keeps the event loop (and the WebSocket
    clients on it) running while polling a synchronous predicate."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def in_thread(fn, *args, **kwargs):
    """Runs a blocking call (an HTTP request) without blocking the loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: fn(*args, **kwargs))


def article_path(uri):
    """The GET path of an article: its uri percent-encoded as one segment."""
    return "/v1/articles/" + urllib.parse.quote(uri, safe="")


def stream_id(s):
    """A Redis stream id as a comparable tuple."""
    ms, _, seq = s.partition("-")
    return int(ms), int(seq or 0)


def metric(daemon, sample, default=0.0):
    """One /metrics sample ('name' or 'name{labels}' exactly as exposed)."""
    return daemon.metrics().get(sample, default)


def wire_len(redis_client, daemon):
    return redis_client.xlen(daemon.prefix + "wire")


def prefix_keys(redis_client, daemon):
    return sorted(redis_client.scan_iter(match=daemon.prefix + "*", count=1000))


def redis_state(redis_server, daemon):
    """Every key of the daemon's prefix with its serialized value (DUMP):
    equal snapshots mean nothing was written in between."""
    raw = redis_py.Redis(host="127.0.0.1", port=redis_server.port, socket_timeout=5)
    try:
        keys = sorted(raw.scan_iter(match=daemon.prefix.encode() + b"*", count=1000))
        return {k: raw.dump(k) for k in keys}
    finally:
        raw.close()


class RawResponse:
    """A response read off a raw socket (status, lower-case headers, body)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<RawResponse {self.status} {self.body[:200]!r}>"


def read_http_response(sock, timeout=10.0):
    """Reads one HTTP/1.1 response (head, then Content-Length bytes or until
    EOF) from a connected socket."""
    sock.settimeout(timeout)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed before a full response head: {buf!r}")
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
    assert m, lines[0]
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(body) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        body = body[:n]
    else:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return RawResponse(int(m.group(1)), headers, body)


def raw_http(port, data, timeout=10.0):
    """Sends raw bytes to 127.0.0.1:port and reads one HTTP response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        return read_http_response(s, timeout)


def run_newswired(*args, timeout=10.0):
    """Runs newswired to completion (for --help, --check-config, bad flags)."""
    return subprocess.run([NEWSWIRED, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own, which the test may stop and restart."""
    d = tmp_path / "private-redis"
    d.mkdir()
    server = RedisServer(d)
    server.start()
    yield server
    server.stop()


def ws_handshake(port, path="/v1/stream", protocol="newswire.v1.json", rcvbuf=None,
                 timeout=5.0):
    """Opens a WebSocket by hand on a raw socket (for clients that must
    misbehave: never read, send odd frames). Returns (sock, status, headers,
    leftover bytes read after the response head). rcvbuf sets SO_RCVBUF
    before connecting, so that the TCP window stays small."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
             "Sec-WebSocket-Version: 13"]
    if protocol:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed during the handshake: {buf!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    hlines = head.decode("iso-8859-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3})", hlines[0])
    assert m, hlines[0]
    headers = {}
    for line in hlines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return s, int(m.group(1)), headers, rest
