"""Recent items for first paint (proto/PROTOCOL.md, "Recent items"):
GET /v1/topics/<topic>/recent?limit=N on the public listener."""

import http.client
import json

from conftest import assert_ninjs, make_item
from resume_helpers import published


def get_recent(daemon, path):
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, body
    finally:
        conn.close()


def recent(daemon, topic, limit=None):
    path = f"/v1/topics/{topic}/recent" + (f"?limit={limit}" if limit is not None else "")
    status, headers, body = get_recent(daemon, path)
    assert status == 200, (path, status, body)
    assert headers.get("content-type", "").startswith("application/json")
    return json.loads(body)


def setup_stories(daemon):
    """Stories on monde/afrique (s), monde/europe (e) and sport (x), with a
    kill, a withhold and an update. Returns name -> (receipt, item)."""
    out = {}

    def pub(name, item, topics):
        out[name] = (published(daemon, item, topics), item)

    for i in range(1, 6):
        pub(f"s{i}", make_item(headline=f"afrique {i}", urgency=3 + i), ["monde/afrique"])
    pub("e1", make_item(headline="europe 1"), ["monde/europe"])
    pub("e2", make_item(headline="europe 2", urgency=1), ["monde/europe", "sport"])
    pub("x", make_item(headline="sport"), ["sport"])
    s2, s3, s4 = out["s2"][1], out["s3"][1], out["s4"][1]
    pub("kill2", dict(s2, version="2", pubstatus="canceled"), ["monde/afrique"])
    pub("hold3", dict(s3, version="2", pubstatus="withheld"), ["monde/afrique"])
    pub("s4v2", dict(s4, version="2", headlines=[{"role": "main", "value": "corrigé"}]),
        ["monde/afrique"])
    return out


def test_recent_items_of_a_topic_newest_first(daemon):
    s = setup_stories(daemon)
    body = recent(daemon, "monde/afrique", limit=10)
    assert body["topic"] == "monde/afrique"
    items = body["items"]
    assert [m["id"] for m in items] == [s["s4v2"][0]["id"], s["s5"][0]["id"], s["s1"][0]["id"]]
    first = items[0]
    assert first["type"] == "item"
    assert first["kind"] == "update"
    assert first["topics"] == ["monde/afrique"]
    assert first["urgency"] == 7
    assert first["item"] == s["s4v2"][1]
    for m in items:
        assert set(m) >= {"type", "id", "kind", "topics", "urgency", "item"}, m
        assert "cursor" not in m
        assert_ninjs(m["item"])
    assert items[1]["item"] == s["s5"][1] and items[1]["kind"] == "new"
    # the limit keeps the newest
    assert [m["id"] for m in recent(daemon, "monde/afrique", limit=2)["items"]] == [
        s["s4v2"][0]["id"], s["s5"][0]["id"]]
    assert [m["id"] for m in recent(daemon, "monde/afrique", limit=1)["items"]] == [
        s["s4v2"][0]["id"]]
    # an item on several topics
    items = recent(daemon, "sport")["items"]
    assert [m["id"] for m in items] == [s["x"][0]["id"], s["e2"][0]["id"]]
    assert items[1]["topics"] == ["monde/europe", "sport"] and items[1]["urgency"] == 1


def test_recent_items_of_a_pattern(daemon):
    s = setup_stories(daemon)
    want = [s[k][0]["id"] for k in ("s4v2", "e2", "e1", "s5", "s1")]
    body = recent(daemon, "monde/%23", limit=100)
    assert body["topic"] == "monde/#"
    assert [m["id"] for m in body["items"]] == want
    body = recent(daemon, "monde/%2B")
    assert body["topic"] == "monde/+"
    assert [m["id"] for m in body["items"]] == want
    assert [m["id"] for m in recent(daemon, "%23", limit=3)["items"]] == [
        s[k][0]["id"] for k in ("s4v2", "x", "e2")]
    assert [m["id"] for m in recent(daemon, "%2B/europe")["items"]] == [
        s[k][0]["id"] for k in ("e2", "e1")]


def test_default_limit_and_unknown_topic(start_daemon):
    d = start_daemon("--set", "recent_count=3")
    receipts = [published(d, make_item(), ["fil"]) for _ in range(5)]
    assert [m["id"] for m in recent(d, "fil")["items"]] == [r["id"] for r in receipts[::-1][:3]]
    assert recent(d, "inconnu")["items"] == []
    assert recent(d, "inconnu/%23")["items"] == []


def test_limit_out_of_bounds_is_400(daemon):
    published(daemon, make_item(), ["fil"])
    for limit in ("0", "101", "x", "", "-1", "5x", "1.5"):
        status, headers, body = get_recent(daemon, f"/v1/topics/fil/recent?limit={limit}")
        assert status == 400, (limit, status, body)
        assert headers.get("content-type", "").startswith("application/json")
        assert json.loads(body)["error"], body
    assert len(recent(daemon, "fil", limit=100)["items"]) == 1


def test_invalid_topic_is_400(daemon):
    for topic in ("Monde", "monde/%23/afrique", "monde/a%2B", "a%20b",
                  "/".join(["a"] * 9), "x" * 129):
        status, headers, body = get_recent(daemon, f"/v1/topics/{topic}/recent")
        assert status == 400, (topic, status, body)
        assert headers.get("content-type", "").startswith("application/json")
        assert json.loads(body)["error"], body


def test_path_is_normalised_before_the_topic_is_read(daemon):
    """libwebsockets normalises the request path (empty segments, "." and
    "..") before the daemon sees it, as PROTOCOL.md says: the answer names
    the topic actually read, so a client can tell."""
    r = published(daemon, make_item(), ["monde/afrique"])
    for topic in ("monde//afrique", "monde/./afrique", "x/../monde/afrique"):
        status, headers, body = get_recent(daemon, f"/v1/topics/{topic}/recent")
        assert status == 200, (topic, status, body)
        answer = json.loads(body)
        assert answer["topic"] == "monde/afrique", answer
        assert [m["id"] for m in answer["items"]] == [r["id"]], answer