"""Publisher authorization on the API (proto/PROTOCOL.md, "Authentication"):
API keys stored as SHA-256 in [publisher NAME] sections, topic grants, rates,
loopback-only mode without publishers, reload on SIGHUP, and the
newswire_api_auth_refused_total counters."""

import base64
import http.client
import json
import signal
import time
import uuid

import pytest

from conftest import article_path, free_port, make_item, wait_until, wire_len
from security_helpers import (Watcher, api_refused, assert_error, bearer,
                              local_non_loopback_ipv4, publish_as, publisher_section,
                              sha256_hex, write_config)

AGENCE = "nw-agence-" + uuid.uuid4().hex     # grant monde/#
REGIONAL = "nw-regional-" + uuid.uuid4().hex  # grant monde/+, 2 items/s
TARDIF = "nw-tardif-" + uuid.uuid4().hex     # added by a reload

WARNING = "no publisher key configured: the API serves loopback peers only"


def base_sections():
    return [publisher_section("agence", AGENCE, "monde/#", rate=50),
            publisher_section("regional", REGIONAL, "monde/+", rate=2)]


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path / "publishers.conf", *base_sections())


@pytest.fixture
def pub(start_daemon, config):
    return start_daemon("--config", str(config))


@pytest.fixture
def rc(redis_server):
    return redis_server.client()


def accepted(resp):
    assert resp.status == 202, resp
    body = resp.json()
    assert body["status"] == "published", body
    return body


def get_article(daemon, uri, key=AGENCE):
    return daemon.api("GET", article_path(uri), headers=bearer(key) if key else {})


# --------------------------------------------------------------------------
# 401: no key, unknown key


def test_no_key_is_401_with_www_authenticate(pub, rc):
    before = wire_len(rc, pub)
    r = publish_as(pub, None, ["monde"])
    body = assert_error(r, 401, field="Authorization")
    assert "Authorization" in body["error"] or "API key" in body["error"], body
    assert r.headers.get("www-authenticate") == "Bearer", r.headers
    # another scheme, a bare key, an empty bearer: no key either
    for value in ("Basic " + base64.b64encode(f"agence:{AGENCE}".encode()).decode(),
                  AGENCE, "Bearer", "Bearer ", "Token " + AGENCE):
        r = pub.publish(make_item(), ["monde"], headers={"Authorization": value})
        assert_error(r, 401, field="Authorization")
        assert r.headers.get("www-authenticate") == "Bearer", (value, r.headers)
    assert wire_len(rc, pub) == before, "a refused publish reached the wire"


@pytest.mark.parametrize("key", [
    "nw-unknown-" + uuid.uuid4().hex,
    AGENCE[:-1],                 # a prefix of a real key
    AGENCE[:8],                  # a short prefix
    AGENCE + "x",                # a real key with one more character
    AGENCE.upper(),              # keys are case-sensitive
    sha256_hex(AGENCE),          # the stored hash is not a key
    REGIONAL[:len(AGENCE)],      # same length as a real key, other bytes
], ids=["random", "prefix", "short-prefix", "extended", "upper-case", "the-hash",
        "same-length"])
def test_unknown_key_is_401(pub, rc, key):
    before = wire_len(rc, pub)
    item = make_item()
    r = publish_as(pub, key, ["monde"], item=item)
    body = assert_error(r, 401, field="Authorization")
    assert "unknown" in body["error"], body
    assert r.headers.get("www-authenticate") == "Bearer", r.headers
    assert wire_len(rc, pub) == before
    assert get_article(pub, item["uri"]).status == 404


def test_scheme_is_case_insensitive(pub):
    r = pub.publish(make_item(), ["monde"], headers={"Authorization": f"bearer {AGENCE}"})
    accepted(r)


# --------------------------------------------------------------------------
# 403: topics outside the grant


@pytest.mark.parametrize("key,topics,culprit", [
    (AGENCE, "sport", "sport"),
    (AGENCE, "monde/afrique,sport", "sport"),
    (AGENCE, "mondes", "mondes"),
    (REGIONAL, "monde/afrique/benin", "monde/afrique/benin"),
    (REGIONAL, "monde", "monde"),
    (REGIONAL, "monde/europe,sport/foot", "sport/foot"),
], ids=["hash-grant-vs-sport", "hash-grant-one-of-two", "hash-grant-vs-prefix-word",
        "plus-grant-vs-deeper", "plus-grant-vs-parent", "plus-grant-one-of-two"])
def test_topic_outside_the_grant_is_403(pub, rc, key, topics, culprit):
    before = wire_len(rc, pub)
    item = make_item()
    r = publish_as(pub, key, topics, item=item)
    body = assert_error(r, 403, field="topics")
    assert f'"{culprit}"' in body["error"], body
    assert wire_len(rc, pub) == before, "nothing may be stored for a refused publish"
    assert get_article(pub, item["uri"]).status == 404


@pytest.mark.parametrize("key,topics", [
    (AGENCE, "monde"),
    (AGENCE, "monde/afrique/benin"),
    (AGENCE, "monde/europe,monde/afrique"),
    (REGIONAL, "monde/afrique"),
], ids=["hash-grant-parent", "hash-grant-deep", "hash-grant-two", "plus-grant-one-level"])
def test_topic_inside_the_grant_is_published(pub, key, topics):
    item = make_item()
    receipt = accepted(publish_as(pub, key, topics, item=item))
    assert receipt["uri"] == item["uri"]
    assert get_article(pub, item["uri"]).status == 200


# --------------------------------------------------------------------------
# 429: rate


def test_rate_limit_429_then_recovers(pub, rc):
    ok, refused_resp = 0, None
    for _ in range(10):
        r = publish_as(pub, REGIONAL, "monde/europe")
        if r.status == 429:
            refused_resp = r
            break
        accepted(r)
        ok += 1
    assert refused_resp is not None, "10 publishes in a row at rate 2/s were all accepted"
    assert ok >= 2, f"the burst is the rate (2), only {ok} accepted"
    body = assert_error(refused_resp, 429)
    assert "rate" in body["error"], body
    retry = refused_resp.headers.get("retry-after")
    assert retry is not None and retry.isdigit() and 1 <= int(retry) <= 2, refused_resp.headers
    # the refused item was not stored
    before = wire_len(rc, pub)
    item = make_item()
    r = publish_as(pub, REGIONAL, "monde/europe", item=item)
    if r.status == 429:
        assert wire_len(rc, pub) == before
        assert get_article(pub, item["uri"]).status == 404
    # another publisher is not slowed down by this one
    accepted(publish_as(pub, AGENCE, "monde/europe"))
    # a client that honours Retry-After gets through
    time.sleep(int(retry))
    accepted(publish_as(pub, REGIONAL, "monde/europe"))


# --------------------------------------------------------------------------
# Other endpoints need a key too


def test_other_v1_endpoints_need_a_key(pub):
    item = make_item()
    accepted(publish_as(pub, AGENCE, "monde/afrique/benin", item=item))
    path = article_path(item["uri"])
    for method, p in (("GET", path), ("HEAD", path), ("DELETE", path),
                      ("GET", "/v1/embargoes"), ("HEAD", "/v1/embargoes")):
        r = pub.api(method, p)
        assert r.status == 401, (method, p, r)
        assert r.headers.get("www-authenticate") == "Bearer", (method, p, r.headers)
        r = pub.api(method, p, headers=bearer("nw-unknown-" + uuid.uuid4().hex))
        assert r.status == 401, (method, p, r)
    # nothing was deleted by the refused DELETEs
    r = pub.api("GET", path, headers=bearer(AGENCE))
    assert r.status == 200 and r.json()["uri"] == item["uri"], r
    r = pub.api("GET", "/v1/embargoes", headers=bearer(REGIONAL))
    assert r.status == 200, r
    # a kill is checked against every topic of the story
    r = pub.api("DELETE", path, headers=bearer(REGIONAL))
    body = assert_error(r, 403, field="topics")
    assert '"monde/afrique/benin"' in body["error"], body
    assert pub.api("GET", path, headers=bearer(AGENCE)).json()["version"] == "1"
    r = pub.api("DELETE", path, headers=bearer(AGENCE))
    assert r.status == 202 and r.json()["kind"] == "kill", r
    # health and metrics need no key
    for p in ("/healthz", "/readyz", "/metrics"):
        assert pub.api("GET", p).status == 200, p


# --------------------------------------------------------------------------
# No publisher configured: loopback only


def test_no_publisher_means_loopback_only(start_daemon, redis_server, tmp_path):
    d = start_daemon()
    wait_until(lambda: WARNING in d.log(), what="the loopback-only warning in the log")
    accepted(d.publish(make_item(), ["monde"]))  # no key from 127.0.0.1
    accepted(d.publish(make_item(), ["sport"], headers=bearer("anything")))
    r = d.api("GET", "/v1/embargoes")
    assert r.status == 200, r


def test_publishers_configured_no_loopback_warning(pub):
    wait_until(lambda: "newswired started" in pub.log(), what="start-up logged")
    assert WARNING not in pub.log()
    # and loopback is no free pass any more
    assert publish_as(pub, None, ["monde"]).status == 401


def test_no_publisher_refuses_non_loopback_peers(start_daemon, redis_server):
    addr = local_non_loopback_ipv4()
    if addr is None:
        pytest.skip("this host has no non-loopback IPv4 address to connect from")
    port, api_port = free_port(), free_port()
    d = start_daemon(argv=["--redis", redis_server.url, "--listen", f"127.0.0.1:{port}",
                           "--api-listen", f"0.0.0.0:{api_port}", "--set",
                           f"redis_prefix=t{uuid.uuid4().hex[:10]}:", "--log-level", "debug"],
                     port=port, api_port=api_port)
    assert WARNING in d.log()
    before = api_refused(d, "not_loopback")
    conn = http.client.HTTPConnection(addr, api_port, timeout=10)
    try:
        conn.request("POST", "/v1/articles?topics=monde", body=b'{"uri":"x"}',
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        status, body = r.status, r.read()
    finally:
        conn.close()
    assert status == 403, (status, body)
    assert b"loopback" in body, body
    wait_until(lambda: api_refused(d, "not_loopback") == before + 1,
               what="not_loopback counted")
    # health needs no key, from anywhere
    conn = http.client.HTTPConnection(addr, api_port, timeout=10)
    try:
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
    finally:
        conn.close()


# --------------------------------------------------------------------------
# SIGHUP reload


def keepalive_publish(conn, key, topics, item=None):
    """A publish on a kept-alive http.client connection: (status, body,
    local address of the socket after the answer)."""
    item = item or make_item()
    conn.request("POST", f"/v1/articles?topics={topics}", body=json.dumps(item),
                 headers={"Content-Type": "application/json", **bearer(key)})
    r = conn.getresponse()
    body = r.read()
    assert not r.will_close, f"the server closed the kept-alive connection: {r.headers}"
    return r.status, body, conn.sock.getsockname()


def reloads(daemon, what):
    return daemon.log().count(what)


def test_sighup_reload_adds_and_revokes_keys_without_dropping_connections(start_daemon,
                                                                          tmp_path):
    cfg = write_config(tmp_path / "reload.conf", *base_sections())
    d = start_daemon("--config", str(cfg))
    w = Watcher(d, topic="monde/#")
    conn = http.client.HTTPConnection("127.0.0.1", d.api_port, timeout=10)
    try:
        status, body, local = keepalive_publish(conn, AGENCE, "monde/europe")
        assert status == 202, body
        assert publish_as(d, TARDIF, "monde/europe").status == 401

        # add a publisher
        write_config(cfg, *base_sections(), publisher_section("tardif", TARDIF, "monde/#"))
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: reloads(d, "configuration reloaded") == 1, what="reload logged")
        status, body, local2 = keepalive_publish(conn, TARDIF, "monde/asie")
        assert status == 202, body
        assert local2 == local, "the kept-alive API connection was replaced"
        new_id = accepted(publish_as(d, TARDIF, "monde/amerique"))["id"]
        old_id = accepted(publish_as(d, AGENCE, "monde/amerique"))["id"]
        w.expect([new_id, old_id])

        # a broken file is refused and changes nothing
        for broken in ("[publisher bad name!]\nkey_sha256 = 00\n",
                       publisher_section("casse", "k" * 40, "Monde")):
            n = reloads(d, "reload refused")
            write_config(cfg, *base_sections(), publisher_section("tardif", TARDIF, "monde/#"),
                         broken)
            d.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: reloads(d, "reload refused") == n + 1,
                       what="the refused reload logged")
            assert d.proc.poll() is None, "the daemon exited on a broken reload"
            for key in (AGENCE, TARDIF):
                status, body, local3 = keepalive_publish(conn, key, "monde/europe")
                assert status == 202, (key, body)
                assert local3 == local
            assert publish_as(d, "k" * 40, "monde/europe").status == 401
        assert reloads(d, "configuration reloaded") == 1

        # revoke a key
        write_config(cfg, publisher_section("tardif", TARDIF, "monde/#"))
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: reloads(d, "configuration reloaded") == 2, what="second reload")
        status, body, local4 = keepalive_publish(conn, AGENCE, "monde/europe")
        assert status == 401, body
        assert local4 == local
        last = accepted(publish_as(d, TARDIF, "monde/europe"))["id"]
        w.expect([last])
        w.assert_alive()
    finally:
        conn.close()
        w.stop()


# --------------------------------------------------------------------------
# Metrics


def test_refusals_are_counted_by_reason(pub):
    reasons = ("missing_key", "unknown_key", "forbidden_topic", "rate_limited", "not_loopback")
    before = {r: api_refused(pub, r) for r in reasons}
    publish_as(pub, None, "monde")
    pub.api("GET", "/v1/embargoes")
    publish_as(pub, "nw-unknown", "monde")
    publish_as(pub, AGENCE[:-1], "monde")
    publish_as(pub, "nw-other", "monde")
    publish_as(pub, AGENCE, "sport")
    limited = 0
    for _ in range(10):
        if publish_as(pub, REGIONAL, "monde/europe").status == 429:
            limited = 1
            break
    assert limited
    expected = {"missing_key": 2, "unknown_key": 3, "forbidden_topic": 1, "rate_limited": 1,
                "not_loopback": 0}
    after = {r: api_refused(pub, r) for r in reasons}
    assert {r: after[r] - before[r] for r in reasons} == expected
