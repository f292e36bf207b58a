"""Redis outages: while Redis is away, ingest answers 503 with Retry-After
and nothing is delivered; when it comes back, newswired reconnects by itself
and publishing and delivery resume; what was acknowledged before the outage
is still there (README "Running", proto/PROTOCOL.md "Ingest API").

Each test uses a redis-server of its own (the private_redis fixture) so that
stopping it does not disturb the other tests."""

import signal

import pytest

from conftest import (article_path, await_until, connect, in_thread, make_item, run, stream_id,
                      wait_until)

# Reconnection backoff capped at 1 s, so that recovery is quick to observe.
FAST_RECONNECT = ("--set", "redis_reconnect_max=1s")


def readyz(daemon):
    return daemon.api("GET", "/readyz")


def is_ready(daemon):
    return readyz(daemon).status == 200


def not_ready(daemon):
    return readyz(daemon).status == 503


def assert_unavailable(r):
    assert r.status == 503, r
    assert r.headers.get("retry-after") == "1", r.headers
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert isinstance(body.get("error"), str) and body["error"], body


@pytest.mark.parametrize("outage", ["stop", "kill"])
def test_outage_and_recovery(private_redis, start_daemon, outage):
    d = start_daemon(*FAST_RECONNECT, redis_url=private_redis.url)

    async def scenario():
        c = await connect(d, topics="fil/#")
        await c.recv_type("subscribed")

        before = []
        for i in range(5):
            item = make_item(headline=f"avant {i}", urgency=2)
            r = await in_thread(d.publish, item, ["fil/a"])
            assert r.status == 202, r
            before.append((item, r.json()))
            assert (await c.recv_type("item"))["id"] == r.json()["id"]

        # Redis goes away.
        if outage == "stop":
            private_redis.stop()
        else:
            private_redis.kill()
        await await_until(lambda: not_ready(d), timeout=10, what="/readyz 503")
        r = readyz(d)
        assert r.headers.get("retry-after") == "1"
        assert r.json() == {"status": "not ready", "redis": False, "wire": False}
        assert d.api("GET", "/healthz").status == 200

        during = make_item(headline="pendant", urgency=1)
        for via in ("query", "header"):
            assert_unavailable(await in_thread(d.publish, during, ["fil/a"], via=via))
        assert_unavailable(await in_thread(d.api, "GET", article_path(before[0][0]["uri"])))
        await c.expect_silence(0.5)

        # Redis comes back with its data (AOF, same directory and port).
        private_redis.start()
        await await_until(lambda: is_ready(d), timeout=15, what="/readyz 200 after restart")
        assert readyz(d).json() == {"status": "ready", "redis": True, "wire": True}

        # Everything acknowledged before the outage survived it.
        for item, receipt in before:
            r = await in_thread(d.api, "GET", article_path(item["uri"]))
            assert r.status == 200, r
            assert r.json() == item
        # What was refused was not stored.
        r = await in_thread(d.api, "GET", article_path(during["uri"]))
        assert r.status == 404, r

        # Publishing and delivery resume for the client that stayed connected,
        # without replaying what it already had.
        after = []
        for i in range(3):
            item = make_item(headline=f"après {i}", urgency=1)
            r = await in_thread(d.publish, item, ["fil/b"])
            assert r.status == 202, r
            after.append(r.json()["id"])
        got = [(await c.recv_type("item", timeout=5))["id"] for _ in after]
        assert got == after
        assert stream_id(after[0]) > stream_id(before[-1][1]["id"])
        await c.expect_silence(0.3)
        await c.close()

        rc = private_redis.client()
        assert rc.xlen(d.prefix + "wire") == len(before) + len(after)

    run(scenario())
    assert d.metrics()["newswire_redis_reconnects_total"] >= 4  # 2 links, twice each
    assert d.metrics()['newswire_ingest_items_total{result="unavailable"}'] == 2


def test_daemon_started_while_redis_is_down(private_redis, start_daemon):
    private_redis.stop()
    d = start_daemon(*FAST_RECONNECT, redis_url=private_redis.url, wait_ready=False)
    wait_until(lambda: d.proc.poll() is None and _healthz(d), timeout=10, what="/healthz")
    r = readyz(d)
    assert r.status == 503, r
    assert r.json()["status"] == "not ready" and r.json()["redis"] is False
    item = make_item()
    assert_unavailable(d.publish(item, ["sport"]))

    private_redis.start()
    wait_until(lambda: is_ready(d), timeout=15, what="/readyz 200 once Redis is up")

    async def scenario():
        c = await connect(d, topics="sport")
        await c.recv_type("subscribed")
        r = await in_thread(d.publish, item, ["sport"])
        assert r.status == 202, r  # the earlier 503 stored nothing: this is new
        assert r.json()["kind"] == "new"
        assert (await c.recv_type("item"))["id"] == r.json()["id"]
        await c.close()

    run(scenario())


def _healthz(d):
    try:
        return d.api("GET", "/healthz").status == 200
    except OSError:
        return False


def test_subscribers_stay_connected_through_an_outage(private_redis, start_daemon):
    """Sessions are not dropped because Redis went away, and new ones can
    still open (they just receive nothing until Redis is back). Default
    reconnection settings."""
    d = start_daemon(redis_url=private_redis.url)

    async def scenario():
        c1 = await connect(d, topics="sport")
        await c1.recv_type("subscribed")
        private_redis.stop()
        await await_until(lambda: not_ready(d), timeout=10, what="/readyz 503")
        c2 = await connect(d, topics="sport")
        await c2.recv_type("subscribed")
        for c in (c1, c2):
            await c.send({"op": "ping"})
            await c.recv_type("pong")
        private_redis.start()
        await await_until(lambda: is_ready(d), timeout=15, what="/readyz 200")
        r = await in_thread(d.publish, make_item(), ["sport"])
        assert r.status == 202, r
        for c in (c1, c2):
            assert (await c.recv_type("item", timeout=5))["id"] == r.json()["id"]
            await c.close()

    run(scenario())


def test_unresponsive_redis_answers_503_and_retry_is_idempotent(private_redis, start_daemon):
    """Redis frozen (SIGSTOP): a publish gets 503 after redis_command_timeout
    instead of hanging; once Redis is back, retrying the same item is safe:
    one wire entry and one delivery, whether or not the first attempt ran."""
    d = start_daemon("--set", "redis_command_timeout=500ms", *FAST_RECONNECT,
                     redis_url=private_redis.url)
    item = make_item(urgency=1)

    async def scenario():
        c = await connect(d, topics="alertes")
        await c.recv_type("subscribed")
        private_redis.proc.send_signal(signal.SIGSTOP)
        try:
            r = await in_thread(d.publish, item, ["alertes"])
            assert_unavailable(r)
        finally:
            private_redis.proc.send_signal(signal.SIGCONT)
        await await_until(lambda: is_ready(d), timeout=15, what="/readyz 200 after SIGCONT")
        r = await in_thread(d.publish, item, ["alertes"])
        assert r.status in (200, 202), r
        receipt = r.json()
        msg = await c.recv_type("item", timeout=5)
        assert msg["id"] == receipt["id"] and msg["item"] == item
        await c.expect_silence(0.5)
        await c.close()
        entries = private_redis.client().xrange(d.prefix + "wire")
        assert [f["uri"] for _, f in entries] == [item["uri"]]

    run(scenario())
