"""Helpers of the webhook suite (test_webhooks.py): a local partner that
receives webhook POSTs (python http.server in a thread, optionally over
TLS), verifies every Standard Webhooks signature, and answers as a test
tells it to (fail, time out, 410); [webhook NAME] config sections."""

import base64
import collections
import hashlib
import hmac
import http.server
import json
import ssl
import threading
import time

from conftest import wait_until

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's example secret
OTHER_SECRET = "whsec_" + base64.b64encode(b"another key of 24+ bytes!!").decode()


def webhook_section(name, url, topics, secret=SECRET, **opts):
    """One [webhook NAME] section; opts are more keys (timeout="1s"...)."""
    lines = [f"[webhook {name}]", f'url = "{url}"', f'topics = "{topics}"', f"secret = {secret}"]
    lines += [f"{k} = {v}" for k, v in opts.items()]
    return "\n".join(lines) + "\n"


def signature(secret, msg_id, timestamp, body):
    """The webhook-signature value for body, per the Standard Webhooks spec."""
    key = base64.b64decode(secret.split("_", 1)[1])
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret, headers, body, tolerance=300):
    """True if one of the (space-separated) signatures matches and the
    timestamp is recent, as a partner's verifier does."""
    msg_id, ts = headers.get("webhook-id"), headers.get("webhook-timestamp")
    sigs = (headers.get("webhook-signature") or "").split(" ")
    if not msg_id or not ts or abs(time.time() - int(ts)) > tolerance:
        return False
    expected = signature(secret, msg_id, ts, body)
    return any(hmac.compare_digest(s, expected) for s in sigs)


Request = collections.namedtuple("Request", "id headers body verified answered time")


class Receiver:
    """A webhook partner on 127.0.0.1. plan(webhook_id, attempt) returns
    what to do with an attempt (attempts counted per webhook-id from 1):
    an int status to answer, or ("sleep", seconds) to answer 200 only after
    the sender has given up. Every request is recorded, with whether its
    signature verified with self.secret."""

    def __init__(self, secret=SECRET, plan=None, tls=None):
        self.secret = secret
        self.plan = plan or (lambda msg_id, attempt: 200)
        self.requests = []
        self.attempts = collections.Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                headers = {k.lower(): v for k, v in self.headers.items()}
                msg_id = headers.get("webhook-id")
                with receiver.lock:
                    receiver.attempts[msg_id] += 1
                    attempt = receiver.attempts[msg_id]
                action = receiver.plan(msg_id, attempt)
                answered = None
                if isinstance(action, tuple) and action[0] == "sleep":
                    time.sleep(action[1])
                    status = 200
                else:
                    status = int(action)
                    answered = status
                ok = verify(receiver.secret, headers, body)
                with receiver.lock:
                    receiver.requests.append(
                        Request(msg_id, headers, body, ok, answered, time.monotonic()))
                try:
                    payload = b'{"ok":true}'
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the sender gave up (timeout)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}/hooks/newswire"

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self):
        with self.lock:
            return list(self.requests)

    def delivered(self):
        """{webhook-id: body} of the attempts answered 2xx (deduplicated by
        webhook-id, as a partner does)."""
        out = {}
        for r in self.snapshot():
            if r.answered is not None and 200 <= r.answered < 300:
                out.setdefault(r.id, r.body)
        return out

    def wait_delivered(self, ids, timeout=20.0):
        ids = set(ids)
        wait_until(lambda: ids <= set(self.delivered()), timeout=timeout,
                   what=f"deliveries of {sorted(ids - set(self.delivered()))}")
        return self.delivered()


def item_message(body):
    return json.loads(body)
