"""Embargoes (proto/PROTOCOL.md, "Embargoes", "GET /v1/embargoes"): an item
whose `embargoed` time is in the future is held, listed, then released once
at its time by whichever instance gets there first; holds survive restarts,
a newer version replaces the held one, a kill cancels it silently."""

import asyncio
import datetime
import time

from conftest import article_path, connect, in_thread, make_item, run
from resume_helpers import published, second_instance

RELEASED = "newswire_embargo_released_total"


def rfc3339(t):
    """Unix time t (float seconds) as RFC 3339 with milliseconds, UTC."""
    dt = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_rfc3339(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def hold(daemon, item, topics):
    r = daemon.publish(item, topics)
    assert r.status == 202, r
    body = r.json()
    assert body["status"] == "embargoed", body
    assert body["release"] == item["embargoed"]
    assert body["uri"] == item["uri"] and body["version"] == item["version"]
    assert "id" not in body
    return body


def embargoes(daemon):
    r = daemon.api("GET", "/v1/embargoes")
    assert r.status == 200, r
    return r.json()["items"]


async def arrival(client, timeout):
    """(message, time.time() at its arrival)."""
    msg = await client.recv_type("item", timeout=timeout)
    return msg, time.time()


def test_released_once_at_its_time_across_two_instances(start_daemon):
    d1 = start_daemon()
    d2 = second_instance(start_daemon, d1)

    async def scenario():
        c1 = await connect(d1, topics="embargo/#")
        c2 = await connect(d2, topics="embargo/#")
        for c in (c1, c2):
            await c.recv_type("subscribed")
        at = time.time() + 2.0
        item = make_item(urgency=2, embargoed=rfc3339(at))
        embargo_ts = parse_rfc3339(item["embargoed"])
        await in_thread(hold, d1, item, ["embargo/monde"])
        listed = await in_thread(embargoes, d2)  # same Redis: either instance lists it
        assert listed == [{"uri": item["uri"], "version": "1", "release": item["embargoed"],
                           "topics": ["embargo/monde"], "urgency": 2}], listed
        assert (await in_thread(d1.api, "GET", article_path(item["uri"]))).status == 404
        # nobody gets it before its time
        quiet = embargo_ts - time.time() - 0.3
        assert quiet > 1.0, "the hold took too long to set up"
        await asyncio.gather(c1.expect_silence(quiet), c2.expect_silence(quiet))
        (m1, t1), (m2, t2) = await asyncio.gather(arrival(c1, 3.0), arrival(c2, 3.0))
        for m, t in ((m1, t1), (m2, t2)):
            assert m["item"] == item and m["kind"] == "new" and m["topics"] == ["embargo/monde"]
            assert abs(t - embargo_ts) <= 0.25, f"arrived {t - embargo_ts:+.3f}s from its embargo"
        assert m1["id"] == m2["id"]
        # released exactly once
        await asyncio.gather(c1.expect_silence(1.5), c2.expect_silence(0.1))
        assert d1.metrics()[RELEASED] + d2.metrics()[RELEASED] == 1
        assert await in_thread(embargoes, d1) == []
        got = await in_thread(d2.api, "GET", article_path(item["uri"]))
        assert got.status == 200
        await c1.close()
        await c2.close()

    run(scenario())


def test_hold_survives_a_restart(start_daemon, redis_server):
    d = start_daemon()
    at = time.time() + 3.0
    item = make_item(embargoed=rfc3339(at))
    embargo_ts = parse_rfc3339(item["embargoed"])
    hold(d, item, ["embargo"])
    assert d.stop() == 0
    assert redis_server.client().zscore(d.prefix + "embargo", item["uri"]) is not None
    d.start()

    async def scenario():
        c = await connect(d, topics="embargo")
        await c.recv_type("subscribed")
        assert [e["uri"] for e in await in_thread(embargoes, d)] == [item["uri"]]
        quiet = embargo_ts - time.time() - 0.3
        assert quiet > 0.5, "the restart took too long"
        await c.expect_silence(quiet)
        msg, t = await arrival(c, 5.0)
        assert msg["item"] == item and msg["kind"] == "new"
        assert t >= embargo_ts - 0.25, "released before its time"
        # the restarted instance finds the hold at its first look
        # (embargo_poll, 1 s) and then times it exactly
        assert t <= embargo_ts + 0.25, f"released {t - embargo_ts:.3f}s late"
        await c.expect_silence(0.5)
        assert d.metrics()[RELEASED] == 1
        await c.close()

    run(scenario())


def test_update_before_release_replaces_the_held_version(start_daemon):
    d = start_daemon()
    uri = "urn:newsml:test.example:embargo-corrige"

    async def scenario():
        c = await connect(d, topics="embargo")
        await c.recv_type("subscribed")
        at = time.time() + 1.5
        v1 = make_item(uri=uri, embargoed=rfc3339(at))
        v2 = make_item(uri=uri, version="2", headline="v2", embargoed=rfc3339(at))
        await in_thread(hold, d, v1, ["embargo"])
        await in_thread(hold, d, v2, ["embargo"])
        # a lower version than the held one is refused
        r = await in_thread(d.publish, make_item(uri=uri, headline="autre"), ["embargo"])
        assert r.status == 409, r
        listed = await in_thread(embargoes, d)
        assert [(e["uri"], e["version"]) for e in listed] == [(uri, "2")]
        msg = await c.recv_type("item", timeout=5.0)
        assert msg["item"] == v2 and msg["kind"] == "new"
        await c.expect_silence(1.0)
        # and a version sent after its embargo passed goes out at once
        v3 = make_item(uri=uri, version="3", headline="v3", embargoed=rfc3339(at))
        r = await in_thread(d.publish, v3, ["embargo"])
        assert r.status == 202 and r.json()["status"] == "published", r
        msg = await c.recv_type("item")
        assert msg["item"] == v3 and msg["kind"] == "update"
        await c.close()

    run(scenario())


def test_update_before_release_without_embargo_publishes_at_once(start_daemon):
    d = start_daemon()
    uri = "urn:newsml:test.example:embargo-leve"

    async def scenario():
        c = await connect(d, topics="embargo")
        await c.recv_type("subscribed")
        at = time.time() + 1.5
        await in_thread(hold, d, make_item(uri=uri, embargoed=rfc3339(at)), ["embargo"])
        v2 = make_item(uri=uri, version="2")
        receipt = await in_thread(published, d, v2, ["embargo"])
        msg = await c.recv_type("item")
        assert msg["id"] == receipt["id"] and msg["item"] == v2
        assert await in_thread(embargoes, d) == []
        # nothing more at the old release time
        await c.expect_silence(at - time.time() + 1.2)
        await c.close()

    run(scenario())


def test_kill_before_release_cancels_silently(start_daemon):
    d = start_daemon()

    async def scenario():
        c = await connect(d, topics="embargo")
        await c.recv_type("subscribed")
        at = time.time() + 1.5
        a = make_item(embargoed=rfc3339(at))
        b = make_item(embargoed=rfc3339(at))
        await in_thread(hold, d, a, ["embargo"])
        await in_thread(hold, d, b, ["embargo"])
        kill = make_item(uri=a["uri"], version="2", pubstatus="canceled")
        r = await in_thread(d.publish, kill, ["embargo"])
        assert r.status == 202, r
        assert r.json() == {"status": "canceled", "uri": a["uri"], "version": "2",
                            "kind": "kill"}, r.json()
        r = await in_thread(d.api, "DELETE", article_path(b["uri"]))
        assert r.status == 202, r
        assert r.json()["status"] == "canceled" and r.json()["kind"] == "kill", r.json()
        assert await in_thread(embargoes, d) == []
        await c.expect_silence(at - time.time() + 1.5)
        assert d.metrics()[RELEASED] == 0
        await c.close()

    run(scenario())


def test_embargo_in_the_past_publishes_at_once(daemon):
    async def scenario():
        c = await connect(daemon, topics="embargo")
        await c.recv_type("subscribed")
        item = make_item(embargoed=rfc3339(time.time() - 60))
        receipt = await in_thread(published, daemon, item, ["embargo"])
        assert receipt["kind"] == "new"
        msg = await c.recv_type("item")
        assert msg["id"] == receipt["id"] and msg["item"] == item
        assert await in_thread(embargoes, daemon) == []
        await c.close()

    run(scenario())
