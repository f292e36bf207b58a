"""Ingest API: POST /v1/articles, GET /v1/articles/<uri>, health endpoints,
and every HTTP-level error with its JSON body (proto/PROTOCOL.md, "Ingest
API"). Every refused request must leave Redis untouched."""

import asyncio
import json
import re
import urllib.parse

import msgpack
import pytest

from conftest import (article_path, assert_ninjs, connect, load_item, make_item, redis_state,
                      raw_http, run, stream_id, wire_len)

RECEIPT_KEYS = {"id", "uri", "version", "kind"}
ID_RE = re.compile(r"^\d+-\d+$")


def assert_receipt(r, item, status=202, kind="new"):
    assert r.status == status, r
    assert r.headers["content-type"].startswith("application/json"), r.headers
    receipt = r.json()
    assert RECEIPT_KEYS <= set(receipt), receipt
    assert receipt["uri"] == item["uri"]
    assert receipt["version"] == item["version"]
    assert receipt["kind"] == kind
    assert ID_RE.match(receipt["id"]), receipt
    return receipt


def core(receipt):
    """The documented receipt fields (the receipt may carry more)."""
    return {k: receipt.get(k) for k in RECEIPT_KEYS}


def assert_error(r, status, field=None):
    """An error response: the status, a JSON body {"error": "...", "field": ...}."""
    assert r.status == status, r
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert set(body) <= {"error", "field"}, body
    if field is not None:
        assert body.get("field") == field, body
    return body


def assert_stored(rc, daemon, item, receipt, topics, kind="new"):
    """The item hash, the wire entry and each topic index entry."""
    p = daemon.prefix
    h = rc.hgetall(f"{p}item:{item['uri']}")
    assert h, f"no {p}item:{item['uri']} hash"
    assert h["uri"] == item["uri"]
    assert h["version"] == item["version"]
    assert json.loads(h["item"]) == item
    assert h["id"] == receipt["id"]
    assert h["kind"] == kind
    assert set(h["topics"].split(",")) >= set(topics)
    assert h["urgency"] == str(item.get("urgency", 5))
    assert h["pubstatus"] == item.get("pubstatus", "usable")

    entries = rc.xrange(f"{p}wire", receipt["id"], receipt["id"])
    assert len(entries) == 1, entries
    _, fields = entries[0]
    assert fields["kind"] == kind
    assert fields["uri"] == item["uri"]
    assert fields["version"] == item["version"]
    assert fields["urgency"] == str(item.get("urgency", 5))
    assert fields["topics"].split(",") == list(topics)
    assert json.loads(fields["item"]) == item
    assert fields["item"] == h["item"]

    for t in topics:
        tentries = rc.xrange(f"{p}topic:{t}")
        assert [f["id"] for _, f in tentries].count(receipt["id"]) == 1, (t, tentries)
        match = [f for _, f in tentries if f["id"] == receipt["id"]][0]
        assert match["uri"] == item["uri"] and match["version"] == item["version"]


# --- accepted publishes -------------------------------------------------------


@pytest.mark.parametrize("via", ["query", "header"])
def test_post_returns_receipt_and_stores_item(daemon, redis_server, via):
    rc = redis_server.client()
    item = make_item(urgency=3)
    topics = ["monde/afrique", "diplomatie"]
    r = daemon.publish(item, topics, via=via)
    receipt = assert_receipt(r, item)
    assert_stored(rc, daemon, item, receipt, topics)
    assert wire_len(rc, daemon) == 1


def test_header_topics_with_blanks(daemon, redis_server):
    rc = redis_server.client()
    item = make_item()
    r = daemon.publish(item, " monde/afrique ,  diplomatie ", via="header")
    receipt = assert_receipt(r, item)
    assert_stored(rc, daemon, item, receipt, ["monde/afrique", "diplomatie"])


def test_msgpack_body_accepted_identically(daemon, redis_server):
    rc = redis_server.client()
    item = load_item("article_v1.json")
    item["uri"] = make_item()["uri"]
    r = daemon.publish(item, ["monde/afrique"], fmt="msgpack")
    receipt = assert_receipt(r, item)
    assert_stored(rc, daemon, item, receipt, ["monde/afrique"])
    # The same content sent as JSON is the same item: an idempotent replay.
    again = daemon.publish(item, ["monde/afrique"], fmt="json")
    assert again.status == 200, again
    assert core(again.json()) == core(receipt)
    assert wire_len(rc, daemon) == 1


@pytest.mark.parametrize("ctype", ["application/x-msgpack", "application/vnd.msgpack",
                                   "application/msgpack; charset=binary"])
def test_msgpack_content_type_aliases(daemon, ctype):
    item = make_item()
    r = daemon.publish(item, ["sport"], fmt="msgpack", headers={"Content-Type": ctype})
    assert_receipt(r, item)


def test_json_content_type_with_parameters(daemon):
    item = make_item()
    r = daemon.publish(item, ["sport"], headers={"Content-Type": "Application/JSON; charset=utf-8"})
    assert_receipt(r, item)


def test_chunked_body_accepted(daemon, redis_server):
    item = make_item()
    body = json.dumps(item).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 50]), body[i:i + 50])
                      for i in range(0, len(body), 50))
    req = (b"POST /v1/articles?topics=sport HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n" + chunks + b"0\r\n\r\n")
    r = raw_http(daemon.api_port, req)
    assert r.status == 202, r
    assert r.json()["uri"] == item["uri"]
    assert wire_len(redis_server.client(), daemon) == 1


def test_get_article_returns_stored_item(daemon):
    item = load_item("article_v1.json")
    assert_receipt(daemon.publish(item, ["monde/afrique"]), item)
    r = daemon.api("GET", article_path(item["uri"]))
    assert r.status == 200, r
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == item
    assert_ninjs(r.json())


def test_get_article_returns_latest_version(daemon):
    v1 = make_item(headline="première")
    v2 = dict(v1, version="2", headlines=[{"role": "main", "value": "seconde"}])
    assert_receipt(daemon.publish(v1, ["sport"]), v1)
    assert_receipt(daemon.publish(v2, ["sport"]), v2, kind="update")
    r = daemon.api("GET", article_path(v1["uri"]))
    assert r.status == 200, r
    assert r.json() == v2


def test_get_unknown_article_is_404(daemon):
    r = daemon.api("GET", article_path("urn:newsml:test.example:does-not-exist"))
    assert_error(r, 404, field="uri")


def test_same_version_same_content_is_idempotent(daemon, redis_server):
    rc = redis_server.client()
    item = make_item(urgency=1)

    async def scenario():
        c = await connect(daemon, topics="alertes")
        await c.recv_type("subscribed")
        first = daemon.publish(item, ["alertes"])
        receipt = assert_receipt(first, item)
        msg = await c.recv_type("item")
        assert msg["id"] == receipt["id"]
        # Key order and whitespace do not make a different item.
        shuffled = json.dumps(dict(reversed(list(item.items()))), indent=3)
        for body in (item, shuffled):
            again = daemon.publish(body, ["alertes"])
            assert again.status == 200, again
            assert core(again.json()) == core(receipt)
        assert wire_len(rc, daemon) == 1
        assert len(rc.xrange(f"{daemon.prefix}topic:alertes")) == 1
        await c.expect_silence(0.5)  # the retry never sends the alert twice
        await c.close()

    run(scenario())


def test_same_version_different_content_is_409(daemon, redis_server):
    rc = redis_server.client()
    item = make_item(headline="original")
    receipt = assert_receipt(daemon.publish(item, ["sport"]), item)
    changed = dict(item, headlines=[{"role": "main", "value": "modifié"}])
    r = daemon.publish(changed, ["sport"])
    assert_error(r, 409, field="version")
    assert wire_len(rc, daemon) == 1
    h = rc.hgetall(f"{daemon.prefix}item:{item['uri']}")
    assert json.loads(h["item"]) == item and h["id"] == receipt["id"]


def test_lower_version_is_409(daemon, redis_server):
    rc = redis_server.client()
    v3 = make_item(version="3")
    v2 = dict(v3, version="2")
    receipt = assert_receipt(daemon.publish(v3, ["sport"]), v3)
    assert_error(daemon.publish(v2, ["sport"]), 409, field="version")
    assert wire_len(rc, daemon) == 1
    h = rc.hgetall(f"{daemon.prefix}item:{v3['uri']}")
    assert h["version"] == "3" and h["id"] == receipt["id"]


def test_higher_version_is_an_update(daemon, redis_server):
    rc = redis_server.client()
    v1 = make_item()
    v2 = dict(v1, version="2", versioncreated="2026-11-27T10:00:00Z")
    r1 = assert_receipt(daemon.publish(v1, ["sport"]), v1)
    r2 = assert_receipt(daemon.publish(v2, ["sport", "sport/foot"]), v2, kind="update")
    assert stream_id(r2["id"]) > stream_id(r1["id"])
    assert_stored(rc, daemon, v2, r2, ["sport", "sport/foot"], kind="update")
    assert wire_len(rc, daemon) == 2


# --- refused publishes: 400 ---------------------------------------------------


def _without(key):
    item = make_item()
    del item[key]
    return item


# (id, body or callable -> body, expected field)
INVALID_ITEMS = [
    ("not-an-object-array", "[1, 2]", ""),
    ("not-an-object-string", '"texte"', ""),
    ("not-an-object-number", "42", ""),
    *[(f"missing-{k}", (lambda k=k: _without(k)), k)
      for k in ("uri", "version", "versioncreated", "type", "language", "headlines")],
    ("uri-not-string", lambda: make_item(uri=12), "uri"),
    ("uri-not-absolute", lambda: make_item(uri="pas une uri"), "uri"),
    ("version-number", lambda: make_item(version=1), "version"),
    ("version-leading-zero", lambda: make_item(version="01"), "version"),
    ("version-zero", lambda: make_item(version="0"), "version"),
    ("versioncreated-not-date", lambda: make_item(versioncreated="hier"), "versioncreated"),
    ("type-number", lambda: make_item(type=1), "type"),
    ("language-number", lambda: make_item(language=12), "language"),
    ("headlines-string", lambda: make_item(headlines="titre"), "headlines"),
    ("headlines-empty", lambda: make_item(headlines=[]), "headlines"),
    ("headline-value-number", lambda: make_item(headlines=[{"value": 5}]), "headlines[0].value"),
    ("headline-value-empty", lambda: make_item(headlines=[{"value": ""}]), "headlines[0].value"),
    ("urgency-0", lambda: make_item(urgency=0), "urgency"),
    ("urgency-10", lambda: make_item(urgency=10), "urgency"),
    ("urgency-1.5", lambda: make_item(urgency=1.5), "urgency"),
    ("urgency-1.0", lambda: make_item(urgency=1.0), "urgency"),
    ("urgency-string", lambda: make_item(urgency="1"), "urgency"),
    ("type-enum", lambda: make_item(type="article"), "type"),
    ("pubstatus-enum", lambda: make_item(pubstatus="deleted"), "pubstatus"),
    ("unknown-property", lambda: make_item(couleur="rouge"), "couleur"),
    ("unknown-nested-property",
     lambda: make_item(headlines=[{"value": "x", "couleur": "rouge"}]), "headlines[0].couleur"),
    ("bodies-not-array", lambda: make_item(bodies={"value": "x"}), "bodies"),
]


@pytest.mark.parametrize("body,field", [(b, f) for _, b, f in INVALID_ITEMS],
                         ids=[i for i, _, _ in INVALID_ITEMS])
def test_invalid_item_is_400(daemon, redis_server, body, field):
    rc = redis_server.client()
    base = make_item()
    assert_receipt(daemon.publish(base, ["sport"]), base)
    before = redis_state(redis_server, daemon)
    body = body() if callable(body) else body
    r = daemon.publish(body, ["sport"])
    assert_error(r, 400, field=field)
    assert wire_len(rc, daemon) == 1
    assert redis_state(redis_server, daemon) == before


def test_malformed_json_names_line_and_column(daemon, redis_server):
    before = redis_state(redis_server, daemon)
    body = '{\n  "uri": "urn:x:1",\n  "version": ,\n  "type": "text"\n}'
    r = daemon.publish(body, ["sport"])
    err = assert_error(r, 400)
    assert re.search(r"line 3\b.*column \d+", err["error"]), err
    assert err.get("field", "") == "", err
    assert redis_state(redis_server, daemon) == before


@pytest.mark.parametrize("body", [b"", b"   "], ids=["empty", "blank"])
def test_empty_body_is_400(daemon, redis_server, body):
    before = redis_state(redis_server, daemon)
    r = daemon.publish(body, ["sport"])
    assert_error(r, 400)
    assert redis_state(redis_server, daemon) == before


def test_duplicate_json_keys_are_400(daemon, redis_server):
    before = redis_state(redis_server, daemon)
    item = make_item()
    text = json.dumps(item)[:-1] + ', "type": "video"}'
    assert_error(daemon.publish(text, ["sport"]), 400)
    assert redis_state(redis_server, daemon) == before


INVALID_TOPICS = [
    ("upper-case", "Monde"),
    ("empty-segment", "a//b"),
    ("leading-slash", "/monde"),
    ("trailing-slash", "monde/"),
    ("nine-segments", "a/b/c/d/e/f/g/h/i"),
    ("too-long", "a" * 129),
    ("wildcard-plus", "a/+"),
    ("wildcard-hash", "monde/#"),
    ("space-inside", "mon de"),
    ("accent", "économie"),
    ("empty-entry", "monde,,sport"),
    ("duplicate", "monde,monde"),
    ("thirty-three", ",".join(f"t{i}" for i in range(33))),
]


@pytest.mark.parametrize("via", ["query", "header"])
@pytest.mark.parametrize("topics", [t for _, t in INVALID_TOPICS],
                         ids=[i for i, _ in INVALID_TOPICS])
def test_invalid_topics_are_400(daemon, redis_server, topics, via):
    rc = redis_server.client()
    base = make_item()
    assert_receipt(daemon.publish(base, ["sport"]), base)
    before = redis_state(redis_server, daemon)
    r = daemon.publish(make_item(), topics, via=via)
    assert_error(r, 400, field="topics")
    assert wire_len(rc, daemon) == 1
    assert redis_state(redis_server, daemon) == before


def test_eight_segments_and_thirty_two_topics_are_accepted(daemon, redis_server):
    item = make_item()
    topics = ["a/b/c/d/e/f/g/h"] + [f"t{i}" for i in range(31)]
    receipt = assert_receipt(daemon.publish(item, topics), item)
    assert_stored(redis_server.client(), daemon, item, receipt, topics)


def test_missing_topics_is_400(daemon, redis_server):
    before = redis_state(redis_server, daemon)
    item = make_item()
    r = daemon.api("POST", "/v1/articles", body=json.dumps(item),
                   headers={"Content-Type": "application/json"})
    assert_error(r, 400, field="topics")
    assert redis_state(redis_server, daemon) == before


def test_topics_in_query_and_header_is_400(daemon, redis_server):
    before = redis_state(redis_server, daemon)
    item = make_item()
    r = daemon.api("POST", "/v1/articles?topics=sport", body=json.dumps(item),
                   headers={"Content-Type": "application/json", "Newswire-Topics": "sport"})
    assert_error(r, 400, field="topics")
    assert redis_state(redis_server, daemon) == before


def test_invalid_utf8_in_msgpack_string_is_400(daemon, redis_server):
    before = redis_state(redis_server, daemon)
    item = make_item(headline="PLACEHOLDER")
    packed = msgpack.packb(item)
    assert packed.count(b"PLACEHOLDER") == 1
    bad = packed.replace(b"PLACEHOLDER", b"\xff\xfe\xc3(PLACEH")
    r = daemon.publish(bad, ["sport"], fmt="msgpack")
    assert_error(r, 400, field="headlines[0].value")
    assert redis_state(redis_server, daemon) == before


def test_invalid_msgpack_is_400(daemon, redis_server):
    before = redis_state(redis_server, daemon)
    packed = msgpack.packb(make_item())
    for bad in (packed[:-3], packed + b"\x01", b"\xc1", msgpack.packb([1, 2])):
        assert_error(daemon.publish(bad, ["sport"], fmt="msgpack"), 400)
    assert redis_state(redis_server, daemon) == before


# --- refused requests: HTTP level ---------------------------------------------


@pytest.mark.parametrize("method,path", [("GET", "/v1/nothing"), ("POST", "/v1/article"),
                                         ("GET", "/"), ("GET", "/healthz/extra")])
def test_unknown_path_is_404(daemon, method, path):
    assert_error(daemon.api(method, path), 404)


@pytest.mark.parametrize("method,path,allowed", [
    ("GET", "/v1/articles", {"POST"}),
    ("PUT", "/v1/articles", {"POST"}),
    ("PUT", "/v1/articles/urn%3Ax%3A1", {"GET", "HEAD"}),
    ("POST", "/v1/articles/urn%3Ax%3A1", {"GET", "HEAD"}),
    ("PATCH", "/v1/articles/urn%3Ax%3A1", {"GET", "HEAD"}),
    ("DELETE", "/healthz", {"GET", "HEAD"}),
    ("POST", "/readyz", {"GET", "HEAD"}),
    ("PUT", "/metrics", {"GET", "HEAD"}),
])
def test_wrong_method_is_405_with_allow(daemon, redis_server, method, path, allowed):
    before = redis_state(redis_server, daemon)
    r = daemon.api(method, path, body=b"{}" if method in ("POST", "PUT", "PATCH") else None,
                   headers={"Content-Type": "application/json"})
    assert_error(r, 405)
    assert "allow" in r.headers, r.headers
    allow = {m.strip() for m in r.headers["allow"].split(",")}
    assert allowed <= allow and method not in allow, allow
    assert redis_state(redis_server, daemon) == before


def test_post_without_content_length_is_411(daemon, redis_server):
    before = redis_state(redis_server, daemon)
    req = (b"POST /v1/articles?topics=sport HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\nConnection: close\r\n\r\n")
    r = raw_http(daemon.api_port, req)
    assert_error(r, 411, field="Content-Length")
    assert redis_state(redis_server, daemon) == before


def test_declared_body_over_1mib_is_413(daemon, redis_server):
    before = redis_state(redis_server, daemon)
    # Decided from Content-Length, before any body byte is sent.
    req = (b"POST /v1/articles?topics=sport HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (1024 * 1024 + 1))
    r = raw_http(daemon.api_port, req)
    assert_error(r, 413)
    assert redis_state(redis_server, daemon) == before


def test_json_body_over_1mib_is_413(daemon, redis_server):
    before = redis_state(redis_server, daemon)
    item = make_item(bodies=[{"role": "main", "value": "x" * (500 * 1024)},
                             {"role": "other", "value": "y" * (500 * 1024)},
                             {"role": "more", "value": "z" * (100 * 1024)}])
    body = json.dumps(item).encode()
    assert len(body) > 1024 * 1024
    try:
        r = daemon.publish(body, ["sport"])
    except (BrokenPipeError, ConnectionResetError):
        pytest.fail("the server must answer 413 with a JSON body, not reset the connection")
    assert_error(r, 413)
    assert redis_state(redis_server, daemon) == before
    # The daemon is still serving.
    ok = make_item()
    assert_receipt(daemon.publish(ok, ["sport"]), ok)


def test_chunked_body_over_1mib_is_413(daemon, redis_server):
    before = redis_state(redis_server, daemon)
    chunk = b"x" * 65536
    req = (b"POST /v1/articles?topics=sport HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
           + (b"10000\r\n" + chunk + b"\r\n") * 17 + b"0\r\n\r\n")
    r = raw_http(daemon.api_port, req)
    assert_error(r, 413)
    assert redis_state(redis_server, daemon) == before


def test_body_just_under_1mib_is_accepted(daemon):
    item = make_item(bodies=[{"role": "main", "value": "a" * (500 * 1024)},
                             {"role": "other", "value": "b" * (500 * 1024)}])
    body = json.dumps(item).encode()
    assert 1000 * 1024 < len(body) <= 1024 * 1024
    assert_receipt(daemon.publish(body, ["sport"]), item)


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "multipart/form-data",
                                   "application/jsonx", None])
def test_unsupported_content_type_is_415(daemon, redis_server, ctype):
    before = redis_state(redis_server, daemon)
    item = make_item()
    headers = {"Content-Type": ctype} if ctype else {}
    r = daemon.api("POST", "/v1/articles?topics=sport", body=json.dumps(item).encode(),
                   headers=headers)
    assert_error(r, 415, field="Content-Type")
    assert redis_state(redis_server, daemon) == before


def test_errors_are_counted_in_metrics(daemon):
    item = make_item()
    assert_receipt(daemon.publish(item, ["sport"]), item)
    assert daemon.publish(item, ["sport"]).status == 200
    assert daemon.publish(make_item(urgency=0), ["sport"]).status == 400
    assert daemon.publish(dict(item, ednote="autre"), ["sport"]).status == 409
    assert daemon.api("POST", "/v1/articles?topics=sport", body=b"{}",
                      headers={"Content-Type": "text/plain"}).status == 415
    m = daemon.metrics()
    assert m['newswire_ingest_items_total{result="accepted"}'] == 1
    assert m['newswire_ingest_items_total{result="duplicate"}'] == 1
    assert m['newswire_ingest_items_total{result="invalid"}'] == 1
    assert m['newswire_ingest_items_total{result="conflict"}'] == 1
    assert m['newswire_ingest_items_total{result="unsupported_media_type"}'] == 1


# --- health -------------------------------------------------------------------


def test_healthz_and_readyz(daemon):
    r = daemon.api("GET", "/healthz")
    assert r.status == 200 and r.json() == {"status": "ok"}, r
    r = daemon.api("GET", "/readyz")
    assert r.status == 200, r
    assert r.json() == {"status": "ready", "redis": True, "wire": True}
    r = daemon.api("HEAD", "/healthz")
    assert r.status == 200 and r.body == b""
    r = daemon.api("GET", "/metrics")
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "newswire_ingest_items_total" in r.body.decode()


# --- every emitted item is valid ninjs 2.2 --------------------------------------


def test_sample_items_emitted_are_valid_ninjs(daemon):
    v1 = load_item("article_v1.json")
    v2 = load_item("article_v2_correction.json")
    v3 = load_item("article_v3_kill.json")
    for it in (v1, v2, v3):
        assert_ninjs(it)  # the samples themselves

    async def scenario():
        cj = await connect(daemon, topics="monde/#")
        await cj.recv_type("subscribed")
        cm = await connect(daemon, fmt="msgpack", topics="monde/afrique")
        await cm.recv_type("subscribed")
        for item, kind in ((v1, "new"), (v2, "update"), (v3, "kill")):
            receipt = assert_receipt(daemon.publish(item, ["monde/afrique", "diplomatie"]), item,
                                     kind=kind)
            for c in (cj, cm):
                msg = await c.recv_type("item")
                assert msg["id"] == receipt["id"]
                assert msg["kind"] == kind
                assert msg["topics"] == ["monde/afrique"]
                assert msg["urgency"] == item["urgency"]
                assert msg["item"] == item
                assert_ninjs(msg["item"])
        await cj.expect_silence(0.2)
        await cm.expect_silence(0.2)
        await cj.close()
        await cm.close()

    run(scenario())
    r = daemon.api("GET", article_path(v1["uri"]))
    assert r.status == 200 and r.json() == v3
    assert_ninjs(r.json())


def test_embargoed_sample_is_accepted(daemon):
    item = load_item("article_embargoed.json")
    assert_ninjs(item)

    async def scenario():
        c = await connect(daemon, topics="monde/afrique")
        await c.recv_type("subscribed")
        r = daemon.publish(item, ["monde/afrique"])
        assert r.status == 202, r
        receipt = r.json()
        assert receipt["uri"] == item["uri"] and receipt["version"] == item["version"]
        # Whether the item is held until its embargo or sent at once, what
        # this server emits for it must be valid ninjs.
        try:
            msg = await c.recv(timeout=0.5)
        except asyncio.TimeoutError:
            msg = None
        if msg is not None:
            assert msg["type"] == "item", msg
            assert msg["item"] == item
            assert_ninjs(msg["item"])
        await c.close()

    run(scenario())


def test_items_built_from_every_optional_property_are_valid_ninjs(daemon):
    item = make_item(
        urgency=4, pubstatus="usable", representationtype="full", profile="p",
        firstcreated="2026-11-27T08:00:00+01:00", contentcreated="2026-11-27T07:59:00Z",
        embargoed="2026-11-27T09:00:00Z", expires="2026-12-27T09:00:00Z",
        copyrightholder="X", copyrightnotice="© X", usageterms="u", ednote="n",
        title="t", by="b", slugline="s", located="l",
        descriptions=[{"role": "summary", "value": "d"}],
        bodies=[{"role": "main", "contenttype": "text/plain", "value": "b", "charcount": 1,
                 "wordcount": 1}],
        people=[{"name": "p", "rel": "about", "uri": "http://e.example/p", "literal": "p",
                 "contactinfo": [{"type": "email", "value": "p@e.example"}]}],
        organisations=[{"name": "o", "symbols": [{"ticker": "T", "exchange": "X"}]}],
        places=[{"name": "pl", "geojson": {"type": "Point", "coordinates": [1.0, 2.0]}}],
        subjects=[{"name": "s", "relevance": 50, "confidence": 100}],
        events=[{"name": "e"}], objects=[{"name": "o"}], infosources=[{"name": "i"}],
        renditions=[{"name": "web", "href": "https://e.example/", "width": 10}],
        associations=[{"name": "a", "uri": "urn:x:a", "type": "picture",
                       "headlines": [{"value": "a"}]}],
        altids=[{"role": "r", "value": "v"}],
        trustindicators=[{"role": "https://e.example/r", "title": "t",
                          "href": "https://e.example/"}],
        standard={"name": "ninjs", "version": "2.2",
                  "schema": "http://www.iptc.org/std/ninjs/ninjs-schema_2.2.json"},
        genres=[{"name": "g"}],
        rightsinfo={"linkedrights": "https://e.example/rights"},
        digitalsourcetype={"name": "d", "uri": "http://cv.iptc.org/newscodes/digitalsourcetype/x"},
    )

    async def scenario():
        c = await connect(daemon, topics="sport")
        await c.recv_type("subscribed")
        assert_receipt(daemon.publish(item, ["sport"]), item)
        msg = await c.recv_type("item")
        assert msg["item"] == item
        assert_ninjs(msg["item"])
        await c.close()

    run(scenario())


def test_uri_with_reserved_characters_round_trips(daemon):
    uri = "https://exemple.example/monde/article?id=42&lang=fr#p2"
    item = make_item(uri=uri)
    assert_receipt(daemon.publish(item, ["sport"]), item)
    r = daemon.api("GET", "/v1/articles/" + urllib.parse.quote(uri, safe=""))
    assert r.status == 200, r
    assert r.json() == item


WRONG_TYPE_KEYS = ["wire", "wire-held", "topic", "item", "held", "embargo", "embargo-new-hold", "idem"]


@pytest.mark.parametrize("key", WRONG_TYPE_KEYS)
def test_key_of_another_type_refuses_with_nothing_written(daemon, redis_server, key):
    """A key of the wrong type (an operator's mistake) fails the publish with
    503 and leaves every key as it was: proto/publish.lua learns each key's
    type (HMGET, TYPE, or the wire's XADD as the first write) before it
    writes anything."""
    import datetime
    import time

    rc = redis_server.client()
    p = daemon.prefix
    uri = "urn:newswire:test:wrongtype"
    headers = None
    item = make_item(uri=uri, version="2")
    if key in ("held", "embargo", "wire-held"):
        # a held version 1: version 2 replaces the hold (DEL held, ZREM)
        at = datetime.datetime.fromtimestamp(time.time() + 3600, datetime.timezone.utc)
        v1 = make_item(uri=uri, version="1", embargoed=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        r = daemon.publish(v1, ["sport"])
        assert r.status == 202 and r.json()["status"] == "embargoed", r
    if key == "embargo-new-hold":
        at = datetime.datetime.fromtimestamp(time.time() + 3600, datetime.timezone.utc)
        item = make_item(uri=uri, version="2", embargoed=at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    if key == "idem":
        headers = {"Idempotency-Key": "wrongtype-1"}
    target = {"wire": f"{p}wire", "wire-held": f"{p}wire", "topic": f"{p}topic:sport", "item": f"{p}item:{uri}",
              "held": f"{p}held:{uri}", "embargo": f"{p}embargo",
              "embargo-new-hold": f"{p}embargo", "idem": f"{p}idem:wrongtype-1"}[key]
    rc.delete(target)
    rc.set(target, "not what newswired wrote")
    before = redis_state(redis_server, daemon)
    r = daemon.publish(item, ["sport"], headers=headers)
    assert_error(r, 503)
    assert redis_state(redis_server, daemon) == before
    assert rc.get(target) == "not what newswired wrote"
    # the script refused (not a readiness check before it)
    assert re.search(r"publish script failed.*WRONGTYPE", daemon.log()), daemon.log()[-2000:]


def read_all_responses(sock, timeout=10.0):
    """Reads until the server closes, then splits the bytes into responses
    (status, headers, body) by Content-Length."""
    import socket as socketlib

    sock.settimeout(timeout)
    buf = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socketlib.timeout:
            raise AssertionError(f"server did not close; read so far: {buf!r}")
        if not chunk:
            break
        buf += chunk
    out = []
    while buf:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        assert sep, f"truncated response head: {buf!r}"
        lines = head.decode("iso-8859-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:])}
        n = int(headers.get("content-length", "0"))
        assert len(rest) >= n, f"truncated body: {rest!r}"
        out.append((status, headers, rest[:n]))
        buf = rest[n:]
    return out


def post_bytes(item, topics="sport"):
    body = json.dumps(item).encode()
    return (f"POST /v1/articles?topics={topics} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


@pytest.mark.parametrize("half_close", [False, True], ids=["close-request", "half-close"])
def test_pipelined_requests_answered_in_order(daemon, redis_server, half_close):
    """Three requests in one write, the last asking to close (or the client
    shutting down its side instead): three answers in order, each publish
    stored, then the server closes."""
    import socket

    items = [make_item(headline=f"pipelined {i}") for i in range(3)]
    data = b"".join(post_bytes(it) for it in items[:2])
    last = post_bytes(items[2])
    if not half_close:
        last = last.replace(b"Host: x\r\n", b"Host: x\r\nConnection: close\r\n")
    with socket.create_connection(("127.0.0.1", daemon.api_port), timeout=10) as s:
        s.sendall(data + last)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        got = read_all_responses(s)
    assert [st for st, _, _ in got] == [202, 202, 202], got
    assert [json.loads(b)["uri"] for _, _, b in got] == [it["uri"] for it in items]
    assert wire_len(redis_server.client(), daemon) == 3


def test_request_then_half_close_gets_its_answer(daemon, redis_server):
    """A client that sends its request and shuts down its side at once (curl
    --no-keepalive style tools, nc -q) still gets the whole answer: the EOF is
    noticed while the publish is with Redis, and the connection closes only
    after the answer."""
    import socket

    item = make_item()
    with socket.create_connection(("127.0.0.1", daemon.api_port), timeout=10) as s:
        s.sendall(post_bytes(item))
        s.shutdown(socket.SHUT_WR)
        got = read_all_responses(s)
    assert len(got) == 1 and got[0][0] == 202, got
    assert json.loads(got[0][2])["uri"] == item["uri"]
    assert wire_len(redis_server.client(), daemon) == 1
