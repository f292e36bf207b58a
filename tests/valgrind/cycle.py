"""A publish/subscribe cycle against a running newswired, for
tests/valgrind/run.sh (which starts Redis and the daemon under valgrind).

Waits for /readyz, opens two WebSocket subscribers (newswire.v1.json and
newswire.v1.msgpack), publishes 20 items (JSON and msgpack bodies, flashes,
an update, a kill, and an embargoed item released a second later), checks
that both subscribers get all 20 events, resumes a third session from a
cursor, reads the recent items of a topic and a pattern, and goes through a
few refused requests and messages so that error paths run too. Exits 0
when everything was as expected, 1 otherwise (with the reason).

Usage: cycle.py GATEWAY_PORT API_PORT
"""

import asyncio
import datetime
import http.client
import json
import sys
import time
import urllib.parse
import uuid

import msgpack
import websockets

HOST = "127.0.0.1"
SLOW = 30.0  # valgrind runs the daemon tens of times slower


def fail(msg):
    raise SystemExit(f"cycle: FAILED: {msg}")


def http_call(port, method, path, body=None, headers=None, timeout=SLOW):
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def wait_ready(api_port, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http_call(api_port, "GET", "/readyz", timeout=5)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    fail(f"/readyz not 200 within {timeout:.0f}s")


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def make_item(uri, version="1", headline="Essai valgrind", **extra):
    item = {"uri": uri, "version": version, "versioncreated": rfc3339(time.time()),
            "type": "text", "language": "fr",
            "headlines": [{"role": "main", "value": headline}],
            "bodies": [{"role": "main", "contenttype": "text/plain",
                        "value": "Paragraphe d'essai, accentué. " * 20}]}
    item.update(extra)
    return item


def stream_id(s):
    ms, _, seq = s.partition("-")
    return int(ms), int(seq or 0)


def publish(api_port, item, topics, fmt="json"):
    if fmt == "json":
        body, ctype = json.dumps(item).encode(), "application/json"
    else:
        body, ctype = msgpack.packb(item), "application/msgpack"
    path = "/v1/articles?topics=" + urllib.parse.quote(",".join(topics), safe=",/")
    return http_call(api_port, "POST", path, body, {"Content-Type": ctype})


class Session:
    def __init__(self, ws, fmt):
        self.ws, self.fmt = ws, fmt

    @classmethod
    async def open(cls, gw_port, fmt):
        proto = "newswire.v1.msgpack" if fmt == "msgpack" else "newswire.v1.json"
        ws = await websockets.connect(f"ws://{HOST}:{gw_port}/v1/stream", subprotocols=[proto],
                                      open_timeout=SLOW, close_timeout=SLOW,
                                      ping_interval=None, max_size=4 * 1024 * 1024)
        s = cls(ws, fmt)
        await s.expect("hello")
        return s

    async def send(self, msg):
        await self.ws.send(msgpack.packb(msg) if self.fmt == "msgpack" else json.dumps(msg))

    async def recv(self, timeout=SLOW):
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        return msgpack.unpackb(raw) if self.fmt == "msgpack" else json.loads(raw)

    async def expect(self, type_, timeout=SLOW):
        msg = await self.recv(timeout)
        if msg.get("type") != type_:
            fail(f"{self.fmt} session: expected {type_}, got {msg}")
        return msg

    async def items(self, count, timeout=SLOW):
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"{self.fmt} session: {len(out)} of {count} items within {timeout:.0f}s")
            msg = await self.recv(left)
            if msg.get("type") == "item":
                out.append(msg)
        return out


async def cycle(gw_port, api_port):
    run = uuid.uuid4().hex[:8]
    uri = lambda n: f"urn:newsml:valgrind.example:{run}:{n}"  # noqa: E731

    js = await Session.open(gw_port, "json")
    mp = await Session.open(gw_port, "msgpack")
    await js.send({"op": "subscribe", "topics": ["vg/#"]})
    sub = await js.expect("subscribed")
    await mp.send({"op": "subscribe", "topics": ["vg/+", "vg"], "min_urgency": 9})
    await mp.expect("subscribed")

    # error paths: a refused op on each session, a ping
    await js.send({"op": "subscribe", "topics": ["Bad/Topic"]})
    await js.expect("error")
    await mp.send({"op": "jump"})
    await mp.expect("error")
    await js.send({"op": "ping"})
    await js.expect("pong")

    # 20 publishes: 17 new (2 as msgpack, 2 flashes), an update, a kill, an embargo
    receipts = []
    for n in range(17):
        extra = {"urgency": 1} if n in (3, 9) else {"urgency": 4 + n % 5}
        status, body = publish(api_port, make_item(uri(n), **extra),
                               ["vg/a" if n % 2 else "vg/b", "vg"],
                               fmt="msgpack" if n in (5, 6) else "json")
        if status != 202:
            fail(f"publish {n}: {status} {body[:200]!r}")
        receipts.append(json.loads(body))
    status, body = publish(api_port, make_item(uri(0), version="2", headline="Corrigé"),
                           ["vg/b", "vg"])
    if status != 202 or json.loads(body)["kind"] != "update":
        fail(f"update: {status} {body[:200]!r}")
    status, body = publish(api_port, make_item(uri(1), version="2", pubstatus="canceled"),
                           ["vg/a"])
    if status != 202 or json.loads(body)["kind"] != "kill":
        fail(f"kill: {status} {body[:200]!r}")
    release = time.time() + 1.0
    status, body = publish(api_port, make_item(uri("embargo"), embargoed=rfc3339(release)),
                           ["vg/a"])
    if status != 202 or json.loads(body)["status"] != "embargoed":
        fail(f"embargo: {status} {body[:200]!r}")

    # refused and repeated requests
    status, _ = publish(api_port, {"uri": "not an item"}, ["vg/a"])
    if status != 400:
        fail(f"invalid item: {status}")
    status, _ = publish(api_port, make_item(uri(2)) | {"versioncreated": "2026-11-27T09:12:00Z"},
                        ["vg/a"])
    if status != 409:
        fail(f"same uri and version, other content: {status}")

    for s in (js, mp):
        got = await s.items(20)
        kinds = sorted(m["kind"] for m in got)
        if kinds.count("new") != 18 or kinds.count("update") != 1 or kinds.count("kill") != 1:
            fail(f"{s.fmt} session: kinds {kinds}")
        embargoed = [m for m in got if m["item"]["uri"] == uri("embargo")]
        if len(embargoed) != 1 or time.time() < release:
            fail(f"{s.fmt} session: embargoed item {embargoed}")

    # a resume from the 5th item: recovered, and what followed it
    since = receipts[4]["id"]
    rs = await Session.open(gw_port, "json")
    op = {"op": "subscribe", "topics": ["vg/#"], "since": since}
    if "epoch" in sub:
        op["epoch"] = sub["epoch"]
    await rs.send(op)
    resumed = await rs.expect("subscribed")
    if resumed.get("recovered") is not True:
        fail(f"resume: {resumed}")
    replay = await rs.items(5)
    if any(stream_id(m["id"]) <= stream_id(since) for m in replay):
        fail(f"resume replayed items up to the cursor: {[m['id'] for m in replay]}")

    # recent items of a topic and of a pattern, on the public listener
    for topic in ("vg/a", "vg/%23"):
        status, body = http_call(gw_port, "GET", f"/v1/topics/{topic}/recent?limit=5")
        if status != 200 or not json.loads(body)["items"]:
            fail(f"recent {topic}: {status} {body[:200]!r}")
    status, _ = http_call(gw_port, "GET", "/v1/topics/Bad/recent")
    if status != 400:
        fail(f"recent of an invalid topic: {status}")

    # the API's reads
    status, _ = http_call(api_port, "GET", "/v1/articles/" + urllib.parse.quote(uri(0), safe=""))
    if status != 200:
        fail(f"GET article: {status}")
    for path in ("/v1/embargoes", "/metrics", "/healthz"):
        status, _ = http_call(api_port, "GET", path)
        if status != 200:
            fail(f"GET {path}: {status}")

    for s in (js, mp, rs):
        await s.ws.close()
    print(f"cycle: ok: 20 publishes, 2 x 20 deliveries, resume from {since} "
          f"({len(replay)} items), recent items")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    gw_port, api_port = int(sys.argv[1]), int(sys.argv[2])
    wait_ready(api_port)
    asyncio.run(cycle(gw_port, api_port))


if __name__ == "__main__":
    main()
