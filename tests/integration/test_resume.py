"""Resuming (proto/PROTOCOL.md, "Resuming"): a client that reconnects with
its cursor (`since`, and the `epoch` it was given) gets what it missed,
collapsed per story, once and in order, then live items; when the cursor
cannot be recovered (trimmed wire, other epoch, cursor ahead of the wire) it
gets `recovered: false` and the recent items of its patterns instead."""

import asyncio
import random
import threading
import time

from conftest import connect, make_item, run, stream_id
from resume_helpers import (apublish, assert_increasing, cursor_of, drop, published,
                            read_items, read_until_quiet, resume_op, resume_url,
                            second_instance)

GAP_TOPICS = [["monde/europe"], ["monde"], ["monde/afrique/benin"], ["monde/afrique", "sport"]]


async def first_session(daemon, pattern, n_before, topics=("monde/afrique",)):
    """A plain session on pattern that reads n_before items; returns
    (receipts, cursor) after closing it."""
    c = await connect(daemon)
    sub = await c.subscribe(pattern)
    assert sub["topics"] == [pattern]
    receipts = [await apublish(daemon, make_item(headline=f"avant {i}"), list(topics))
                for i in range(n_before)]
    got = await read_items(c, n_before, what="items before the disconnect")
    assert [m["id"] for m in got] == [r["id"] for r in receipts]
    await c.close()
    return receipts, cursor_of(got[-1])


def publish_gap(daemon, n, prefix="pendant"):
    """n items on matching topics, plus non-matching ones in between."""
    receipts, items = [], []
    for i in range(n):
        item = make_item(headline=f"{prefix} {i}", urgency=3 + i % 7)
        receipts.append(published(daemon, item, GAP_TOPICS[i % len(GAP_TOPICS)]))
        items.append(item)
        published(daemon, make_item(headline="ailleurs"), ["sport"])
    return receipts, items


async def check_missed_then_live(daemon, c, receipts, items):
    got = await read_items(c, len(receipts), what="missed items")
    assert [m["id"] for m in got] == [r["id"] for r in receipts]
    assert [m["item"] for m in got] == items
    assert all(m["kind"] == "new" for m in got)
    for i, m in enumerate(got):
        want = [t for t in GAP_TOPICS[i % len(GAP_TOPICS)] if t.startswith("monde")]
        assert m["topics"] == want, m
    live = [await apublish(daemon, make_item(headline=f"direct {i}"), ["monde/afrique"])
            for i in range(2)]
    got = await read_items(c, 2, what="live items after the replay")
    assert [m["id"] for m in got] == [r["id"] for r in live]
    await c.expect_silence(0.3)
    return cursor_of(got[-1])


def test_resume_with_subscribe_op(daemon):
    async def scenario():
        _, cursor = await first_session(daemon, "monde/#", 3)
        receipts, items = publish_gap(daemon, 8)
        c, sub = await resume_op(daemon, ["monde/#"], cursor)
        assert sub["recovered"] is True, sub
        assert sub["topics"] == ["monde/#"]
        assert isinstance(sub["epoch"], str) and sub["epoch"], sub
        epoch = sub["epoch"]
        cursor = await check_missed_then_live(daemon, c, receipts, items)
        await c.close()

        # Once more, now with the epoch the first resume gave.
        receipts, items = publish_gap(daemon, 5, "encore")
        c, sub = await resume_op(daemon, ["monde/#"], cursor, epoch=epoch)
        assert sub["recovered"] is True and sub["epoch"] == epoch, sub
        await check_missed_then_live(daemon, c, receipts, items)
        await c.close()

    run(scenario())


def test_resume_with_url_query(daemon):
    """?topics=monde/%23&since=<id> (and then &epoch=)."""
    async def scenario():
        _, cursor = await first_session(daemon, "monde/#", 2)
        receipts, items = publish_gap(daemon, 6)
        c, sub = await resume_url(daemon, ["monde/#"], cursor)
        assert sub["recovered"] is True, sub
        assert sub["topics"] == ["monde/#"] and sub["epoch"], sub
        epoch = sub["epoch"]
        cursor = await check_missed_then_live(daemon, c, receipts, items)
        await c.close()

        receipts, items = publish_gap(daemon, 3, "encore")
        c, sub = await resume_url(daemon, ["monde/#"], cursor, epoch=epoch)
        assert sub["recovered"] is True and sub["epoch"] == epoch, sub
        await check_missed_then_live(daemon, c, receipts, items)
        await c.close()

    run(scenario())


def test_resume_with_nothing_missed(daemon):
    async def scenario():
        _, cursor = await first_session(daemon, "monde/#", 2)
        c, sub = await resume_op(daemon, ["monde/#"], cursor)
        assert sub["recovered"] is True
        await c.expect_silence(0.4)
        r = await apublish(daemon, make_item(), ["monde"])
        assert (await c.recv_type("item"))["id"] == r["id"]
        await c.close()

    run(scenario())


# --------------------------------------------------------------------------
# Collapse per story inside the gap

async def through_gap(daemon, before, gap):
    """Publishes `before` (list of (item, topics)) to a session on monde/#,
    which reads them and disconnects; publishes `gap`; resumes. Returns
    (receipts before, receipts of the gap, frames received after
    `subscribed`)."""
    c = await connect(daemon)
    await c.subscribe("monde/#")
    rb = [await apublish(daemon, item, topics) for item, topics in before]
    got = await read_items(c, len(rb), what="items before the disconnect")
    assert [m["id"] for m in got] == [r["id"] for r in rb]
    cursor = cursor_of(got[-1])
    await c.close()
    rg = [published(daemon, item, topics) for item, topics in gap]
    c, sub = await resume_op(daemon, ["monde/#"], cursor)
    assert sub["recovered"] is True, sub
    frames = await read_until_quiet(c, 0.6)
    await c.close()
    return rb, rg, frames


def items_of(frames):
    assert all(f["type"] == "item" for f in frames), frames
    return frames


def test_story_killed_inside_the_gap_is_not_delivered(daemon):
    killed_inside_the_gap(daemon)


def test_gap_collapses_even_while_the_tail_trails(start_daemon):
    """With wire_batch_wait at its largest (100 ms) the gateway's own
    position trails the wire when the client resumes: the replay still
    reads up to the wire's end, collapsed, and the same events arriving
    live afterwards are not sent again."""
    killed_inside_the_gap(start_daemon("--set", "wire_batch_wait=100ms"))


def killed_inside_the_gap(daemon):
    uri = "urn:newsml:test.example:tue-dans-le-trou"
    withheld_uri = "urn:newsml:test.example:retenu-dans-le-trou"
    marker = make_item(headline="repère")
    a1 = make_item(uri=uri, headline="v1")
    a2 = make_item(uri=uri, version="2", headline="v2")
    kill = make_item(uri=uri, version="3", headline="annulé", pubstatus="canceled")
    w1 = make_item(uri=withheld_uri)
    w2 = make_item(uri=withheld_uri, version="2", pubstatus="withheld")
    b = make_item(headline="B")
    c_ = make_item(headline="C")

    async def scenario():
        _, rg, frames = await through_gap(
            daemon, [(marker, ["monde"])],
            [(a1, ["monde/afrique"]), (b, ["monde"]), (w1, ["monde"]), (a2, ["monde/afrique"]),
             (kill, ["monde/afrique"]), (w2, ["monde"]), (c_, ["monde/europe"])])
        assert [r["kind"] for r in rg] == ["new", "new", "new", "update", "kill", "withhold",
                                           "new"], rg
        items = items_of(frames)
        assert [(m["id"], m["kind"], m["item"]) for m in items] == [
            (rg[1]["id"], "new", b), (rg[6]["id"], "new", c_)], items

    run(scenario())


def test_correction_inside_the_gap_collapses_to_its_last_version(daemon):
    uri = "urn:newsml:test.example:corrige"
    v1 = make_item(uri=uri, headline="v1")
    v2 = make_item(uri=uri, version="2", headline="v2")
    v3 = make_item(uri=uri, version="3", headline="v3")
    x = make_item(headline="X")

    async def scenario():
        rb, rg, frames = await through_gap(
            daemon, [(v1, ["monde/afrique"])],
            [(v2, ["monde/afrique"]), (x, ["monde"]), (v3, ["monde/afrique"])])
        assert [r["kind"] for r in rg] == ["update", "new", "update"]
        items = items_of(frames)
        assert [(m["id"], m["kind"]) for m in items] == [(rg[1]["id"], "new"),
                                                         (rg[2]["id"], "update")], items
        assert items[1]["item"] == v3
        assert items[1]["topics"] == ["monde/afrique"]

    run(scenario())


def test_story_new_and_updated_inside_the_gap_comes_once_as_new(daemon):
    uri = "urn:newsml:test.example:neuf-et-corrige"
    t1 = make_item(uri=uri, headline="t1")
    t2 = make_item(uri=uri, version="2", headline="t2")
    t5 = make_item(uri=uri, version="5", headline="t5")

    async def scenario():
        _, rg, frames = await through_gap(
            daemon, [(make_item(), ["monde"])],
            [(t1, ["monde/europe"]), (t2, ["monde/europe"]), (t5, ["monde/europe"])])
        items = items_of(frames)
        assert len(items) == 1, items
        assert items[0]["id"] == rg[2]["id"]
        assert items[0]["kind"] == "new"
        assert items[0]["item"] == t5

    run(scenario())


def test_story_seen_then_killed_inside_the_gap_comes_as_its_kill(daemon):
    uri = "urn:newsml:test.example:vu-puis-tue"
    wuri = "urn:newsml:test.example:vu-puis-retenu"
    k1 = make_item(uri=uri, headline="k1")
    k2 = make_item(uri=uri, version="2", headline="k2")
    kill = make_item(uri=uri, version="3", headline="k3", pubstatus="canceled")
    w1 = make_item(uri=wuri)
    w2 = make_item(uri=wuri, version="2", pubstatus="withheld")

    async def scenario():
        _, rg, frames = await through_gap(
            daemon, [(k1, ["monde/afrique"]), (w1, ["monde/europe"])],
            [(k2, ["monde/afrique"]), (kill, ["monde/afrique"]), (w2, ["monde/europe"])])
        items = items_of(frames)
        assert [(m["id"], m["kind"]) for m in items] == [(rg[1]["id"], "kill"),
                                                         (rg[2]["id"], "withhold")], items
        assert items[0]["item"] == kill
        assert items[0]["item"]["pubstatus"] == "canceled"
        assert items[1]["item"]["pubstatus"] == "withheld"

    run(scenario())


def test_flash_in_the_gap_comes_after_subscribed(daemon):
    """The replay starts after `subscribed` (steps 2-3 of "Resuming"), even
    when a flash of the gap may be sent ahead of the routine items replayed
    with it (it then carries `cursor`: the resume cursor)."""
    async def scenario():
        _, cursor = await first_session(daemon, "monde/#", 1)
        routine = published(daemon, make_item(urgency=6), ["monde"])
        flash = published(daemon, make_item(urgency=1), ["monde"])
        c = await connect(daemon)
        await c.send({"op": "subscribe", "topics": ["monde/#"], "since": cursor})
        frames = await read_until_quiet(c, 0.6)
        assert [f["type"] for f in frames] == ["subscribed", "item", "item"], frames
        assert frames[0]["recovered"] is True
        items = frames[1:]
        assert sorted(m["id"] for m in items) == sorted([routine["id"], flash["id"]])
        for m in items:
            if m["id"] == flash["id"] and items[0] is m:
                assert m["cursor"] == cursor, m
            else:
                assert "cursor" not in m, m
        await c.close()

    run(scenario())


# --------------------------------------------------------------------------
# Resuming while publishing

def test_resume_repeatedly_while_publishing(daemon):
    """A publisher thread publishes 300 items while the client disconnects
    and resumes again and again: across sessions it gets every published id
    exactly once, in increasing order."""
    total = 300
    receipts = []
    done = threading.Event()
    errors = []

    def publisher():
        try:
            for i in range(total):
                item = make_item(headline=f"course {i}", urgency=3 + i % 7)
                receipts.append(published(daemon, item, ["course/a" if i % 2 else "course/b"]))
                published(daemon, make_item(), ["ailleurs"])  # not for this client
                time.sleep(0.004)
        except BaseException as e:  # reported by the test
            errors.append(e)
        finally:
            done.set()

    async def scenario():
        rnd = random.Random(7)
        sessions = []
        cursor = epoch = None
        thread = threading.Thread(target=publisher, daemon=True)
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, "the client never caught up"
            if cursor is None:
                c = await connect(daemon)
                await c.subscribe("course/#")
                thread.start()
            elif len(sessions) % 2:
                c, sub = await resume_url(daemon, ["course/#"], cursor, epoch)
                assert sub["recovered"] is True, sub
                epoch = sub["epoch"]
            else:
                c, sub = await resume_op(daemon, ["course/#"], cursor, epoch)
                assert sub["recovered"] is True, sub
                epoch = sub["epoch"]
            got = []
            quota = rnd.randint(15, 45)
            while len(got) < quota:
                try:
                    m = await c.recv_type("item", timeout=0.5)
                except asyncio.TimeoutError:
                    if done.is_set():
                        break
                    continue
                got.append(m)
            sessions.append([m["id"] for m in got])
            if got:
                cursor = cursor_of(got[-1])
            await drop(c)
            if done.is_set() and sum(map(len, sessions)) >= len(receipts):
                break
        thread.join(10)
        assert not errors, errors
        assert len(sessions) >= 6, f"only {len(sessions)} sessions"
        for ids in sessions:
            assert_increasing(ids, "one session's ids")
        received = [i for ids in sessions for i in ids]
        assert len(received) == len(set(received)), "an item was received twice"
        assert received == [r["id"] for r in receipts]
        assert len(received) == total

    run(scenario())


# --------------------------------------------------------------------------
# Not recovered

def recent_expected(events, match, per):
    """What recent.lua answers for one pattern: stories ordered by their
    latest matching event, newest first, killed or withheld ones left out,
    at most per; as (id of the latest version, uri, version)."""
    seen, out = set(), []
    for ev in reversed(events):
        if not match(ev["topics"]) or ev["uri"] in seen:
            continue
        seen.add(ev["uri"])
        if ev["kind"] in ("kill", "withhold"):
            continue
        if len(out) < per:
            out.append((ev["id"], ev["uri"], ev["version"]))
    return out


def test_not_recovered_after_the_wire_was_trimmed(start_daemon, redis_server):
    d = start_daemon("--set", "wire_maxlen=100", "--set", "recent_count=4")
    events = []

    def pub(item, topics):
        r = published(d, item, topics)
        events.append({"id": r["id"], "uri": item["uri"], "version": item["version"],
                       "kind": r["kind"], "topics": topics})
        return r

    async def scenario():
        c = await connect(d)
        await c.subscribe("trim/a", "autre/#")
        first = await apublish(d, make_item(), ["trim/a"])
        assert (await c.recv_type("item"))["id"] == first["id"]
        await c.close()
        cursor = first["id"]
        stories = []
        for i in range(600):
            topics = [["trim/a"], ["autre/x"], ["ailleurs"], ["autre/y/z"]][i % 4]
            item = make_item(headline=f"remplissage {i}")
            pub(item, topics)
            stories.append((item, topics))
        # the end of the wire: kills, an update and a withhold among the
        # most recent stories of each pattern
        for k in (-4, -8):  # trim/a stories
            item, topics = stories[k]
            pub(dict(item, version="2", pubstatus="canceled"), topics)
        item, topics = stories[-3]  # autre/x
        pub(dict(item, version="2", pubstatus="canceled"), topics)
        item, topics = stories[-1]  # autre/y/z
        pub(dict(item, version="2", pubstatus="withheld"), topics)
        item, topics = stories[-12]  # trim/a: an update brings it forward
        pub(dict(item, version="2", headlines=[{"role": "main", "value": "corrigé"}]), topics)
        r = redis_server.client()
        first_left = r.xrange(d.prefix + "wire", count=1)[0][0]
        assert stream_id(first_left) > stream_id(cursor), "the wire was not trimmed"

        want = sorted(
            recent_expected(events, lambda ts: "trim/a" in ts, 4)
            + recent_expected(events, lambda ts: any(t.startswith("autre/") for t in ts), 4),
            key=lambda e: stream_id(e[0]))
        assert len(want) == 8

        c, sub = await resume_op(d, ["trim/a", "autre/#"], cursor)
        assert sub["recovered"] is False, sub
        assert sub["epoch"]
        got = await read_items(c, len(want), what="recent items")
        assert [(m["id"], m["item"]["uri"], m["item"]["version"]) for m in got] == want
        assert all(m["kind"] in ("new", "update") for m in got)
        await c.expect_silence(0.4)  # nothing more than recent_count per pattern
        live = await apublish(d, make_item(), ["autre/x"])
        m = await c.recv_type("item")
        assert m["id"] == live["id"] and m["kind"] == "new"
        await c.expect_silence(0.2)
        await c.close()

    run(scenario())


async def epoch_of(daemon, pattern, cursor):
    c, sub = await resume_op(daemon, [pattern], cursor)
    assert sub["recovered"] is True
    await read_until_quiet(c, 0.3)
    await c.close()
    return sub["epoch"]


def test_not_recovered_with_another_epoch(daemon):
    async def scenario():
        before, cursor = await first_session(daemon, "monde/#", 1)
        gap = published(daemon, make_item(), ["monde/europe"])
        epoch = await epoch_of(daemon, "monde/#", cursor)
        other = "0123456789abcdef" if epoch != "0123456789abcdef" else "fedcba9876543210"
        c, sub = await resume_op(daemon, ["monde/#"], cursor, epoch=other)
        assert sub["recovered"] is False, sub
        assert sub["epoch"] == epoch
        # recent items instead of a replay: the item before the cursor too
        got = await read_items(c, 2, what="recent items")
        assert [m["id"] for m in got] == [before[0]["id"], gap["id"]]
        await c.expect_silence(0.3)
        await c.close()
        # the same through the URL
        c, sub = await resume_url(daemon, ["monde/#"], cursor, epoch=other)
        assert sub["recovered"] is False, sub
        await c.close()
        # and the right epoch is still recovered
        c, sub = await resume_op(daemon, ["monde/#"], cursor, epoch=epoch)
        assert sub["recovered"] is True
        assert [m["id"] for m in await read_items(c, 1)] == [gap["id"]]
        await c.close()

    run(scenario())


def test_not_recovered_after_the_epoch_key_is_lost(daemon, redis_server):
    async def scenario():
        _, cursor = await first_session(daemon, "monde/#", 2)
        published(daemon, make_item(), ["monde"])
        return cursor, await epoch_of(daemon, "monde/#", cursor)

    cursor, epoch = run(scenario())
    assert redis_server.client().delete(daemon.prefix + "epoch") == 1
    assert daemon.stop() == 0
    daemon.start()

    async def after():
        c, sub = await resume_op(daemon, ["monde/#"], cursor, epoch=epoch)
        assert sub["recovered"] is False, sub
        assert sub["epoch"] and sub["epoch"] != epoch
        await c.close()

    run(after())
    assert redis_server.client().get(daemon.prefix + "epoch") not in (None, epoch)


def test_not_recovered_with_a_cursor_ahead_of_the_wire(daemon):
    async def scenario():
        before, _ = await first_session(daemon, "monde/#", 2)
        for resume in (resume_op, resume_url):
            c, sub = await resume(daemon, ["monde/#"], "99999999999999-0")
            assert sub["recovered"] is False, sub
            got = await read_items(c, len(before), what="recent items")
            assert [m["id"] for m in got] == [r["id"] for r in before]
            await c.expect_silence(0.3)
            # live items still come (nothing is skipped up to the bogus cursor)
            live = await apublish(daemon, make_item(), ["monde"])
            assert (await c.recv_type("item"))["id"] == live["id"]
            before.append(live)
            await c.close()

    run(scenario())


# --------------------------------------------------------------------------
# Refused cursors

def test_since_on_a_second_subscription_is_refused(daemon):
    async def scenario():
        r0 = published(daemon, make_item(), ["sport"])
        c = await connect(daemon)
        await c.subscribe("monde/#")
        await c.send({"op": "subscribe", "topics": ["sport"], "since": r0["id"]})
        err = await c.recv_type("error")
        assert err["code"] == "invalid_field", err
        # nothing changed: still monde/# only, and no replay
        r = await apublish(daemon, make_item(), ["sport"])
        await c.expect_silence(0.3)
        r = await apublish(daemon, make_item(), ["monde"])
        assert (await c.recv_type("item"))["id"] == r["id"]
        sub = await c.subscribe("sport")
        assert sorted(sub["topics"]) == ["monde/#", "sport"]
        assert "recovered" not in sub
        # a URL subscription is a first subscription too
        c2, sub = await resume_url(daemon, ["monde/#"], r["id"])
        assert sub["recovered"] is True
        await c2.send({"op": "subscribe", "topics": ["sport"], "since": r["id"]})
        err = await c2.recv_type("error")
        assert err["code"] == "invalid_field", err
        await c.close()
        await c2.close()

    run(scenario())


def test_invalid_since_is_refused(daemon):
    async def scenario():
        c = await connect(daemon)
        for since in ("abc", "1-x", "", "-5", "1-2-3", "12-", 12, None, ["1-0"]):
            await c.send({"op": "subscribe", "topics": ["monde/#"], "since": since})
            err = await c.recv_type("error")
            assert err["code"] == "invalid_field", (since, err)
        # nothing was subscribed by the refused requests
        published(daemon, make_item(), ["monde"])
        await c.expect_silence(0.3)
        sub = await c.subscribe("monde/#")
        assert sub["topics"] == ["monde/#"]
        await c.close()
        # in the URL
        c = await connect(daemon, topics="monde/#", since="abc")
        err = await c.recv_type("error")
        assert err["code"] == "invalid_field", err
        await c.close()
        c = await connect(daemon, since="1-0")  # since without topics
        err = await c.recv_type("error")
        assert err["code"] == "invalid_field", err
        await c.close()

    run(scenario())


# --------------------------------------------------------------------------
# Another instance

def test_resume_on_a_second_instance(start_daemon):
    d1 = start_daemon()
    d2 = second_instance(start_daemon, d1)

    async def scenario():
        # both instances serve the same wire
        c0 = await connect(d2, topics="monde/#")
        await c0.recv_type("subscribed")
        r = await apublish(d1, make_item(), ["monde"])
        assert (await c0.recv_type("item"))["id"] == r["id"]
        await c0.close()

        _, cursor = await first_session(d1, "monde/#", 3)
        receipts, items = publish_gap(d1, 6)
        c, sub = await resume_op(d2, ["monde/#"], cursor)
        assert sub["recovered"] is True, sub
        epoch = sub["epoch"]
        cursor = await check_missed_then_live(d1, c, receipts, items)
        await c.close()

        # and back on the first one, through the URL, with the epoch
        receipts, items = publish_gap(d2, 4, "encore")
        c, sub = await resume_url(d1, ["monde/#"], cursor, epoch=epoch)
        assert sub["recovered"] is True and sub["epoch"] == epoch, sub
        await check_missed_then_live(d2, c, receipts, items)
        await c.close()

    run(scenario())
