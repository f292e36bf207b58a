"""What browsers meet at the edge (proto/PROTOCOL.md "Connecting", README
"Browsers" and "TLS"): allowed_origins at the upgrade, static files with an
explicit type table and nosniff, and TLS (wss:// and https://) on the
public listener."""

import http.client
import json
import socket
import ssl
import subprocess
import time

import pytest
import websockets

from conftest import run, run_newswired
from security_helpers import RawWS, Watcher, assert_refused, raw_open, refused

# --------------------------------------------------------------------------
# Origins

GOOD = "https://good.example"
OTHER = "https://other.example"


@pytest.fixture
def origins(start_daemon):
    d = start_daemon("--set", f"allowed_origins={GOOD}, {OTHER}")
    w = Watcher(d)  # no Origin header: not a browser, not refused
    yield d, w
    w.stop()


@pytest.mark.parametrize("origin", [
    "https://evil.example",
    "https://good.example.evil.example",
    "https://evil.example.good.example",
    "http://good.example",
    "https://good.example:8443",
    "null",
    "https://good.example, https://evil.example",
], ids=["evil", "suffix", "prefix", "other-scheme", "other-port", "null", "list"])
def test_origin_not_allowed_is_403(origins, origin):
    d, w = origins
    before = refused(d, "origin")
    s = RawWS(d.port, headers=[("Origin", origin)])
    assert_refused(s, 403, "origin not allowed")
    s.close()
    assert refused(d, "origin") == before + 1
    w.publish_and_expect()


@pytest.mark.parametrize("origin", [GOOD, OTHER, None], ids=["good", "other-listed", "none"])
def test_allowed_or_absent_origin_is_upgraded(origins, origin):
    d, w = origins
    s = raw_open(d, headers=[("Origin", origin)] if origin else [])
    assert s.status == 101
    s.send_text({"op": "subscribe", "topics": ["controle"]})
    assert s.recv_json()["type"] == "subscribed"
    ids = w.publish_and_expect()
    assert s.recv_json()["id"] == ids[0]
    s.close()
    assert refused(d, "origin") == 0


def test_allowed_origin_with_a_websockets_client(origins):
    d, w = origins

    async def scenario():
        ws = await websockets.connect(d.ws_url(), origin=GOOD, open_timeout=5)
        assert json.loads(await ws.recv())["type"] == "hello"
        await ws.close()

    run(scenario())
    w.publish_and_expect()


def test_any_origin_without_allowed_origins(start_daemon):
    d = start_daemon()
    s = raw_open(d, headers=[("Origin", "https://anything.example")])
    assert s.status == 101
    s.close()


# --------------------------------------------------------------------------
# Static files

FILES = {
    "index.html": b"<!doctype html><title>Newswire</title><p>fil</p>\n",
    "app.js": b"console.log('newswire');\n",
    "style.css": b"body { color: black }\n",
    "data.json": b'{"ok": true}\n',
    ".hidden": b"hidden\n",
    "file.exe": b"MZ\x90\x00binary\n",
    "notes": b"no extension\n",
}
TYPES = {
    "/": "text/html; charset=utf-8",
    "/index.html": "text/html; charset=utf-8",
    "/app.js": "text/javascript; charset=utf-8",
    "/style.css": "text/css; charset=utf-8",
    "/data.json": "application/json",
}


@pytest.fixture
def static_dir(tmp_path):
    root = tmp_path / "www"
    (root / "sub").mkdir(parents=True)
    for name, data in FILES.items():
        (root / name).write_bytes(data)
    (root / "sub" / "page.html").write_bytes(b"<p>sub</p>\n")
    (root / "sub" / ".hidden.html").write_bytes(b"<p>hidden</p>\n")
    # outside the static dir: must never be served
    (tmp_path / "secret.txt").write_bytes(b"SECRET outside the static dir\n")
    (tmp_path / "secret.html").write_bytes(b"SECRET outside the static dir\n")
    return root


def http_get(port, path, method="GET", tls=None):
    cls = http.client.HTTPSConnection if tls else http.client.HTTPConnection
    kw = {"context": tls} if tls else {}
    conn = cls("127.0.0.1", port, timeout=10, **kw)
    try:
        conn.request(method, path)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def raw_request(port, request, timeout=5.0):
    """Sends a raw request (the path is not normalised by any client) and
    returns everything read until the server closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                if b"\r\n\r\n" in data:
                    break
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        return data


def parse_head(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


@pytest.fixture
def static_daemon(start_daemon, static_dir):
    return start_daemon("--set", f"static_dir={static_dir}")


@pytest.mark.parametrize("path", list(TYPES))
def test_static_files_have_their_type_and_nosniff(static_daemon, static_dir, path):
    status, headers, body = http_get(static_daemon.port, path)
    assert status == 200, (path, status, body[:200])
    assert headers.get("content-type") == TYPES[path], headers
    assert headers.get("x-content-type-options") == "nosniff", headers
    name = "index.html" if path == "/" else path.lstrip("/")
    assert body == (static_dir / name).read_bytes()


@pytest.mark.parametrize("path", [
    "/.hidden", "/file.exe", "/notes", "/sub/page.html", "/sub/.hidden.html",
    "/missing.html", "/sub",
    "/sub/", "/.%2e/secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt",
    "/sub/%2e%2e/%2e%2e/secret.html",
])
def test_static_refusals_are_404(static_daemon, path):
    """Hidden files, types outside the table, subdirectories (only the top
    level of static_dir is served) and anything that tries to climb out."""
    status, headers, body = http_get(static_daemon.port, path)
    assert status == 404, (path, status, body[:200])
    assert b"SECRET" not in body


@pytest.mark.parametrize("target", [
    b"/../etc/passwd", b"/../secret.txt", b"/../secret.html", b"/sub/../../secret.html",
    b"/./../secret.txt", b"//etc/passwd", b"/%2e%2e/%2e%2e/etc/passwd",
    b"/..\\secret.html",
])
def test_static_traversal_raw_request_is_404(static_daemon, target):
    data = raw_request(static_daemon.port,
                       b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1."), data[:200]
    status, headers, body = parse_head(data)
    assert status == 404, (target, status, data[:300])
    assert b"SECRET" not in data and b"root:" not in data


def test_static_head(static_daemon, static_dir):
    data = raw_request(static_daemon.port,
                       b"HEAD /app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status, headers, body = parse_head(data)
    assert status == 200, data[:300]
    assert headers.get("content-type") == "text/javascript; charset=utf-8", headers
    assert headers.get("x-content-type-options") == "nosniff", headers
    assert int(headers.get("content-length", -1)) == len(FILES["app.js"]), headers
    assert body == b"", f"HEAD answered with a body: {body!r}"
    # the connection is still a good HTTP/1.1 peer afterwards
    status, _, body = http_get(static_daemon.port, "/app.js", method="HEAD")
    assert status == 200 and body == b""


def test_static_cors_any_origin(static_daemon):
    status, headers, _ = http_get(static_daemon.port, "/app.js")
    assert status == 200
    assert headers.get("access-control-allow-origin") == "*", headers


def test_static_with_allowed_origins(start_daemon, static_dir):
    d = start_daemon("--set", f"static_dir={static_dir}", "--set", f"allowed_origins={GOOD}")

    def get(origin):
        req = b"GET /app.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        if origin:
            req += b"Origin: " + origin.encode() + b"\r\n"
        return parse_head(raw_request(d.port, req + b"\r\n"))

    status, headers, body = get(GOOD)
    assert status == 200 and body.startswith(FILES["app.js"]), (status, body[:200])
    assert headers.get("access-control-allow-origin") == GOOD, headers
    assert headers.get("x-content-type-options") == "nosniff", headers
    status, headers, body = get("https://evil.example")
    assert status == 403, (status, body[:200])
    assert FILES["app.js"] not in body
    assert "access-control-allow-origin" not in headers, headers
    status, headers, body = get(None)  # not a browser's cross-origin request
    assert status == 200 and body.startswith(FILES["app.js"])
    assert "access-control-allow-origin" not in headers, headers


def test_no_static_dir_serves_nothing(start_daemon):
    d = start_daemon()
    for path in ("/", "/index.html", "/etc/passwd"):
        status, _, _ = http_get(d.port, path)
        assert status == 404, path


# --------------------------------------------------------------------------
# TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def tls_daemon(start_daemon, certificate, static_dir):
    cert, key = certificate
    return start_daemon("--set", f"tls_cert={cert}", "--set", f"tls_key={key}",
                        "--set", f"static_dir={static_dir}")


def client_context(cert):
    ctx = ssl.create_default_context(cafile=str(cert))  # verifies chain and 127.0.0.1
    return ctx


def test_wss_session_gets_hello_and_items(tls_daemon, certificate):
    ctx = client_context(certificate[0])
    url = f"wss://127.0.0.1:{tls_daemon.port}/v1/stream"
    w = Watcher(tls_daemon, url=url, ssl_context=ctx)
    try:
        w.publish_and_expect(3)
        # the same through a raw TLS socket
        s = RawWS(tls_daemon.port, tls=ctx)
        assert s.status == 101
        assert s.recv_json()["type"] == "hello"
        s.close()
        w.publish_and_expect()
    finally:
        w.stop()


def test_https_static_file(tls_daemon, certificate, static_dir):
    ctx = client_context(certificate[0])
    status, headers, body = http_get(tls_daemon.port, "/app.js", tls=ctx)
    assert status == 200, (status, body[:200])
    assert body == FILES["app.js"]
    assert headers.get("content-type") == "text/javascript; charset=utf-8"
    assert headers.get("x-content-type-options") == "nosniff"
    status, _, _ = http_get(tls_daemon.port, "/.hidden", tls=ctx)
    assert status == 404


def test_plain_ws_to_the_tls_port_fails(tls_daemon, certificate):
    async def scenario():
        with pytest.raises(Exception) as e:
            ws = await websockets.connect(f"ws://127.0.0.1:{tls_daemon.port}/v1/stream",
                                          open_timeout=5)
            await ws.close()
        assert not isinstance(e.value, AssertionError)

    run(scenario())
    data = raw_request(tls_daemon.port, b"GET /app.js HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
    assert not data.startswith(b"HTTP/1.1 200"), data[:200]
    assert FILES["app.js"] not in data
    # and TLS still works after the plain attempts
    ctx = client_context(certificate[0])
    w = Watcher(tls_daemon, url=f"wss://127.0.0.1:{tls_daemon.port}/v1/stream",
                ssl_context=ctx)
    try:
        w.publish_and_expect()
    finally:
        w.stop()


def test_tls_cert_without_key_is_refused(certificate):
    r = run_newswired("--set", f"tls_cert={certificate[0]}", "--check-config")
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "tls_cert" in r.stderr and "tls_key" in r.stderr, r.stderr
