"""Versions, duplicates, idempotency keys, updates, kills and withholds as a
subscriber sees them (proto/PROTOCOL.md, "POST /v1/articles", "DELETE
/v1/articles/<uri>")."""

import json
import time

from conftest import article_path, connect, in_thread, make_item, run, stream_id, wait_until
from resume_helpers import apublish, published
from test_embargo import rfc3339


async def subscriber(daemon, *patterns):
    c = await connect(daemon)
    await c.subscribe(*patterns)
    return c


def test_same_post_five_times_is_delivered_once(daemon):
    item = make_item(urgency=3)

    async def scenario():
        c = await subscriber(daemon, "sport")
        answers = [await in_thread(daemon.publish, json.dumps(item), ["sport"])
                   for _ in range(5)]
        assert [a.status for a in answers] == [202, 200, 200, 200, 200], answers
        first = answers[0].json()
        assert first["status"] == "published" and first["kind"] == "new"
        for a in answers[1:]:
            body = a.json()
            assert body["status"] == "duplicate", body
            assert body["id"] == first["id"]
            assert body["uri"] == item["uri"] and body["version"] == "1"
        # key order and whitespace do not make another version
        reordered = json.dumps(dict(reversed(list(item.items()))), indent=2)
        a = await in_thread(daemon.publish, reordered, ["sport"])
        assert a.status == 200 and a.json()["id"] == first["id"], a
        msg = await c.recv_type("item")
        assert msg["id"] == first["id"] and msg["item"] == item
        await c.expect_silence(0.5)
        await c.close()

    run(scenario())


def test_same_version_with_other_content_is_409(daemon):
    item = make_item()
    published(daemon, item, ["sport"])
    other = dict(item, headlines=[{"role": "main", "value": "autre texte"}])
    r = daemon.publish(other, ["sport"])
    assert r.status == 409, r
    assert r.json()["field"] == "version" and r.json()["error"]
    # the stored version is unchanged
    assert json.loads(daemon.api("GET", article_path(item["uri"])).body) == item


def test_lower_version_is_409(daemon):
    uri = "urn:newsml:test.example:version-basse"
    published(daemon, make_item(uri=uri, version="3"), ["sport"])
    for v in ("2", "1"):
        r = daemon.publish(make_item(uri=uri, version=v), ["sport"])
        assert r.status == 409, r
        assert r.json()["field"] == "version"
    assert json.loads(daemon.api("GET", article_path(uri)).body)["version"] == "3"


def test_idempotency_key_replays_the_first_answer(daemon):
    item = make_item()
    key = "publication-2026-11-27/0001"

    async def scenario():
        c = await subscriber(daemon, "sport")
        answers = [await in_thread(daemon.publish, item, ["sport"],
                                   headers={"Idempotency-Key": key}) for _ in range(3)]
        assert [a.status for a in answers] == [202, 202, 202], answers
        assert answers[0].json()["status"] == "published"
        assert answers[1].json() == answers[0].json() == answers[2].json()
        assert answers[0].headers.get("idempotent-replayed") is None
        assert answers[1].headers.get("idempotent-replayed") == "true"
        assert answers[2].headers.get("idempotent-replayed") == "true"
        msg = await c.recv_type("item")
        assert msg["id"] == answers[0].json()["id"]
        await c.expect_silence(0.5)

        # the same key with another request: 422, nothing stored or sent
        other = make_item()
        r = await in_thread(daemon.publish, other, ["sport"], headers={"Idempotency-Key": key})
        assert r.status == 422, r
        assert r.json()["field"] == "Idempotency-Key"
        # other topics are another request too
        r = await in_thread(daemon.publish, item, ["sport", "monde"],
                            headers={"Idempotency-Key": key})
        assert r.status == 422, r
        assert daemon.api("GET", article_path(other["uri"])).status == 404
        await c.expect_silence(0.3)
        await c.close()

    run(scenario())


def test_invalid_idempotency_key_is_400(daemon):
    for key in ("avec espace", "k" * 300, "tab\there", "é".encode().decode("latin-1")):
        item = make_item()
        r = daemon.publish(item, ["sport"], headers={"Idempotency-Key": key})
        assert r.status == 400, (key, r)
        body = r.json()
        assert body["error"] and body.get("field") == "Idempotency-Key", body
        assert daemon.api("GET", article_path(item["uri"])).status == 404
    # 255 visible characters are fine
    r = daemon.publish(make_item(), ["sport"], headers={"Idempotency-Key": "!" + "k" * 254})
    assert r.status == 202, r


def test_update_is_delivered_as_update(daemon):
    uri = "urn:newsml:test.example:mise-a-jour"
    v1 = make_item(uri=uri)
    v2 = make_item(uri=uri, version="2", headline="corrigé")

    async def scenario():
        c = await subscriber(daemon, "monde/#")
        r1 = await apublish(daemon, v1, ["monde/afrique"])
        r2 = await apublish(daemon, v2, ["monde/afrique"])
        assert (r1["kind"], r2["kind"]) == ("new", "update")
        m1, m2 = await c.recv_type("item"), await c.recv_type("item")
        assert (m1["id"], m1["kind"]) == (r1["id"], "new")
        assert (m2["id"], m2["kind"], m2["item"]) == (r2["id"], "update", v2)
        assert stream_id(m2["id"]) > stream_id(m1["id"])
        await c.close()

    run(scenario())


def test_kill_reaches_every_topic_the_story_was_published_on(daemon):
    uri = "urn:newsml:test.example:tue-partout"
    v1 = make_item(uri=uri)
    v2 = make_item(uri=uri, version="2", headline="v2")
    kill = make_item(uri=uri, version="3", headline="annulé", pubstatus="canceled")

    async def scenario():
        only_b = await subscriber(daemon, "b")
        only_a = await subscriber(daemon, "a")
        r1 = await apublish(daemon, v1, ["a"])
        r2 = await apublish(daemon, v2, ["b"])
        assert (await only_a.recv_type("item"))["id"] == r1["id"]
        m = await only_b.recv_type("item")
        assert m["id"] == r2["id"] and m["kind"] == "update"
        rk = await apublish(daemon, kill, ["a"])  # the kill names a only
        assert rk["kind"] == "kill" and rk["version"] == "3"
        for c, topic in ((only_b, "b"), (only_a, "a")):
            m = await c.recv_type("item")
            assert m["id"] == rk["id"], m
            assert m["kind"] == "kill"
            assert m["topics"] == [topic]
            assert m["item"] == kill
            await c.expect_silence(0.2)
            await c.close()

    run(scenario())


def test_withheld_is_delivered_as_withhold(daemon):
    uri = "urn:newsml:test.example:retenu"

    async def scenario():
        c = await subscriber(daemon, "x")
        only_y = await subscriber(daemon, "y")
        r1 = await apublish(daemon, make_item(uri=uri), ["x", "y"])
        w = make_item(uri=uri, version="2", pubstatus="withheld")
        rw = await apublish(daemon, w, ["x"])
        assert rw["kind"] == "withhold"
        for client in (c, only_y):
            assert (await client.recv_type("item"))["id"] == r1["id"]
            m = await client.recv_type("item")
            assert (m["id"], m["kind"], m["item"]) == (rw["id"], "withhold", w)
            await client.close()

    run(scenario())


def test_delete_kills_the_story(daemon):
    uri = "urn:newsml:test.example:a-supprimer/%C3%A9?x=1#f"
    v1 = make_item(uri=uri, urgency=2)
    v2 = make_item(uri=uri, version="7", headline="v7", urgency=2)

    async def scenario():
        c = await subscriber(daemon, "monde/#")
        sport = await subscriber(daemon, "sport")
        await apublish(daemon, v1, ["monde/europe"])
        await apublish(daemon, v2, ["sport"])
        assert (await c.recv_type("item"))["item"] == v1
        r = await in_thread(daemon.api, "DELETE", article_path(uri))
        assert r.status == 202, r
        receipt = r.json()
        assert receipt["status"] == "published" and receipt["kind"] == "kill", receipt
        assert receipt["version"] == "8" and receipt["uri"] == uri
        for client, topics in ((c, ["monde/europe"]), (sport, ["sport"])):
            msgs = []
            while True:
                m = await client.recv_type("item")
                msgs.append(m)
                if m["id"] == receipt["id"]:
                    break
            m = msgs[-1]
            assert m["kind"] == "kill" and m["topics"] == topics, m
            assert m["item"]["version"] == "8"
            assert m["item"]["pubstatus"] == "canceled"
            assert m["item"]["headlines"] == v2["headlines"]
            await client.close()
        got = daemon.api("GET", article_path(uri))
        assert got.status == 200
        stored = json.loads(got.body)
        assert stored["pubstatus"] == "canceled" and stored["version"] == "8"
        # killing it again is a new kill version
        r = daemon.api("DELETE", article_path(uri))
        assert r.status == 202 and r.json()["version"] == "9", r

    run(scenario())


def test_delete_unknown_is_404(daemon):
    r = daemon.api("DELETE", article_path("urn:newsml:test.example:inconnu"))
    assert r.status == 404, r
    assert r.json()["error"]


def test_get_after_kill_shows_canceled(daemon):
    uri = "urn:newsml:test.example:get-apres-kill"
    published(daemon, make_item(uri=uri), ["sport"])
    kill = make_item(uri=uri, version="2", pubstatus="canceled")
    published(daemon, kill, ["sport"])
    r = daemon.api("GET", article_path(uri))
    assert r.status == 200
    assert json.loads(r.body) == kill


def test_item_ttl_expires_the_story_record(start_daemon, redis_server):
    """item_ttl: the story's record lives that long after its last version
    (published or released from an embargo); then the story is unknown: GET
    answers 404 and the same version is accepted again as new. The default
    (0) keeps it for ever."""
    r = redis_server.client()
    d = start_daemon("--set", "item_ttl=2s")
    uri = "urn:newsml:test.example:ephemere"
    key = d.prefix + "item:" + uri
    published(d, make_item(uri=uri), ["sport"])
    assert 0 < r.ttl(key) <= 2
    published(d, make_item(uri=uri, version="2", headline="v2"), ["sport"])
    assert 0 < r.ttl(key) <= 2
    wait_until(lambda: d.api("GET", article_path(uri)).status == 404, what="the record to expire")
    again = published(d, make_item(uri=uri), ["sport"])
    assert again["kind"] == "new", again

    held_uri = "urn:newsml:test.example:ephemere-sous-embargo"
    r2 = d.publish(make_item(uri=held_uri, embargoed=rfc3339(time.time() + 1.0)), ["sport"])
    assert r2.status == 202 and r2.json()["status"] == "embargoed", r2
    wait_until(lambda: r.exists(d.prefix + "item:" + held_uri), what="the embargo release")
    assert 0 < r.ttl(d.prefix + "item:" + held_uri) <= 2

    forever = start_daemon()
    uri = "urn:newsml:test.example:pour-toujours"
    published(forever, make_item(uri=uri), ["sport"])
    assert r.ttl(forever.prefix + "item:" + uri) == -1
