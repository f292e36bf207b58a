"""The newswire command (clients/cli): publish, kill and tail, run as a
script would run them, against a real newswired (and, for what a daemon
cannot be made to do on demand — 503 answers, chunked bodies, silence,
https — a small fake HTTP server of the test's own).

Exit statuses: 0 success, 2 usage error or locally invalid item (nothing
sent), 3 a 4xx answer or a refused session, 4 a 5xx answer, 5 no answer."""

import hashlib
import http.server
import json
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid

import jwt
import msgpack
import pytest

from conftest import NEWSWIRED, article_path, free_port, make_item, wait_until

CLI = str(pathlib.Path(NEWSWIRED).resolve().parents[1] / "clients" / "cli" / "newswire")
SECRET = "cli-test-secret-" + "0123456789abcdef" * 3


# --------------------------------------------------------------------------
# Helpers

def run_cli(*args, input=None, env=None, timeout=30):
    """Runs the command to completion; returns the CompletedProcess (bytes)."""
    full_env = dict(os.environ)
    full_env.pop("NEWSWIRE_KEY", None)
    full_env.pop("NEWSWIRE_TOKEN", None)
    full_env.update(env or {})
    p = subprocess.run([CLI, *args], input=input, capture_output=True, env=full_env,
                       timeout=timeout)
    assert_clean(p.stderr.decode(errors="replace"))
    return p


def assert_clean(stderr):
    assert "AddressSanitizer" not in stderr and "runtime error:" not in stderr, stderr[-4000:]
    assert "LeakSanitizer" not in stderr, stderr[-4000:]


def api(daemon):
    return f"http://127.0.0.1:{daemon.api_port}"


def write_item(tmp_path, item):
    path = tmp_path / f"item-{uuid.uuid4().hex[:8]}.json"
    path.write_text(json.dumps(item))
    return str(path)


def publish_cli(daemon, tmp_path, item, topics="monde/afrique", *extra, env=None):
    return run_cli("publish", "--api", api(daemon), "--topics", topics, *extra,
                   write_item(tmp_path, item), env=env)


def receipt(p):
    assert p.returncode == 0, (p.returncode, p.stderr)
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 1, p.stdout
    return json.loads(lines[0])


def error_body(p):
    """The JSON error the command printed on stderr (its last line)."""
    return json.loads(p.stderr.decode().strip().splitlines()[-1])


def wire_len(redis_server, daemon):
    return redis_server.client().xlen(daemon.prefix + "wire")


class Tail:
    """A `newswire tail -v` process writing to files."""

    def __init__(self, directory, args, env=None):
        tag = uuid.uuid4().hex[:8]
        self.out_path = pathlib.Path(directory) / f"tail-{tag}.out"
        self.err_path = pathlib.Path(directory) / f"tail-{tag}.err"
        full_env = dict(os.environ)
        full_env.pop("NEWSWIRE_TOKEN", None)
        full_env.update(env or {})
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([CLI, "tail", "-v", *args], stdout=out, stderr=err,
                                         env=full_env)

    def stdout(self):
        return self.out_path.read_text()

    def stderr(self):
        return self.err_path.read_text(errors="replace")

    def lines(self):
        return [json.loads(line) for line in self.stdout().splitlines()]

    def _subscribed(self, count):
        if self.stderr().count("newswire tail: subscribed") >= count:
            return True
        if self.proc.poll() is not None:
            raise AssertionError(f"tail exited with {self.proc.returncode}:\n{self.stderr()}")
        return False

    def wait_subscribed(self, count=1, timeout=10):
        wait_until(lambda: self._subscribed(count), timeout=timeout, what="tail subscribed")

    def wait_lines(self, n, timeout=10):
        wait_until(lambda: len(self.stdout().splitlines()) >= n, timeout=timeout,
                   what=f"{n} lines from tail")

    def wait(self, timeout=20):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"tail still running after {timeout}s:\n{self.stderr()}")
        assert_clean(self.stderr())
        return rc

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def tails(tmp_path):
    """Factory: tails(*args, env=None) -> Tail; every tail is ended after the test."""
    started = []

    def start(*args, env=None):
        t = Tail(tmp_path, args, env)
        started.append(t)
        return t

    yield start
    for t in started:
        t.stop()


def published(daemon, topics, item=None):
    r = daemon.publish(item or make_item(), topics)
    assert r.status == 202, r
    return r.json()["id"]


class FakeApi:
    """An HTTP/1.1 server answering from a script of (status, headers, body
    or chunks) and recording each request as (method, path, headers, body)."""

    def __init__(self, script, tls_context=None):
        self.script = list(script)
        self.requests = []
        self.times = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                fake.requests.append((self.command, self.path, dict(self.headers), body))
                fake.times.append(time.monotonic())
                status, headers, payload = (fake.script.pop(0) if len(fake.script) > 1
                                            else fake.script[0])
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if isinstance(payload, list):  # chunked
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in payload:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                self.close_connection = True

            do_POST = do_DELETE = do_GET = answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_api():
    servers = []

    def make(*script, tls_context=None):
        s = FakeApi(script, tls_context)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


RECEIPT = b'{"status":"published","id":"1-0","uri":"urn:x:1","version":"1","kind":"new"}'


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    """A self-signed certificate for localhost and 127.0.0.1: (cert, key)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return str(cert), str(key)


# --------------------------------------------------------------------------
# Usage

def test_help_version_and_usage_errors():
    p = run_cli("--help")
    assert p.returncode == 0 and b"publish" in p.stdout and b"tail" in p.stdout
    p = run_cli("--version")
    assert p.returncode == 0 and p.stdout.decode().startswith("newswire ")
    for cmd in ("publish", "kill", "tail"):
        p = run_cli(cmd, "--help")
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode().startswith(f"Usage: newswire {cmd}")
        p = run_cli(cmd, "--no-such-option")
        assert p.returncode == 2
        assert b"unknown option --no-such-option" in p.stderr
        assert f"Usage: newswire {cmd}".encode() in p.stderr
        assert p.stdout == b""
    p = run_cli()
    assert p.returncode == 2 and b"Usage: newswire COMMAND" in p.stderr
    p = run_cli("frobnicate")
    assert p.returncode == 2 and b"unknown command" in p.stderr
    p = run_cli("--frobnicate")
    assert p.returncode == 2 and b"unknown option" in p.stderr
    p = run_cli("publish", "--api", "ftp://h", "--topics", "a", "-")
    assert p.returncode == 2 and b"--api" in p.stderr
    p = run_cli("tail", "--url", "http://h/v1/stream", "a")
    assert p.returncode == 2 and b"ws://" in p.stderr


# --------------------------------------------------------------------------
# publish

def test_publish_202_then_duplicate_200(daemon, redis_server, tmp_path):
    item = make_item(urgency=3)
    first = receipt(publish_cli(daemon, tmp_path, item))
    assert first["status"] == "published" and first["kind"] == "new"
    assert first["uri"] == item["uri"] and first["version"] == "1"
    assert wire_len(redis_server, daemon) == 1
    again = receipt(publish_cli(daemon, tmp_path, item))
    assert again["status"] == "duplicate" and again["id"] == first["id"]
    assert wire_len(redis_server, daemon) == 1
    r = daemon.api("GET", article_path(item["uri"]))
    assert r.status == 200 and r.json() == item


def test_publish_from_stdin_with_header_topics(daemon, tmp_path):
    item = make_item()
    p = run_cli("publish", "--api", api(daemon) + "/", "--topics", "monde/afrique, sport", "-",
                input=json.dumps(item, indent=2).encode())
    body = receipt(p)
    assert body["status"] == "published"
    assert daemon.api("GET", article_path(item["uri"])).json() == item


def test_publish_msgpack(daemon, tmp_path):
    item = make_item(headline="Équipe de France", urgency=2)
    body = receipt(publish_cli(daemon, tmp_path, item, "sport", "--msgpack"))
    assert body["status"] == "published"
    assert daemon.api("GET", article_path(item["uri"])).json() == item


def test_publish_sends_what_it_says(fake_api, tmp_path):
    """Headers and body on the wire: key, topics, content type, idempotency
    key; the receipt goes to stdout unchanged."""
    fake = fake_api((202, {"Content-Type": "application/json"}, RECEIPT))
    item = make_item()
    p = run_cli("publish", "--api", f"http://127.0.0.1:{fake.port}/base", "--topics", "a/b,c",
                "--idempotency-key", "idem-1", "--msgpack", write_item(tmp_path, item),
                env={"NEWSWIRE_KEY": "k-from-env"})
    assert p.returncode == 0, p.stderr
    assert p.stdout == RECEIPT + b"\n"
    (method, path, headers, body), = fake.requests
    assert (method, path) == ("POST", "/base/v1/articles")
    assert headers["Authorization"] == "Bearer k-from-env"
    assert headers["Newswire-Topics"] == "a/b,c"
    assert headers["Idempotency-Key"] == "idem-1"
    assert headers["Content-Type"] == "application/msgpack"
    assert msgpack.unpackb(body) == item
    # --key wins over the environment; JSON bodies are sent as written
    text = json.dumps(item, indent=1)
    p = run_cli("publish", "--api", f"http://127.0.0.1:{fake.port}", "--key", "k-flag",
                "--topics", "a", "-", input=text.encode(), env={"NEWSWIRE_KEY": "k-from-env"})
    assert p.returncode == 0, p.stderr
    method, path, headers, body = fake.requests[1]
    assert path == "/v1/articles" and headers["Authorization"] == "Bearer k-flag"
    assert headers["Content-Type"] == "application/json" and body == text.encode()


def test_publish_locally_invalid_item_exits_2_and_sends_nothing(fake_api, tmp_path):
    fake = fake_api((202, {}, RECEIPT))
    url = f"http://127.0.0.1:{fake.port}"
    item = make_item()
    del item["headlines"]
    p = run_cli("publish", "--api", url, "--topics", "a", write_item(tmp_path, item))
    assert p.returncode == 2
    assert b"invalid item: headlines" in p.stderr
    bad_urgency = make_item(urgency=12)
    p = run_cli("publish", "--api", url, "--topics", "a", write_item(tmp_path, bad_urgency))
    assert p.returncode == 2 and b"urgency" in p.stderr
    p = run_cli("publish", "--api", url, "--topics", "a", "-", input=b'{"uri": ')
    assert p.returncode == 2 and b"invalid item" in p.stderr
    p = run_cli("publish", "--api", url, "--topics", "Bad Topic", "-", input=b"{}")
    assert p.returncode == 2 and b"--topics" in p.stderr
    p = run_cli("publish", "--api", url, "--topics", "a", str(tmp_path / "missing.json"))
    assert p.returncode == 2 and b"cannot read" in p.stderr
    assert fake.requests == []


def test_publish_conflict_exits_3_with_the_json_error(daemon, tmp_path):
    item = make_item(version="2")
    receipt(publish_cli(daemon, tmp_path, item))
    older = dict(item, version="1")
    p = publish_cli(daemon, tmp_path, older)
    assert p.returncode == 3, p.stderr
    assert p.stdout == b""
    err = error_body(p)
    assert err["field"] == "version" and err["error"]
    assert b"409" in p.stderr
    # same version, other content: 409 too
    p = publish_cli(daemon, tmp_path, dict(item, headlines=[{"value": "Autre"}]))
    assert p.returncode == 3 and error_body(p)["field"] == "version"


def test_publish_outside_the_grant_exits_3(start_daemon, tmp_path):
    key = "cli-key-" + uuid.uuid4().hex
    conf = tmp_path / "publishers.conf"
    conf.write_text("[publisher cli]\n"
                    f"key_sha256 = {hashlib.sha256(key.encode()).hexdigest()}\n"
                    "topics = sport/#\nrate = 1000\n")
    d = start_daemon("--config", str(conf))
    p = publish_cli(d, tmp_path, make_item(), "monde", "--key", key)
    assert p.returncode == 3
    assert b"403" in p.stderr and error_body(p)["field"] == "topics"
    p = publish_cli(d, tmp_path, make_item(), "sport/foot")
    assert p.returncode == 3
    assert b"401" in p.stderr and error_body(p)["field"] == "Authorization"
    body = receipt(publish_cli(d, tmp_path, make_item(), "sport/foot", env={"NEWSWIRE_KEY": key}))
    assert body["status"] == "published"


def test_publish_with_nothing_listening_exits_5(tmp_path):
    p = run_cli("publish", "--api", f"http://127.0.0.1:{free_port()}", "--topics", "a",
                write_item(tmp_path, make_item()))
    assert p.returncode == 5
    assert b"Connection refused" in p.stderr and p.stdout == b""


def test_publish_timeout_exits_5(tmp_path):
    """A server that accepts and never answers: --timeout bounds the wait."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        t0 = time.monotonic()
        p = run_cli("publish", "--api", f"http://127.0.0.1:{s.getsockname()[1]}", "--topics",
                    "a", "--timeout", "0.5", write_item(tmp_path, make_item()))
        elapsed = time.monotonic() - t0
    assert p.returncode == 5 and b"timed out" in p.stderr
    assert elapsed < 5


def test_publish_retries_503_with_the_same_request(fake_api, tmp_path):
    busy = (503, {"Retry-After": "1"}, b'{"error":"busy","field":""}')
    fake = fake_api(busy, busy, (202, {}, RECEIPT))
    p = run_cli("publish", "--api", f"http://127.0.0.1:{fake.port}", "--topics", "a",
                "--idempotency-key", "same", write_item(tmp_path, make_item()))
    assert p.returncode == 0, p.stderr
    assert p.stdout == RECEIPT + b"\n"
    assert len(fake.requests) == 3
    assert fake.requests[0][3] == fake.requests[1][3] == fake.requests[2][3]
    assert all(r[2]["Idempotency-Key"] == "same" for r in fake.requests)
    # Retry-After: 1 was honoured between attempts
    assert fake.times[1] - fake.times[0] >= 0.9 and fake.times[2] - fake.times[1] >= 0.9
    assert p.stderr.count(b"retrying") == 2


def test_publish_5xx_exits_4_after_the_retries(fake_api, tmp_path):
    fake = fake_api((503, {"Retry-After": "0"}, b'{"error":"redis unavailable","field":""}'))
    p = run_cli("publish", "--api", f"http://127.0.0.1:{fake.port}", "--topics", "a",
                "--retries", "2", write_item(tmp_path, make_item()))
    assert p.returncode == 4
    assert len(fake.requests) == 3
    assert error_body(p)["error"] == "redis unavailable"
    fake = fake_api((500, {}, b'{"error":"boom"}'))
    p = run_cli("publish", "--api", f"http://127.0.0.1:{fake.port}", "--topics", "a",
                write_item(tmp_path, make_item()))
    assert p.returncode == 4 and len(fake.requests) == 1  # only 503 is retried


def test_publish_reads_a_chunked_receipt(fake_api, tmp_path):
    fake = fake_api((202, {}, [RECEIPT[:10], RECEIPT[10:40], RECEIPT[40:]]))
    p = run_cli("publish", "--api", f"http://127.0.0.1:{fake.port}", "--topics", "a",
                write_item(tmp_path, make_item()))
    assert p.returncode == 0, p.stderr
    assert p.stdout == RECEIPT + b"\n"


def test_publish_over_https(fake_api, tmp_path, tls_cert):
    cert, key = tls_cert
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    fake = fake_api((202, {}, RECEIPT), tls_context=ctx)
    path = write_item(tmp_path, make_item())
    for host in ("127.0.0.1", "localhost"):  # an IP address and a name, both in the SAN
        p = run_cli("publish", "--api", f"https://{host}:{fake.port}", "--topics", "a",
                    "--cacert", cert, path)
        assert p.returncode == 0, p.stderr
        assert p.stdout == RECEIPT + b"\n"
    # the system store does not know this certificate
    p = run_cli("publish", "--api", f"https://127.0.0.1:{fake.port}", "--topics", "a", path)
    assert p.returncode == 5 and b"certificate verification failed" in p.stderr
    p = run_cli("publish", "--api", f"https://127.0.0.1:{fake.port}", "--topics", "a",
                "--insecure", path)
    assert p.returncode == 0, p.stderr
    assert len(fake.requests) == 3


# --------------------------------------------------------------------------
# kill

def test_kill(daemon, tmp_path):
    uri = f"urn:newsml:cli.example:{uuid.uuid4().hex}/a b?c=d#e"
    item = make_item(uri=uri.replace(" ", "_"))
    receipt(publish_cli(daemon, tmp_path, item, "monde/afrique"))
    body = receipt(run_cli("kill", "--api", api(daemon), item["uri"]))
    assert body["status"] == "published" and body["kind"] == "kill"
    assert body["uri"] == item["uri"] and body["version"] == "2"
    r = daemon.api("GET", article_path(item["uri"]))
    assert r.json()["pubstatus"] == "canceled"
    p = run_cli("kill", "--api", api(daemon), "urn:newsml:cli.example:unknown-" + uuid.uuid4().hex)
    assert p.returncode == 3 and b"404" in p.stderr
    assert error_body(p)["error"]
    p = run_cli("kill", "--api", f"http://127.0.0.1:{free_port()}", "urn:x:1")
    assert p.returncode == 5


def test_kill_percent_encodes_the_uri(fake_api):
    fake = fake_api((202, {}, RECEIPT))
    p = run_cli("kill", "--api", f"http://127.0.0.1:{fake.port}", "--key", "k",
                "urn:x:é/a b?c#d")
    assert p.returncode == 0, p.stderr
    (method, path, headers, body), = fake.requests
    assert method == "DELETE"
    assert path == "/v1/articles/" + urllib.parse.quote("urn:x:é/a b?c#d", safe="")
    assert headers["Authorization"] == "Bearer k" and body == b""


# --------------------------------------------------------------------------
# tail

def test_tail_prints_one_json_line_per_item(daemon, tails):
    t = tails("--url", daemon.ws_url(), "--count", "3", "monde/#", "sport")
    t.wait_subscribed()
    ids = [published(daemon, ["monde/afrique"]),
           published(daemon, ["culture"]),  # not subscribed: not printed
           published(daemon, ["sport", "monde"]),
           published(daemon, ["sport"])]
    assert t.wait() == 0, t.stderr()
    lines = t.stdout().splitlines()
    assert len(lines) == 3
    msgs = [json.loads(line) for line in lines]
    assert [m["id"] for m in msgs] == [ids[0], ids[2], ids[3]]
    assert all(m["type"] == "item" and m["kind"] == "new" for m in msgs)
    assert msgs[1]["topics"] == ["sport", "monde"]
    # diagnostics stay on stderr
    assert "subscribed" in t.stderr() and "hello" in t.stderr()


def test_tail_msgpack_prints_json(daemon, tails):
    item = make_item(headline="Équipe", urgency=1)
    t = tails("--url", daemon.ws_url(), "--msgpack", "--count", "1", "sport/+")
    t.wait_subscribed()
    wid = published(daemon, ["sport/foot"], item)
    assert t.wait() == 0, t.stderr()
    (msg,) = t.lines()
    assert msg["id"] == wid and msg["item"] == item and msg["urgency"] == 1


def test_tail_min_urgency_and_since(daemon, tails):
    ids = [published(daemon, ["eco"], make_item(urgency=u)) for u in (5, 2, 7, 1)]
    # resume after the first: the three others, filtered to urgency <= 2
    t = tails("--url", daemon.ws_url(), "--since", ids[0], "--min-urgency", "2", "--count", "2",
              "eco")
    assert t.wait() == 0, t.stderr()
    assert [m["id"] for m in t.lines()] == [ids[1], ids[3]]


def test_tail_sigint_and_sigterm_exit_0(daemon, tails):
    for sig in (signal.SIGINT, signal.SIGTERM):
        t = tails("--url", daemon.ws_url(), "monde")
        t.wait_subscribed()
        t.proc.send_signal(sig)
        assert t.wait(timeout=10) == 0, t.stderr()
        assert t.stdout() == ""


def test_tail_gives_up_after_max_retries(tails):
    t = tails("--url", f"ws://127.0.0.1:{free_port()}/v1/stream", "--max-retries", "2",
              "--backoff-max", "0.2", "monde")
    assert t.wait(timeout=20) == 5
    assert "giving up" in t.stderr() and t.stdout() == ""


def test_tail_resumes_across_a_daemon_restart(start_daemon, tails):
    """SIGTERM closes the session with 1012; tail reconnects to the restarted
    daemon, resumes from its cursor and prints every item exactly once,
    including those published while it was away."""
    d = start_daemon()
    total = 14
    t = tails("--url", d.ws_url(), "--count", str(total), "--backoff-max", "0.5", "cli/#")
    t.wait_subscribed()
    ids = [published(d, ["cli/before"]) for _ in range(4)]
    t.wait_lines(4)

    lock = threading.Lock()
    done = threading.Event()

    def publisher():
        for _ in range(total - 4):
            item = make_item()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    r = d.publish(item, ["cli/during"])
                except OSError:
                    r = None
                if r is not None and r.status in (200, 202):
                    with lock:
                        ids.append(r.json()["id"])
                    break
                time.sleep(0.05)
            time.sleep(0.08)
        done.set()

    thread = threading.Thread(target=publisher, daemon=True)
    thread.start()
    time.sleep(0.2)
    assert d.stop() == 0
    time.sleep(0.4)
    d.start()
    thread.join(timeout=60)
    assert done.is_set(), "the publisher did not finish"
    assert t.wait(timeout=30) == 0, t.stderr()
    got = [m["id"] for m in t.lines()]
    assert len(got) == total and len(set(got)) == total, got
    assert set(got) == set(ids)
    assert "reconnecting" in t.stderr()
    assert t.stderr().count("newswire tail: subscribed") >= 2


def token(topics, ttl=300):
    return jwt.encode({"topics": list(topics), "exp": int(time.time()) + ttl}, SECRET,
                      algorithm="HS256")


def test_tail_with_a_token(start_daemon, tails):
    d = start_daemon("--set", f"jwt_secret={SECRET}", "--set", "public_topics=sport/#")
    # a granted topic, token in --token
    t = tails("--url", d.ws_url(), "--token", token(["monde/#"]), "--count", "2", "monde/#")
    t.wait_subscribed()
    ids = [published(d, ["monde/afrique"]), published(d, ["monde"])]
    assert t.wait() == 0, t.stderr()
    assert [m["id"] for m in t.lines()] == ids
    assert "authenticated" in t.stderr()
    # the token from the environment, with a public pattern beside it
    t = tails("--url", d.ws_url(), "--count", "2", "monde/+", "sport/#",
              env={"NEWSWIRE_TOKEN": token(["monde/#"])})
    t.wait_subscribed()
    ids = [published(d, ["sport/foot"]), published(d, ["monde/europe"])]
    assert t.wait() == 0, t.stderr()
    assert [m["id"] for m in t.lines()] == ids


def test_tail_refused_sessions_exit_3(start_daemon, tails):
    d = start_daemon("--set", f"jwt_secret={SECRET}", "--set", "public_topics=sport/#")
    # no token for a private topic: the subscription is refused
    t = tails("--url", d.ws_url(), "monde/#")
    assert t.wait() == 3
    assert "forbidden" in t.stderr() and t.stdout() == ""
    # a token signed with another secret: 4001
    bad = jwt.encode({"topics": ["monde/#"], "exp": int(time.time()) + 300}, "x" * 40,
                     algorithm="HS256")
    t = tails("--url", d.ws_url(), "--token", bad, "monde/#")
    assert t.wait() == 3
    assert "4001" in t.stderr()
    # an expired token: 4002
    t = tails("--url", d.ws_url(), "--token", token(["monde/#"], ttl=-60), "monde/#")
    assert t.wait() == 3
    assert "4002" in t.stderr()
    # a path that is not the stream: refused at the upgrade
    t = tails("--url", f"ws://127.0.0.1:{d.port}/nope", "sport")
    assert t.wait() == 3
    assert "404" in t.stderr()


def test_tail_over_wss(start_daemon, tails, tls_cert):
    cert, key = tls_cert
    d = start_daemon("--set", f"tls_cert={cert}", "--set", f"tls_key={key}")
    verified = tails("--url", f"wss://localhost:{d.port}/v1/stream", "--cacert", cert,
                     "--count", "1", "monde")
    insecure = tails("--url", f"wss://127.0.0.1:{d.port}/v1/stream", "--insecure",
                     "--count", "1", "monde")
    verified.wait_subscribed()
    insecure.wait_subscribed()
    wid = published(d, ["monde"])
    assert verified.wait() == 0, verified.stderr()
    assert insecure.wait() == 0, insecure.stderr()
    assert [m["id"] for m in verified.lines()] == [wid]
    assert [m["id"] for m in insecure.lines()] == [wid]
