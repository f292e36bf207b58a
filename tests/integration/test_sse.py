"""Server-Sent Events (proto/PROTOCOL.md, "Server-Sent Events", "Resuming",
"Authorization", "Closing", "Slow consumers"): GET /v1/events read with
`curl -sN` exactly as a partner would, parsed here by a small SSE parser.

Every item is one event whose `id:` is the wire id, `event:` the kind and
`data:` the same JSON message a WebSocket session gets; the stream resumes
from `Last-Event-ID` (or `?since=`) with the WebSocket collapse rules; it has
the WebSocket refusals (400/403/429/503 with a JSON body), grants, limits
and slow-consumer policy, and ends with a last `close` event carrying the
WebSocket close code."""

import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import (connect, make_item, metric, raw_http, run, stream_id, wait_until)
from resume_helpers import published, second_instance
from security_helpers import SECRET, claims, closes, hs256, refused

SSE_SESSIONS = 'newswire_sessions{transport="sse",format="json"}'
WS_SESSIONS = 'newswire_sessions{transport="ws",format="json"}'
SLOW_CLOSES = 'newswire_session_closes_total{reason="slow_consumer"}'
DROPS_U5 = 'newswire_drops_total{reason="overflow",urgency="5"}'
PUBLIC = "sport/#"
GOOD = "https://good.example"


# --------------------------------------------------------------------------
# An SSE client: curl -sN, and a parser of what it prints


class Event:
    """One dispatched SSE event (a block of lines with a data field)."""

    def __init__(self, fields):
        self.fields = fields  # [(name, value)] in the order received
        self.id = None
        self.event = "message"
        data = []
        for name, value in fields:
            if name == "id":
                self.id = value
            elif name == "event":
                self.event = value
            elif name == "data":
                data.append(value)
        self.data = "\n".join(data)

    def json(self):
        return json.loads(self.data)

    def __repr__(self):
        return f"<Event {self.event} id={self.id} {self.data[:120]!r}>"


class SSE:
    """GET /v1/events?<query> read by `curl -sN -i` on its own process; a
    thread splits curl's output into the response head and SSE blocks
    (https://html.spec.whatwg.org/multipage/server-sent-events.html: lines
    `field: value`, `:` comments, a blank line ends a block; a block with
    data is an event)."""

    def __init__(self, port, query="", headers=(), max_time=120, source=None):
        self.url = f"http://127.0.0.1:{port}/v1/events" + (f"?{query}" if query else "")
        cmd = ["curl", "-sN", "-i", "--noproxy", "*", "--max-time", str(max_time)]
        if source is not None:
            cmd += ["--interface", source]
        for k, v in headers:
            cmd += ["-H", f"{k}: {v}"]
        cmd.append(self.url)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, bufsize=0)
        self.lock = threading.Lock()
        self.status = None
        self.headers = {}
        self.body = b""  # everything after the head, raw
        self.blocks = []  # every block: [(field, value)], comments as (":", text)
        self.events = []  # the blocks with data, as Event
        self.eof = False
        self.taken = 0  # events consumed by next()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    # -- reading (curl's output, on the thread)

    def _read(self):
        buf, head_done, block = b"", False, []
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
            if not head_done:
                if b"\r\n\r\n" not in buf:
                    continue
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("iso-8859-1").split("\r\n")
                with self.lock:
                    self.status = int(lines[0].split()[1])
                    for line in lines[1:]:
                        k, _, v = line.partition(":")
                        self.headers[k.strip().lower()] = v.strip()
                head_done = True
            with self.lock:
                self.body += buf
            while b"\n" in buf:
                raw, _, buf = buf.partition(b"\n")
                line = raw.decode("utf-8").rstrip("\r")
                if line == "":
                    if block:
                        with self.lock:
                            self.blocks.append(block)
                            if any(name == "data" for name, _ in block):
                                self.events.append(Event(block))
                    block = []
                elif line.startswith(":"):
                    block.append((":", line[1:]))
                else:
                    name, colon, value = line.partition(":")
                    if colon and value.startswith(" "):
                        value = value[1:]
                    block.append((name, value))
        with self.lock:
            self.eof = True

    # -- waiting

    def wait(self, predicate, timeout=5.0, what="condition"):
        return wait_until(lambda: predicate(self), timeout=timeout, what=f"{what} ({self.url})")

    def head(self, timeout=5.0):
        """Waits for the response head; returns the status."""
        self.wait(lambda s: s.status is not None or s.eof, timeout, "the response head")
        assert self.status is not None, f"no response from {self.url}"
        return self.status

    def next(self, timeout=5.0):
        """The next event not yet taken."""
        try:
            self.wait(lambda s: len(s.events) > s.taken or s.eof, timeout,
                      f"event #{self.taken + 1}")
        except AssertionError:
            raise AssertionError(f"no event #{self.taken + 1} within {timeout}s; "
                                 f"so far {self.events}") from None
        with self.lock:
            if len(self.events) <= self.taken:
                raise AssertionError(f"the stream ended after {self.events}")
            ev = self.events[self.taken]
            self.taken += 1
        return ev

    def expect(self, name, timeout=5.0):
        """The next event, which must be named name; returns its JSON."""
        ev = self.next(timeout)
        assert ev.event == name, f"expected a {name!r} event, got {ev!r}"
        msg = ev.json()
        assert msg["type"] == ("item" if name in ("new", "update", "kill", "withhold")
                               else name), ev
        return msg

    def opened(self, timeout=5.0):
        """The stream was answered 200 and began with retry then hello."""
        assert self.head(timeout) == 200, (self.status, self.headers, self.body)
        hello = self.expect("hello", timeout)
        assert hello["format"] == "sse", hello
        return hello

    def items(self, count, timeout=5.0, what="items"):
        """Exactly count item events (anything else fails)."""
        out = []
        for i in range(count):
            try:
                ev = self.next(timeout)
            except AssertionError as e:
                raise AssertionError(f"{what}: got {i} of {count}: {e}") from None
            assert_item_event(ev)
            out.append(ev)
        return out

    def until_quiet(self, quiet=0.5, limit=10000):
        """Every event until none comes for `quiet` seconds."""
        out = []
        while len(out) < limit:
            n = len(self.events)
            time.sleep(quiet)
            with self.lock:
                if len(self.events) == n and self.taken >= n:
                    return out
                out.extend(self.events[self.taken:])
                self.taken = len(self.events)
        raise AssertionError(f"more than {limit} events")

    def expect_silence(self, seconds=0.3):
        time.sleep(seconds)  # nothing may arrive during the window
        with self.lock:
            extra = self.events[self.taken:]
        assert not extra, f"unexpected events: {extra}"

    def wait_eof(self, timeout=5.0):
        """The server ends the response (curl exits 0 on a clean end)."""
        self.wait(lambda s: s.eof, timeout, "the end of the stream")
        rc = self.proc.wait(timeout=5)
        assert rc == 0, f"curl exited with {rc} (18: the response was cut short)"

    def comments(self):
        with self.lock:
            return [v for b in self.blocks for n, v in b if n == ":"]

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._thread.join(5)


@pytest.fixture
def sse():
    """Factory: sse(daemon, query, headers=()) -> SSE; every curl is
    stopped at the end of the test (before the daemons)."""
    streams = []

    def open_(daemon, query="", headers=(), **kw):
        if isinstance(headers, dict):
            headers = list(headers.items())
        s = SSE(daemon.port, query, headers, **kw)
        streams.append(s)
        return s

    yield open_
    for s in streams:
        s.close()


def assert_item_event(ev):
    """An item event: id, event, data lines exactly, and the three agree
    with the JSON message."""
    assert [n for n, _ in ev.fields] == ["id", "event", "data"], ev.fields
    msg = ev.json()
    assert msg["type"] == "item", ev
    # a flash or bulletin sent ahead of older queued items resumes from its
    # cursor (PROTOCOL.md, "item")
    assert ev.id == msg.get("cursor", msg["id"]), ev
    assert ev.event == msg["kind"], f"event: {ev.event} but kind {msg['kind']}"
    assert ev.event in ("new", "update", "kill", "withhold"), ev
    return msg


def q(**params):
    """A query string; '#' is sent as %23, '+' and '/' raw."""
    return urllib.parse.urlencode(params, safe=",/+")


def subscribed(stream, topics, timeout=5.0):
    """The stream opened and subscribed to topics (no resume)."""
    stream.opened(timeout)
    sub = stream.expect("subscribed", timeout)
    assert sub["topics"] == topics, sub
    assert "recovered" not in sub, sub
    return sub


def ids(events):
    return [e.id for e in events]


# --------------------------------------------------------------------------
# The stream


def test_stream_head_retry_hello_and_item_kinds(start_daemon, sse):
    """The response head, the retry hint, hello, subscribed, then one event
    per wire event with id/event/data, for new, update, withhold and kill."""
    d = start_daemon()
    s = sse(d, q(topics="monde/#"))
    assert s.head() == 200, (s.status, s.body)
    assert s.headers["content-type"].startswith("text/event-stream"), s.headers
    assert s.headers.get("cache-control") == "no-cache", s.headers
    assert "content-length" not in s.headers, s.headers
    s.wait(lambda s: len(s.blocks) >= 3, what="retry, hello and subscribed")
    assert s.blocks[0] == [("retry", "3000")], s.blocks[:3]
    hello = s.expect("hello")
    assert hello["protocol"] == "newswire.v1" and hello["format"] == "sse", hello
    assert hello["session"] and hello["server"].startswith("newswired/"), hello
    sub = s.expect("subscribed")
    assert sub == {"type": "subscribed", "topics": ["monde/#"], "min_urgency": 9}, sub
    assert [n for n, _ in s.blocks[1]] == ["event", "data"], s.blocks[1]

    uri = "urn:newsml:test.example:sse-kinds"
    v1 = make_item(uri=uri, headline="v1", urgency=2)
    v2 = make_item(uri=uri, version="2", headline="v2", urgency=2)
    v3 = make_item(uri=uri, version="3", headline="v3", pubstatus="withheld")
    r1 = published(d, v1, ["monde/afrique", "sport"])
    r2 = published(d, v2, ["monde/afrique"])
    r3 = published(d, v3, ["monde/afrique"])
    r4 = d.api("DELETE", "/v1/articles/" + urllib.parse.quote(uri, safe=""))
    assert r4.status == 202, r4
    r4 = r4.json()
    receipts = [r1, r2, r3, r4]
    assert [r["kind"] for r in receipts] == ["new", "update", "withhold", "kill"], receipts

    got = s.items(4)
    assert [(e.id, e.event) for e in got] == [(r["id"], r["kind"]) for r in receipts], got
    msgs = [e.json() for e in got]
    assert [m["item"] for m in msgs[:3]] == [v1, v2, v3]
    assert msgs[3]["item"]["pubstatus"] == "canceled" and msgs[3]["item"]["version"] == "4"
    # the kill goes to every topic the story was published on
    assert [m["topics"] for m in msgs] == [["monde/afrique"]] * 4, msgs
    assert [m["urgency"] for m in msgs[:2]] == [2, 2], msgs
    assert msgs[2]["urgency"] == 5, msgs[2]
    s.expect_silence(0.3)


def test_data_equals_the_websocket_item_message(start_daemon, sse):
    """The data line is the WebSocket item message, byte for byte."""
    d = start_daemon()
    s = sse(d, q(topics="monde/#,sport"))
    subscribed(s, ["monde/#", "sport"])

    async def scenario():
        c = await connect(d, topics="monde/#,sport")
        await c.recv_type("subscribed")
        sent = [
            (make_item(headline="Bonjour « é » ✓ \"quotes\" \\ /", urgency=1,
                       bodies=[{"role": "main", "value": "ligne 1\nligne 2\r\nfin\u2028"}]),
             ["eco", "monde/afrique", "sport"]),
            (make_item(headline="routine"), ["sport"]),
        ]
        for item, topics in sent:
            r = published(d, item, topics)
            ev = s.items(1)[0]
            raw = await c.ws.recv()
            assert isinstance(raw, str)
            assert ev.data == raw, (ev.data, raw)
            msg = ev.json()
            assert msg["id"] == r["id"] and msg["item"] == item
            assert msg["topics"] == [t for t in topics if t != "eco"], msg
        # one data line per event, even with newlines in the item
        assert all([n for n, _ in e.fields].count("data") == 1 for e in s.events), s.events
        await c.close()

    run(scenario())


def test_topics_wildcards_and_min_urgency(start_daemon, sse):
    d = start_daemon()
    # '+' raw in the URL, '#' as %23
    s = sse(d, "topics=monde/+,sport/%23,+/benin")
    subscribed(s, ["monde/+", "sport/#", "+/benin"])
    flash = sse(d, "topics=%23&min_urgency=2")
    flash.opened()
    sub = flash.expect("subscribed")
    assert sub["topics"] == ["#"] and sub["min_urgency"] == 2, sub

    cases = [  # (topics, urgency, matched topics for s, or None)
        (["monde"], 1, None),
        (["monde/afrique"], 5, ["monde/afrique"]),
        (["monde/afrique/benin"], 2, None),
        (["sport"], 3, ["sport"]),
        (["sport/foot/ligue1", "eco"], 1, ["sport/foot/ligue1"]),
        (["eco", "monde/europe", "afrique/benin"], 9, ["monde/europe", "afrique/benin"]),
        (["eco"], 1, None),
    ]
    receipts = [published(d, make_item(urgency=u), t) for t, u, _ in cases]
    want = [(r["id"], m) for r, (_, _, m) in zip(receipts, cases) if m is not None]
    got = s.items(len(want))
    assert [(e.id, e.json()["topics"]) for e in got] == want, got
    s.expect_silence(0.3)

    # min_urgency=2: new and update items of urgency <= 2 only
    want = [r["id"] for r, (_, u, _) in zip(receipts, cases) if u <= 2]
    got = flash.items(len(want))
    assert ids(got) == want
    # kills and withholds are never filtered by urgency
    routine = make_item(urgency=7)
    published(d, routine, ["eco"])
    kill = published(d, dict(routine, version="2", pubstatus="canceled"), ["eco"])
    got = flash.items(1)
    assert (got[0].id, got[0].event) == (kill["id"], "kill")
    flash.expect_silence(0.3)


def test_invalid_query_values_give_error_events(start_daemon, sse):
    """An invalid pattern, min_urgency or Last-Event-ID is refused with an
    error event (as on a WebSocket), and nothing is subscribed."""
    d = start_daemon()
    cases = [
        ("topics=Monde", (), "invalid_topic"),
        ("topics=monde/%23/x", (), "invalid_topic"),
        ("topics=monde&min_urgency=0", (), "invalid_field"),
        ("topics=monde", [("Last-Event-ID", "abc")], "invalid_field"),
        ("topics=monde&since=1-x", (), "invalid_field"),
    ]
    streams = []
    for query, headers, code in cases:
        s = sse(d, query, headers)
        s.opened()
        err = s.expect("error")
        assert err["code"] == code, (query, err)
        streams.append(s)
    published(d, make_item(), ["monde"])
    for s in streams:
        s.expect_silence(0.1)
    assert metric(d, "newswire_subscriptions") == 0


def test_missing_topics_is_400(start_daemon):
    d = start_daemon()
    for path in ("/v1/events", "/v1/events?since=1-0", "/v1/events?min_urgency=3"):
        r = raw_http(d.port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert r.status == 400, (path, r)
        assert r.headers["content-type"].startswith("application/json"), r.headers
        assert isinstance(r.json().get("error"), str) and "topics" in r.json()["error"], r


def test_heartbeat_comment(start_daemon, sse):
    """A `: keepalive` comment every 15 s (waited for once), and the stream
    keeps delivering after it."""
    d = start_daemon()
    s = sse(d, q(topics="monde"))
    subscribed(s, ["monde"])
    t0 = time.monotonic()
    s.wait(lambda s: s.comments(), timeout=20, what="a keepalive comment")
    waited = time.monotonic() - t0
    assert 10 <= waited <= 20, f"keepalive after {waited:.1f}s"
    assert [b for b in s.blocks if b[0][0] == ":"] == [[(":", " keepalive")]], s.blocks
    r = published(d, make_item(), ["monde"])
    assert ids(s.items(1)) == [r["id"]]


def test_sessions_metric_counts_open_streams(start_daemon, sse):
    d = start_daemon()
    a = sse(d, q(topics="monde"))
    b = sse(d, q(topics="sport"))
    subscribed(a, ["monde"])
    subscribed(b, ["sport"])

    async def scenario():
        c = await connect(d, topics="monde")
        await c.recv_type("subscribed")
        m = d.metrics()
        assert m[SSE_SESSIONS] == 2 and m[WS_SESSIONS] == 1, m
        assert m["newswire_subscriptions"] == 3, m
        a.close()
        wait_until(lambda: metric(d, SSE_SESSIONS) == 1, what="one SSE stream left")
        assert metric(d, WS_SESSIONS) == 1
        await c.close()
        b.close()
        wait_until(lambda: metric(d, SSE_SESSIONS) == 0 and metric(d, WS_SESSIONS) == 0,
                   what="no session left")
        assert metric(d, "newswire_subscriptions") == 0

    run(scenario())


# --------------------------------------------------------------------------
# Resuming


GAP_TOPICS = [["monde/europe"], ["monde"], ["monde/afrique/benin"], ["monde/afrique", "sport"]]


def first_stream(d, sse, n_before):
    """A stream on monde/# that reads n_before items and is closed; returns
    (receipts, Last-Event-ID of the last event)."""
    s = sse(d, q(topics="monde/#"))
    subscribed(s, ["monde/#"])
    receipts = [published(d, make_item(headline=f"avant {i}"), ["monde/afrique"])
                for i in range(n_before)]
    got = s.items(n_before, what="items before the disconnect")
    assert ids(got) == [r["id"] for r in receipts]
    s.close()
    return receipts, got[-1].id


def publish_gap(d, n, prefix="pendant"):
    receipts, items = [], []
    for i in range(n):
        item = make_item(headline=f"{prefix} {i}", urgency=3 + i % 7)
        receipts.append(published(d, item, GAP_TOPICS[i % len(GAP_TOPICS)]))
        items.append(item)
        published(d, make_item(headline="ailleurs"), ["sport"])
    return receipts, items


def resume(d, sse, cursor, via, epoch=None, topics="monde/#"):
    """A stream that resumes after cursor, by the Last-Event-ID header or
    ?since=; returns (stream, subscribed message)."""
    params = {"topics": topics}
    headers = []
    if via == "header":
        headers.append(("Last-Event-ID", cursor))
    else:
        params["since"] = cursor
    if epoch is not None:
        params["epoch"] = epoch
    s = sse(d, q(**params), headers)
    s.opened()
    sub = s.expect("subscribed")
    assert sub["topics"] == topics.split(","), sub
    assert isinstance(sub.get("epoch"), str) and sub["epoch"], sub
    return s, sub


@pytest.mark.parametrize("via", ["header", "since"])
def test_resume_gets_the_gap_then_live(start_daemon, sse, via):
    d = start_daemon()
    _, cursor = first_stream(d, sse, 3)
    receipts, items = publish_gap(d, 8)
    s, sub = resume(d, sse, cursor, via)
    assert sub["recovered"] is True, sub
    epoch = sub["epoch"]
    got = s.items(len(receipts), what="missed items")
    assert ids(got) == [r["id"] for r in receipts]
    assert [e.json()["item"] for e in got] == items
    assert all(e.event == "new" for e in got)
    for i, e in enumerate(got):
        want = [t for t in GAP_TOPICS[i % len(GAP_TOPICS)] if t.startswith("monde")]
        assert e.json()["topics"] == want, e
    live = [published(d, make_item(headline=f"direct {i}"), ["monde/afrique"]) for i in range(2)]
    got = s.items(2, what="live items after the replay")
    assert ids(got) == [r["id"] for r in live]
    s.expect_silence(0.3)
    cursor = got[-1].id
    s.close()

    # again, with the epoch the first resume gave
    receipts, items = publish_gap(d, 4, "encore")
    s, sub = resume(d, sse, cursor, via, epoch=epoch)
    assert sub["recovered"] is True and sub["epoch"] == epoch, sub
    assert ids(s.items(4)) == [r["id"] for r in receipts]
    s.expect_silence(0.3)


def test_resume_with_nothing_missed(start_daemon, sse):
    d = start_daemon()
    _, cursor = first_stream(d, sse, 2)
    s, sub = resume(d, sse, cursor, "header")
    assert sub["recovered"] is True
    s.expect_silence(0.4)
    r = published(d, make_item(), ["monde"])
    assert ids(s.items(1)) == [r["id"]]


def through_gap(d, sse, before, gap):
    """A stream on monde/# gets `before`, is closed; `gap` is published; a
    stream resumes by Last-Event-ID. Returns (receipts of the gap, events
    after subscribed)."""
    s = sse(d, q(topics="monde/#"))
    subscribed(s, ["monde/#"])
    rb = [published(d, item, topics) for item, topics in before]
    got = s.items(len(rb), what="items before the disconnect")
    assert ids(got) == [r["id"] for r in rb]
    s.close()
    rg = [published(d, item, topics) for item, topics in gap]
    s, sub = resume(d, sse, got[-1].id, "header")
    assert sub["recovered"] is True, sub
    events = s.until_quiet(0.6)
    for e in events:
        assert_item_event(e)
    return rg, events


def test_collapse_story_killed_or_withheld_inside_the_gap(start_daemon, sse):
    d = start_daemon()
    uri = "urn:newsml:test.example:sse-tue-dans-le-trou"
    wuri = "urn:newsml:test.example:sse-retenu-dans-le-trou"
    b = make_item(headline="B")
    c = make_item(headline="C")
    rg, events = through_gap(d, sse, [(make_item(headline="repère"), ["monde"])], [
        (make_item(uri=uri, headline="v1"), ["monde/afrique"]),
        (b, ["monde"]),
        (make_item(uri=wuri), ["monde"]),
        (make_item(uri=uri, version="2", headline="v2"), ["monde/afrique"]),
        (make_item(uri=uri, version="3", pubstatus="canceled"), ["monde/afrique"]),
        (make_item(uri=wuri, version="2", pubstatus="withheld"), ["monde"]),
        (c, ["monde/europe"]),
    ])
    assert [r["kind"] for r in rg] == ["new", "new", "new", "update", "kill", "withhold", "new"]
    assert [(e.id, e.event, e.json()["item"]) for e in events] == [
        (rg[1]["id"], "new", b), (rg[6]["id"], "new", c)], events


def test_collapse_story_seen_then_killed_inside_the_gap(start_daemon, sse):
    d = start_daemon()
    uri = "urn:newsml:test.example:sse-vu-puis-tue"
    wuri = "urn:newsml:test.example:sse-vu-puis-retenu"
    kill = make_item(uri=uri, version="3", headline="k3", pubstatus="canceled")
    rg, events = through_gap(
        d, sse, [(make_item(uri=uri), ["monde/afrique"]), (make_item(uri=wuri), ["monde/europe"])],
        [(make_item(uri=uri, version="2"), ["monde/afrique"]), (kill, ["monde/afrique"]),
         (make_item(uri=wuri, version="2", pubstatus="withheld"), ["monde/europe"])])
    assert [(e.id, e.event) for e in events] == [(rg[1]["id"], "kill"),
                                                 (rg[2]["id"], "withhold")], events
    assert events[0].json()["item"] == kill


def test_collapse_correction_inside_the_gap(start_daemon, sse):
    """A seen story corrected twice in the gap: its last version only, as
    an update; a story that began in the gap and was updated: once, as new."""
    d = start_daemon()
    uri = "urn:newsml:test.example:sse-corrige"
    nuri = "urn:newsml:test.example:sse-neuf-et-corrige"
    v3 = make_item(uri=uri, version="3", headline="v3")
    t5 = make_item(uri=nuri, version="5", headline="t5")
    x = make_item(headline="X")
    rg, events = through_gap(d, sse, [(make_item(uri=uri, headline="v1"), ["monde/afrique"])], [
        (make_item(uri=uri, version="2", headline="v2"), ["monde/afrique"]),
        (make_item(uri=nuri, headline="t1"), ["monde/europe"]),
        (x, ["monde"]),
        (v3, ["monde/afrique"]),
        (make_item(uri=nuri, version="2", headline="t2"), ["monde/europe"]),
        (t5, ["monde/europe"]),
    ])
    assert [r["kind"] for r in rg] == ["update", "new", "new", "update", "update", "update"]
    assert [(e.id, e.event) for e in events] == [
        (rg[2]["id"], "new"), (rg[3]["id"], "update"), (rg[5]["id"], "new")], events
    assert [e.json()["item"] for e in events] == [x, v3, t5]


@pytest.mark.parametrize("via", ["header", "since"])
def test_not_recovered_with_a_cursor_ahead_of_the_wire(start_daemon, sse, via):
    """recovered false: the recent items of the pattern instead of a
    replay, then live items (nothing skipped up to the bogus cursor)."""
    d = start_daemon()
    before, _ = first_stream(d, sse, 2)
    s, sub = resume(d, sse, "99999999999999-0", via)
    assert sub["recovered"] is False, sub
    got = s.items(len(before), what="recent items")
    assert ids(got) == [r["id"] for r in before]
    s.expect_silence(0.3)
    live = published(d, make_item(), ["monde"])
    got = s.items(1)
    assert ids(got) == [live["id"]] and got[0].event == "new"


def test_not_recovered_with_another_epoch(start_daemon, sse):
    d = start_daemon()
    before, cursor = first_stream(d, sse, 1)
    gap = published(d, make_item(), ["monde/europe"])
    s, sub = resume(d, sse, cursor, "header")
    epoch = sub["epoch"]
    assert sub["recovered"] is True
    assert ids(s.items(1)) == [gap["id"]]
    s.close()
    other = "0123456789abcdef" if epoch != "0123456789abcdef" else "fedcba9876543210"
    s, sub = resume(d, sse, cursor, "header", epoch=other)
    assert sub["recovered"] is False and sub["epoch"] == epoch, sub
    assert ids(s.items(2, what="recent items")) == [before[0]["id"], gap["id"]]
    s.expect_silence(0.3)


def test_resume_on_a_second_instance(start_daemon, sse):
    d1 = start_daemon()
    d2 = second_instance(start_daemon, d1)
    _, cursor = first_stream(d1, sse, 2)
    receipts, _ = publish_gap(d1, 5)
    s, sub = resume(d2, sse, cursor, "header")
    assert sub["recovered"] is True, sub
    assert ids(s.items(5)) == [r["id"] for r in receipts]
    live = published(d1, make_item(), ["monde"])
    assert ids(s.items(1)) == [live["id"]]


def test_resume_repeatedly_while_publishing(start_daemon, sse):
    """A publisher publishes 200 items while curl is stopped and started
    again and again with Last-Event-ID: across streams every id arrives
    exactly once, in order."""
    d = start_daemon()
    total = 200
    receipts, errors = [], []
    done = threading.Event()

    def publisher():
        try:
            for i in range(total):
                receipts.append(published(d, make_item(headline=f"course {i}", urgency=3 + i % 7),
                                          ["course/a" if i % 2 else "course/b"]))
                published(d, make_item(), ["ailleurs"])
                time.sleep(0.004)
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            done.set()

    rnd = random.Random(11)
    thread = threading.Thread(target=publisher, daemon=True)
    sessions, cursor, epoch = [], None, None
    deadline = time.monotonic() + 90
    while True:
        assert time.monotonic() < deadline, "the client never caught up"
        if cursor is None:
            s = sse(d, q(topics="course/#"))
            subscribed(s, ["course/#"])
            if not thread.is_alive() and not done.is_set():
                thread.start()
        else:
            s, sub = resume(d, sse, cursor, "header" if len(sessions) % 2 else "since",
                            epoch=epoch, topics="course/#")
            assert sub["recovered"] is True, sub
            epoch = sub["epoch"]
        quota = rnd.randint(10, 40)
        s.wait(lambda s: len(s.events) - s.taken >= quota or done.is_set(), timeout=30,
               what=f"{quota} items")
        s.close()  # curl killed: whatever it had printed is what the client got
        got = s.events[s.taken:]
        for e in got:
            assert_item_event(e)
        sessions.append(ids(got))
        if got:
            cursor = got[-1].id
        if done.is_set() and sum(map(len, sessions)) >= len(receipts):
            break
    thread.join(10)
    assert not errors, errors
    assert len(sessions) >= 4, f"only {len(sessions)} streams"
    received = [i for x in sessions for i in x]
    assert len(received) == len(set(received)), "an item was received twice"
    assert received == [r["id"] for r in receipts]
    assert len(received) == total


# --------------------------------------------------------------------------
# Authorization


@pytest.fixture
def tokd(start_daemon):
    return start_daemon("--set", f"public_topics={PUBLIC}", "--set", f"jwt_secret={SECRET}")


def token(topics=("monde/#",), ttl=300, **extra):
    return hs256(SECRET, claims(topics, ttl, **extra))


def test_non_public_topic_without_token_is_forbidden(tokd, sse):
    forbidden0 = metric(tokd, "newswire_subscriptions_forbidden_total")
    streams = []
    for topics, culprit in (("monde", "monde"), ("sport,monde/%23", "monde/#"), ("%23", "#")):
        s = sse(tokd, f"topics={topics}")
        s.opened()
        err = s.expect("error")
        assert err["code"] == "forbidden" and f'"{culprit}"' in err["message"], err
        streams.append(s)
    assert metric(tokd, "newswire_subscriptions") == 0  # all or nothing
    assert metric(tokd, "newswire_subscriptions_forbidden_total") == forbidden0 + 3
    published(tokd, make_item(), ["monde"])
    published(tokd, make_item(), ["sport"])
    for s in streams:
        s.expect_silence(0.2)
        assert not s.eof
    # a public topic is open to anyone
    s = sse(tokd, "topics=sport/%23")
    subscribed(s, ["sport/#"])
    r = published(tokd, make_item(), ["sport/foot"])
    assert ids(s.items(1)) == [r["id"]]


@pytest.mark.parametrize("via", ["query", "header"])
def test_token_grants_topics(tokd, sse, via):
    t = token(["monde/#"], sub="partner-1")
    if via == "query":
        s = sse(tokd, q(topics="monde/+,sport", token=t))
    else:
        s = sse(tokd, q(topics="monde/+,sport"), [("Authorization", f"Bearer {t}")])
    s.opened()
    auth = s.expect("authenticated")
    assert auth["sub"] == "partner-1" and auth["topics"] == ["monde/#"], auth
    sub = s.expect("subscribed")
    assert sub["topics"] == ["monde/+", "sport"], sub
    r1 = published(tokd, make_item(), ["monde/afrique"])
    r2 = published(tokd, make_item(), ["sport"])
    assert ids(s.items(2)) == [r1["id"], r2["id"]]

    # a token that does not cover the pattern: forbidden, nothing delivered
    s = sse(tokd, q(topics="monde/#", token=token(["monde/europe"])))
    s.opened()
    s.expect("authenticated")
    err = s.expect("error")
    assert err["code"] == "forbidden" and '"monde/#"' in err["message"], err
    published(tokd, make_item(), ["monde/europe"])
    s.expect_silence(0.3)


def _other_secret_token():
    return hs256("another-secret-another-secret-another", claims())


REFUSED = {  # name: (token factory, close code, reason prefix, close metric)
    "garbage": (lambda: "not-a-token", 4001, "invalid token", "token_invalid"),
    "bad-signature": (_other_secret_token, 4001, "invalid token", "token_invalid"),
    "expired": (lambda: token(ttl=-10), 4002, "token expired", "token_expired"),
    "nbf": (lambda: token(nbf=int(time.time()) + 3600), 4002, "token not valid yet",
            "token_expired"),
}


@pytest.mark.parametrize("name", list(REFUSED))
@pytest.mark.parametrize("via", ["query", "header"])
def test_refused_token_closes_the_stream(tokd, sse, name, via):
    factory, code, reason, metric_reason = REFUSED[name]
    before = closes(tokd, metric_reason)
    t = factory()
    if via == "query":
        s = sse(tokd, q(topics="monde/#", token=t))
    else:
        s = sse(tokd, q(topics="monde/#"), [("Authorization", f"Bearer {t}")])
    s.opened()
    close = s.expect("close")
    assert close["code"] == code and close["reason"].startswith(reason), close
    s.wait_eof(5)
    assert s.events[-1].event == "close"
    assert [e.event for e in s.events] == ["hello", "close"], s.events
    wait_until(lambda: closes(tokd, metric_reason) == before + 1, what=f"{metric_reason} counted")
    wait_until(lambda: metric(tokd, SSE_SESSIONS) == 0, what="the stream released")


def test_token_expiring_during_the_stream_closes_it_with_4002(tokd, sse):
    exp = int(time.time()) + 2
    before = closes(tokd, "token_expired")
    s = sse(tokd, q(topics="monde/#", token=hs256(SECRET, {"topics": ["monde/#"], "exp": exp,
                                                           "sub": "partner-expiring"})))
    s.opened()
    s.expect("authenticated")
    s.expect("subscribed")
    first = published(tokd, make_item(), ["monde"])
    assert ids(s.items(1)) == [first["id"]]

    sent, stop = {}, threading.Event()

    def publisher():
        while not stop.is_set():
            t = time.time()
            sent[published(tokd, make_item(), ["monde"])["id"]] = t
            stop.wait(0.1)

    th = threading.Thread(target=publisher)
    th.start()
    try:
        s.wait(lambda s: s.eof or (s.events and s.events[-1].event == "close"),
               timeout=exp - time.time() + 4, what="the close event")
        closed_at = time.time()
    finally:
        stop.set()
        th.join()
    s.wait_eof(5)
    rest = s.events[s.taken:]
    assert rest and rest[-1].event == "close", rest
    close = rest[-1].json()
    assert close == {"type": "close", "code": 4002, "reason": "token expired"}, close
    assert closed_at <= exp + 2, f"closed {closed_at - exp:.2f}s after exp"
    items = [e for e in rest[:-1] if assert_item_event(e)]
    late = [e.id for e in items if sent.get(e.id, 0) > exp + 0.3]
    assert not late, f"items published after the expiry were delivered: {late}"
    wait_until(lambda: closes(tokd, "token_expired") == before + 1, what="token_expired counted")


def test_control_events_of_every_length(tokd, sse):
    """Control events (authenticated, error) of every length up to 32 bytes
    more than the shortest: each comes whole, and the daemon lives on (it
    must exit 0 at the end, with no sanitizer report)."""
    for n in range(1, 33):
        sub = "p" * n
        s = sse(tokd, q(topics="monde", token=token(["monde"], sub=sub)))
        s.opened()
        auth = s.expect("authenticated")
        assert auth["sub"] == sub, auth
        assert s.expect("subscribed")["topics"] == ["monde"]
        s.close()
        topic = "m" * n
        s = sse(tokd, q(topics=topic))
        s.opened()
        err = s.expect("error")
        assert err["code"] == "forbidden" and f'"{topic}"' in err["message"], err
        s.close()
    assert tokd.ready()
    s = sse(tokd, q(topics="sport"))
    subscribed(s, ["sport"])
    r = published(tokd, make_item(), ["sport"])
    assert ids(s.items(1)) == [r["id"]]


# --------------------------------------------------------------------------
# Refusals and limits


def get_events(port, query, headers=()):
    """A GET /v1/events that must be refused: the raw response."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return raw_http(port, f"GET /v1/events?{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                          f"{extra}\r\n".encode())


def assert_refused_json(r, status, error, retry_after=None):
    assert r.status == status, r
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    assert r.json() == {"error": error}, r.body
    assert r.headers.get("retry-after") == retry_after, r.headers


def test_max_connections_503(start_daemon, sse):
    d = start_daemon("--set", "max_connections=2")
    a = sse(d, q(topics="fil"))
    subscribed(a, ["fil"])

    async def scenario():
        c = await connect(d, topics="fil")  # WebSocket and SSE sessions count together
        await c.recv_type("subscribed")
        before = refused(d, "max_connections")
        assert_refused_json(get_events(d.port, "topics=fil"), 503, "too many connections", "1")
        wait_until(lambda: refused(d, "max_connections") == before + 1, what="refusal counted")
        assert metric(d, SSE_SESSIONS) == 1
        await c.close()
        wait_until(lambda: metric(d, WS_SESSIONS) == 0, what="the WebSocket released")
        b = sse(d, q(topics="fil"))
        subscribed(b, ["fil"])
        r = published(d, make_item(), ["fil"])
        assert ids(a.items(1)) == ids(b.items(1)) == [r["id"]]
        # the SSE streams fill the limit: a WebSocket upgrade is refused too
        w = raw_http(d.port, ("GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        assert_refused_json(w, 503, "too many connections", "1")

    run(scenario())


def test_max_connections_per_ip_429(start_daemon, sse):
    d = start_daemon("--set", "max_connections_per_ip=1")
    a = sse(d, q(topics="fil"))
    subscribed(a, ["fil"])
    before = refused(d, "max_connections_per_ip")
    assert_refused_json(get_events(d.port, "topics=fil"), 429,
                        "too many connections from this address", "1")
    wait_until(lambda: refused(d, "max_connections_per_ip") == before + 1, what="refusal counted")
    assert refused(d, "max_connections") == 0
    assert metric(d, SSE_SESSIONS) == 1
    r = published(d, make_item(), ["fil"])
    assert ids(a.items(1)) == [r["id"]]
    # another address is counted on its own
    try:
        probe = socket.create_connection(("127.0.0.1", d.port), source_address=("127.0.0.2", 0))
        probe.close()
    except OSError as e:
        pytest.skip(f"cannot connect from 127.0.0.2: {e}")
    other = SSE(d.port, q(topics="fil"), source="127.0.0.2")
    try:
        subscribed(other, ["fil"])
        r = published(d, make_item(), ["fil"])
        assert ids(a.items(1)) == ids(other.items(1)) == [r["id"]]
    finally:
        other.close()


def test_a_client_that_hangs_up_frees_its_stream(start_daemon, sse):
    """A stream whose client closed the connection is released at once: its
    session is no longer counted and its address may connect again, as an
    EventSource does `retry` (3 s) after a lost connection; with
    max_connections_per_ip=1 a stream still counted would refuse that
    reconnection with 429, which ends an EventSource for good."""
    d = start_daemon("--set", "max_connections_per_ip=1")
    a = sse(d, q(topics="fil"))
    subscribed(a, ["fil"])
    a.close()
    t0 = time.monotonic()
    wait_until(lambda: metric(d, SSE_SESSIONS) == 0, timeout=5,
               what="the stream of a client that hung up to be released")
    assert time.monotonic() - t0 < 3, "released later than an EventSource reconnects"
    b = sse(d, q(topics="fil"))
    subscribed(b, ["fil"])
    r = published(d, make_item(), ["fil"])
    assert ids(b.items(1)) == [r["id"]]


def test_allowed_origins(start_daemon, sse):
    d = start_daemon("--set", f"allowed_origins={GOOD}")
    before = refused(d, "origin")
    for origin in ("https://evil.example", "http://good.example", "null"):
        assert_refused_json(get_events(d.port, "topics=fil", [("Origin", origin)]), 403,
                            "origin not allowed")
    assert refused(d, "origin") == before + 3
    s = sse(d, q(topics="fil"), [("Origin", GOOD)])
    subscribed(s, ["fil"])
    assert s.headers.get("access-control-allow-origin") == GOOD, s.headers
    assert "origin" in s.headers.get("vary", "").lower(), s.headers
    plain = sse(d, q(topics="fil"))  # no Origin: not a browser, not refused
    subscribed(plain, ["fil"])
    r = published(d, make_item(), ["fil"])
    assert ids(s.items(1)) == ids(plain.items(1)) == [r["id"]]


def test_any_origin_without_allowed_origins(start_daemon, sse):
    d = start_daemon()
    s = sse(d, q(topics="fil"), [("Origin", "https://anything.example")])
    subscribed(s, ["fil"])
    assert s.headers.get("access-control-allow-origin") == "*", s.headers


def test_sigterm_sends_close_1012_then_ends(start_daemon, sse):
    d = start_daemon()
    s = sse(d, q(topics="monde/#"))
    subscribed(s, ["monde/#"])
    r = published(d, make_item(), ["monde"])
    assert ids(s.items(1)) == [r["id"]]
    assert d.stop(signal.SIGTERM) == 0
    close = s.expect("close")
    assert close == {"type": "close", "code": 1012, "reason": "service restart"}, close
    s.wait_eof(5)
    assert s.taken == len(s.events), s.events[s.taken:]


# --------------------------------------------------------------------------
# Slow consumers


def stuck_stream(d, topics="fil"):
    """GET /v1/events on a raw socket with a small receive buffer, that is
    never read (the server's writes soon block)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect(("127.0.0.1", d.port))
    s.sendall(f"GET /v1/events?topics={topics} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return s


def flood_until_slow_close(d, good, stuck=1, routine_bytes=6 * 1024):
    """Routine items until the stuck streams drop some, then flashes until
    they are all closed as slow consumers; `good` (an SSE on "fil", or None)
    must get every item, in order."""
    # The kernel's send buffer for each stuck socket (up to tcp_wmem's
    # maximum, 4 MiB) takes items first: publish until drops show.
    for i in range(2000):
        item = make_item(headline=f"routine {i}", urgency=5,
                         bodies=[{"role": "main", "value": chr(97 + i % 26) * routine_bytes}])
        r = published(d, item, ["fil"])
        if good is not None:
            assert ids(good.items(1, what=f"routine item {i}")) == [r["id"]]
        if i >= 20 and metric(d, DROPS_U5) >= 3 * stuck:
            break
    assert metric(d, DROPS_U5) > 0, "no routine item was dropped for the stuck streams"
    assert metric(d, SLOW_CLOSES) == 0, "routine items alone must not close a stream"
    flashes = 0
    while metric(d, SLOW_CLOSES) < stuck:
        assert flashes < 2000, "the stuck streams were never closed"
        r = published(d, make_item(headline=f"flash {flashes}", urgency=1,
                                   bodies=[{"role": "main", "value": "!" * 2048}]), ["fil"])
        flashes += 1
        if good is not None:
            assert ids(good.items(1, what=f"flash {flashes}")) == [r["id"]]
    assert metric(d, SLOW_CLOSES) == stuck
    assert metric(d, 'newswire_drops_total{reason="overflow",urgency="1"}') == 0


def test_slow_readers_are_closed_while_another_keeps_receiving(start_daemon, sse):
    """Three streams that never read are closed as slow consumers and their
    connections go (a client that never reads must not hold a session, a
    connection slot and its queue for ever), while a stream that reads
    gets every item."""
    d = start_daemon("--set", "session_queue_bytes=16k")
    good = sse(d, q(topics="fil"))
    subscribed(good, ["fil"])
    stuck = [stuck_stream(d) for _ in range(3)]
    try:
        wait_until(lambda: metric(d, SSE_SESSIONS) == 4, what="4 streams")
        flood_until_slow_close(d, good, stuck=len(stuck))
        wait_until(lambda: metric(d, SSE_SESSIONS) == 1, timeout=10,
                   what="the stuck streams to be closed")
        r = published(d, make_item(), ["fil"])
        assert ids(good.items(1)) == [r["id"]]
        good.expect_silence(0.2)
        assert not good.eof
    finally:
        for s in stuck:
            s.close()


def read_raw_stream(sock, quiet=1.5):
    """Reads a raw /v1/events response until the server ends it or nothing
    comes for `quiet` seconds; returns (head, [blocks as [(field, value)]])."""
    sock.settimeout(quiet)
    data = b""
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    blocks = []
    for raw in body.split(b"\n\n"):
        if not raw:
            continue
        fields = []
        for line in raw.decode().split("\n"):
            name, _, value = line.partition(":")
            fields.append((name or ":", value[1:] if value.startswith(" ") else value))
        blocks.append(fields)
    return head, blocks


def test_flash_sent_ahead_resumes_without_gap(start_daemon, sse):
    """A flash queued behind routine items is sent first (with `cursor`,
    "Server messages"). An EventSource keeps the `id:` of the last event it
    got as its Last-Event-ID: one cut right after that flash must resume
    without losing the older items that were still queued behind it (at
    worst it gets the flash again, as a WebSocket client resuming from
    `cursor` does)."""
    d = start_daemon()
    sock = stuck_stream(d)
    try:
        wait_until(lambda: metric(d, SSE_SESSIONS) == 1, what="the stream")
        routine = []
        for i in range(60):
            routine.append(published(d, make_item(headline=f"routine {i}", urgency=5, bodies=[
                {"role": "main", "value": "x" * 100_000}]), ["fil"]))
            if metric(d, "newswire_queued_bytes") > 300_000:
                break
        assert metric(d, "newswire_queued_bytes") > 300_000, "nothing queued behind the socket"
        flash = published(d, make_item(headline="flash", urgency=1), ["fil"])
        head, blocks = read_raw_stream(sock)
    finally:
        sock.close()
    assert head.startswith(b"HTTP/1.1 200"), head
    events = [Event(b) for b in blocks if any(n == "data" for n, _ in b)]
    items = [e for e in events if e.event in ("new", "update", "kill", "withhold")]
    assert sorted(e.json()["id"] for e in items) == sorted(
        r["id"] for r in routine + [flash]), "the reader did not get every item"
    pos = next(i for i, e in enumerate(items) if e.json()["id"] == flash["id"])
    jumped = items[pos].json()
    assert "cursor" in jumped and pos < len(items) - 1, "the flash was not sent ahead"
    behind = [e.json()["id"] for e in items[pos + 1:]]
    assert all(stream_id(i) < stream_id(flash["id"]) for i in behind), behind

    # What an EventSource cut right after the flash holds as Last-Event-ID:
    # the id field of the last event that had one.
    last_event_id = [e.id for e in items[:pos + 1] if e.id is not None][-1]
    s, sub = resume(d, sse, last_event_id, "header", topics="fil")
    assert sub["recovered"] is True, sub
    # the item ids (a flash sent ahead again has its cursor as id:)
    again = [e.json()["id"] for e in s.until_quiet(0.6)]
    missing = [i for i in behind if i not in again]
    assert not missing, (f"Last-Event-ID {last_event_id} (the id: line of the flash sent "
                         f"ahead, cursor {jumped['cursor']}) loses {missing}")
    assert set(again) <= set(behind) | {flash["id"]}, again


def test_stuck_reader_sees_close_1013(start_daemon):
    """Once closed as a slow consumer, what the stuck client finally reads
    ends with a close event 1013, then the end of the response."""
    d = start_daemon("--set", "session_queue_bytes=16k")
    stuck = stuck_stream(d)
    try:
        wait_until(lambda: metric(d, SSE_SESSIONS) == 1, what="the stream")
        flood_until_slow_close(d, None)
        stuck.settimeout(10)
        data = b""
        while True:
            try:
                chunk = stuck.recv(1 << 20)
            except socket.timeout:
                raise AssertionError(f"the response never ended; last bytes {data[-300:]!r}")
            if not chunk:
                break
            data += chunk
    finally:
        stuck.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    blocks = [b for b in body.split(b"\n\n") if b]
    last = blocks[-1].decode()
    assert last.startswith("event: close\ndata: "), last[:300]
    close = json.loads(last.split("data: ", 1)[1])
    assert close == {"type": "close", "code": 1013,
                     "reason": "slow consumer: output queue full"}, close
    # whatever came before the close event is whole events
    for b in blocks[:-1]:
        lines = b.decode().split("\n")
        assert lines[0].startswith(("retry:", "event:", "id:", ":")), lines[0][:200]
