"""Signed webhooks (proto/PROTOCOL.md, "Webhooks"): a local partner
(webhook_helpers.Receiver) verifies every Standard Webhooks signature and
fails, times out or refuses deliveries as each test needs. Delivery is at
least once through a Redis consumer group per partner: every item arrives
across a kill -9 and a restart, items that run out of time go to the dead
letters and can be replayed, a 410 disables the partner, and registrations
made through the API are shared by every instance."""

import asyncio
import json
import subprocess
import time
import urllib.parse
import uuid

import pytest

from conftest import ROOT, article_path, connect, make_item, metric, wait_until
from resume_helpers import published, second_instance
from security_helpers import bearer, publisher_section, write_config
from webhook_helpers import (OTHER_SECRET, SECRET, Receiver, signature, verify,
                             webhook_section)

FAST = ("webhook_retry_base = 100ms\nwebhook_retry_max = 500ms\nwebhook_poll = 200ms\n"
        "webhook_claim_idle = 1s\n")


@pytest.fixture
def receivers():
    """Factory: receivers(**kw) -> Receiver; all closed at the end."""
    made = []

    def make(**kw):
        r = Receiver(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def rc(redis_server):
    return redis_server.client()


def config(tmp_path, *sections, head=FAST, name="webhooks.conf"):
    return str(write_config(tmp_path / name, *sections, head=head))


def kill9(d):
    """kill -9: the daemon gets no chance to hand anything back."""
    d.proc.kill()
    d.proc.wait(timeout=10)
    d.proc = None
    d.log_file.close()


def pending(rc, d, name):
    return rc.xpending(d.prefix + "wire", f"{d.prefix}wh:{name}")["pending"]


def sample(name, webhook):
    return f'{name}{{webhook="{webhook}"}}'


def register(d, body, key=None):
    headers = {"Content-Type": "application/json", **(bearer(key) if key else {})}
    return d.api("POST", "/v1/webhooks", body=json.dumps(body), headers=headers)


# --------------------------------------------------------------------------
# Delivery format


def test_signed_delivery_is_the_websocket_item_message(start_daemon, receivers, tmp_path, rc):
    recv = receivers()
    d = start_daemon("--config", config(tmp_path, webhook_section(
        "wires", recv.url, "monde/#", min_urgency=3)))

    async def scenario():
        ws = await connect(d, topics="monde/#", min_urgency=3)
        await ws.recv_type("subscribed")
        a = published(d, make_item(urgency=2), ["monde/afrique", "sport"])
        published(d, make_item(urgency=1), ["sport"])            # not its topics
        published(d, make_item(urgency=6), ["monde/europe"])     # less urgent than 3
        kill = d.api("DELETE", article_path(a["uri"]))          # a kill: always sent
        assert kill.status == 202, kill
        kill = kill.json()
        frames = {}
        while len(frames) < 2:
            raw = await asyncio.wait_for(ws.ws.recv(), 5)
            msg = json.loads(raw)
            if msg.get("type") == "item":
                frames[msg["id"]] = raw.encode()
        await ws.close()
        return a, kill, frames

    a, kill, frames = asyncio.run(scenario())
    got = recv.wait_delivered([a["id"], kill["id"]])
    time.sleep(0.5)
    assert set(recv.delivered()) == {a["id"], kill["id"]}, "an unwanted item was sent"
    for wire_id in (a["id"], kill["id"]):
        assert got[wire_id] == frames[wire_id], "not the same bytes as the WebSocket message"
    for r in recv.snapshot():
        assert r.verified, r.headers
        assert r.headers["content-type"] == "application/json"
        assert r.headers["webhook-signature"] == signature(
            SECRET, r.id, r.headers["webhook-timestamp"], r.body)
        assert abs(int(r.headers["webhook-timestamp"]) - time.time()) < 60
    msg = json.loads(got[a["id"]])
    assert msg["type"] == "item" and msg["kind"] == "new" and msg["topics"] == ["monde/afrique"]
    assert json.loads(got[kill["id"]])["kind"] == "kill"
    wait_until(lambda: pending(rc, d, "wires") == 0, what="acknowledged deliveries")
    m = d.metrics()
    assert m[sample("newswire_webhook_delivered_total", "wires")] == 2
    assert m[sample("newswire_webhook_skipped_total", "wires")] == 2
    assert m[sample("newswire_webhook_disabled", "wires")] == 0
    assert m[sample("newswire_webhook_request_seconds_count", "wires")] == 2


def test_wrong_secret_fails_verification(start_daemon, receivers, tmp_path):
    recv = receivers(secret=OTHER_SECRET)  # the partner holds another key
    d = start_daemon("--config", config(tmp_path, webhook_section("p", recv.url, "monde/#")))
    a = published(d, make_item(), ["monde"])
    recv.wait_delivered([a["id"]])
    reqs = recv.snapshot()
    assert reqs and not any(r.verified for r in reqs), "verified with the wrong key"
    assert all(verify(SECRET, r.headers, r.body) for r in reqs)


# --------------------------------------------------------------------------
# At least once: retries, timeouts, kill -9, take-over


def test_every_item_arrives_across_kill9_and_restart(start_daemon, receivers, tmp_path, rc):
    def plan(msg_id, attempt):
        if attempt == 1:
            return 500
        if attempt == 2:
            return ("sleep", 1.5)  # beyond the 1 s timeout
        return 200

    recv = receivers(plan=plan)
    conf = config(tmp_path, webhook_section("p", recv.url, "monde/#", timeout="1s"))
    pub = start_daemon()                        # publishes; has no webhook
    d1 = second_instance(start_daemon, pub, "--config", conf)
    ids = [published(pub, make_item(), ["monde/x"])["id"] for _ in range(6)]
    wait_until(lambda: all(recv.attempts[i] >= 1 for i in ids), what="first attempts")
    kill9(d1)
    assert pending(rc, pub, "p") > 0, "nothing was pending at the kill: the test proves nothing"
    # published while no instance delivers
    ids += [published(pub, make_item(), ["monde/y"])["id"] for _ in range(4)]
    d2 = second_instance(start_daemon, pub, "--config", conf)
    got = recv.wait_delivered(ids, timeout=40)
    assert set(got) == set(ids), "dedupe by webhook-id must give exactly one per item"
    assert all(r.verified for r in recv.snapshot())
    assert "took over pending deliveries" in d2.log()
    wait_until(lambda: pending(rc, pub, "p") == 0, what="everything acknowledged")
    assert metric(d2, sample("newswire_webhook_retried_total", "p")) >= 1


def test_live_retries_are_not_taken_over(start_daemon, receivers, tmp_path, rc):
    """Two instances share the group; one retries an item for longer than
    webhook_claim_idle: the other must not take it over."""
    recv = receivers(plan=lambda msg_id, attempt: 500 if attempt <= 8 else 200)
    head = ("webhook_retry_base = 300ms\nwebhook_retry_max = 300ms\nwebhook_poll = 200ms\n"
            "webhook_claim_idle = 1s\n")
    conf = config(tmp_path, webhook_section("p", recv.url, "monde/#"), head=head)
    d1 = start_daemon("--config", conf)
    d2 = second_instance(start_daemon, d1, "--config", conf)
    ids = [published(d1, make_item(), ["monde"])["id"] for _ in range(4)]
    recv.wait_delivered(ids, timeout=30)
    for d in (d1, d2):
        assert "took over" not in d.log(), d.log()[-3000:]
    assert all(recv.attempts[i] == 9 for i in ids), recv.attempts


def test_sigterm_hands_retries_back_at_once(start_daemon, receivers, tmp_path):
    state = {"fail": True}
    recv = receivers(plan=lambda msg_id, attempt: 500 if state["fail"] else 200)
    # the default take-over delay (60 s) is far longer than the test
    head = "webhook_retry_base = 200ms\nwebhook_retry_max = 200ms\n"
    conf = config(tmp_path, webhook_section("p", recv.url, "monde/#"), head=head)
    d1 = start_daemon("--config", conf)
    a = published(d1, make_item(), ["monde"])
    wait_until(lambda: recv.attempts[a["id"]] >= 2, what="retries")
    assert d1.stop() == 0
    state["fail"] = False
    t0 = time.monotonic()
    second_instance(start_daemon, d1, "--config", conf)
    recv.wait_delivered([a["id"]], timeout=10)
    assert time.monotonic() - t0 < 10


def consumers(rc, d, name):
    return {c["name"]: c["pending"]
            for c in rc.xinfo_consumers(d.prefix + "wire", f"{d.prefix}wh:{name}")}


def test_consumers_of_stopped_instances_are_removed(start_daemon, receivers, tmp_path, rc):
    """Each process reads as a consumer of its own name: once a stopped
    instance's consumer owns nothing (its entries were taken over) and has
    been idle for webhook_claim_idle, a running instance removes it."""
    state = {"fail": True}
    recv = receivers(plan=lambda msg_id, attempt: 500 if state["fail"] else 200)
    conf = config(tmp_path, webhook_section("p", recv.url, "monde/#"))
    d1 = start_daemon("--config", conf)
    a = published(d1, make_item(), ["monde"])
    wait_until(lambda: recv.attempts[a["id"]] >= 1, what="a first attempt")
    pid1 = d1.proc.pid
    kill9(d1)
    before = consumers(rc, d1, "p")
    assert [n for n, owned in before.items() if f"-{pid1}-" in n and owned > 0], before
    state["fail"] = False
    d2 = second_instance(start_daemon, d1, "--config", conf)
    pid2 = d2.proc.pid
    recv.wait_delivered([a["id"]], timeout=20)
    b = published(d2, make_item(), ["monde"])
    recv.wait_delivered([b["id"]], timeout=20)
    wait_until(lambda: all(f"-{pid2}-" in n for n in consumers(rc, d2, "p")), timeout=15,
               what="only the running instance's consumer left")
    assert [n for n in consumers(rc, d2, "p") if f"-{pid2}-" in n], "the running one stays"
    assert "removed the consumers of stopped instances" in d2.log()
    wait_until(lambda: pending(rc, d2, "p") == 0, what="everything acknowledged")


def test_prune_script_keeps_consumers_that_own_entries_and_itself(rc):
    """webhook_prune.lua on its own, against Redis: only consumers that own
    nothing, have been idle long enough and are not the caller go."""
    prune = rc.register_script((ROOT / "proto" / "webhook_prune.lua").read_text())
    wire = f"prune-test:{uuid.uuid4().hex}"
    try:
        rc.xgroup_create(wire, "g", id="$", mkstream=True)
        rc.xadd(wire, {"a": "1"})
        rc.xreadgroup("g", "owner", {wire: ">"}, count=1)
        for name in ("idle", "me"):
            rc.xgroup_createconsumer(wire, "g", name)
        assert prune(keys=[wire], args=["g", "me", 60000]) == 0, "nothing idle for 60 s yet"
        time.sleep(0.3)
        assert prune(keys=[wire], args=["g", "me", 200]) == 1
        assert {c["name"] for c in rc.xinfo_consumers(wire, "g")} == {"owner", "me"}
        assert rc.xpending(wire, "g")["pending"] == 1
        assert prune(keys=[wire], args=["nogroup", "me", 0]) == 0
    finally:
        rc.delete(wire)


# --------------------------------------------------------------------------
# Dead letters


def test_dead_letters_after_the_horizon_and_replay(start_daemon, receivers, tmp_path, rc):
    state = {"fail": True}
    recv = receivers(plan=lambda msg_id, attempt: 500 if state["fail"] else 200)
    d = start_daemon("--config", config(tmp_path, webhook_section(
        "p", recv.url, "monde/#", horizon="2s")))
    x = published(d, make_item(), ["monde/x"])
    y = published(d, make_item(), ["monde/y"])

    def dead():
        r = d.api("GET", "/v1/webhooks/p/dead")
        assert r.status == 200, r
        return r.json()["dead"]

    letters = wait_until(lambda: len(dead()) == 2 and dead(), timeout=15, what="2 dead letters")
    by_id = {e["id"]: e for e in letters}
    assert set(by_id) == {x["id"], y["id"]}
    e = by_id[x["id"]]
    assert e["reason"] == "horizon" and e["last_status"] == 500 and e["attempts"] >= 2, e
    assert e["item"]["type"] == "item" and e["item"]["id"] == x["id"], e
    assert json.loads(recv.snapshot()[0].body)["type"] == "item"
    assert pending(rc, d, "p") == 0, "a dead letter is acknowledged"
    assert rc.xlen(d.prefix + "wh:p:dead") == 2
    assert metric(d, sample("newswire_webhook_dead_lettered_total", "p")) == 2
    assert len(d.api("GET", "/v1/webhooks/p/dead?limit=1").json()["dead"]) == 1
    assert d.api("GET", "/v1/webhooks/p/dead?limit=0").status == 400
    assert d.api("GET", "/v1/webhooks/nope/dead").status == 404

    state["fail"] = False
    # one dead letter by its id
    r = d.api("POST", "/v1/webhooks/p/dead/replay?id=" + e["dead_id"])
    assert r.status == 202 and r.json()["replaying"] == 1, r
    got = recv.wait_delivered([x["id"]])
    assert json.loads(got[x["id"]]) == e["item"]
    wait_until(lambda: [l["id"] for l in dead()] == [y["id"]], what="x leaves the dead letters")
    # the rest
    assert d.api("POST", "/v1/webhooks/p/dead/replay?id=1-0").status == 404
    assert d.api("POST", "/v1/webhooks/p/dead/replay?id=zzz").status == 400
    assert d.api("GET", "/v1/webhooks/p/dead/replay").status == 405
    r = d.api("POST", "/v1/webhooks/p/dead/replay")
    assert r.status == 202 and r.json()["replaying"] == 1, r
    recv.wait_delivered([y["id"]])
    wait_until(lambda: dead() == [], what="empty dead letters")
    assert all(r.verified for r in recv.snapshot())


# --------------------------------------------------------------------------
# 410 Gone


def test_410_disables_until_registered_again(start_daemon, receivers, rc):
    state = {"gone": True}
    recv = receivers(plan=lambda msg_id, attempt: 410 if state["gone"] else 200)
    d = start_daemon("--set", "webhook_poll=200ms")  # loopback mode: the admin API is open
    reg = {"name": "gone", "url": recv.url, "topics": ["monde/#"], "secret": SECRET}
    assert register(d, reg).status == 201
    x = published(d, make_item(), ["monde"])
    wait_until(lambda: recv.attempts[x["id"]] == 1, what="the 410")

    def state_of():
        return d.api("GET", "/v1/webhooks/gone").json()

    s = wait_until(lambda: state_of()["disabled"] and state_of(), what="disabled")
    assert s["disabled_status"] == 410 and s["disabled_at"].endswith("Z"), s
    assert rc.hexists(d.prefix + "webhooks:disabled", "gone")
    assert metric(d, sample("newswire_webhook_disabled", "gone")) == 1
    dead = d.api("GET", "/v1/webhooks/gone/dead").json()["dead"]
    assert [(e["id"], e["reason"], e["last_status"]) for e in dead] == [(x["id"], "gone", 410)]
    assert d.api("POST", "/v1/webhooks/gone/dead/replay").status == 409
    y = published(d, make_item(), ["monde"])
    time.sleep(1.0)
    assert recv.attempts[y["id"]] == 0, "a disabled partner got a request"

    state["gone"] = False
    r = register(d, reg)
    assert r.status == 200 and r.json()["disabled"] is False, r
    assert not rc.hexists(d.prefix + "webhooks:disabled", "gone")
    z = published(d, make_item(), ["monde"])
    recv.wait_delivered([z["id"]])
    time.sleep(0.5)
    assert recv.attempts[y["id"]] == 0, "what was published while disabled is not sent"
    assert metric(d, sample("newswire_webhook_disabled", "gone")) == 0


def test_410_on_a_configured_webhook_and_enable(start_daemon, receivers, tmp_path):
    state = {"gone": True}
    recv = receivers(plan=lambda msg_id, attempt: 410 if state["gone"] else 200)
    d = start_daemon("--config", config(tmp_path, webhook_section("cfg", recv.url, "monde/#")))
    x = published(d, make_item(), ["monde"])
    wait_until(lambda: d.api("GET", "/v1/webhooks/cfg").json()["disabled"], what="disabled")
    assert recv.attempts[x["id"]] == 1
    state["gone"] = False
    r = d.api("POST", "/v1/webhooks/cfg/enable")
    assert r.status == 200 and r.json()["disabled"] is False, r
    # a restart keeps the partner enabled, and delivers
    assert d.stop() == 0
    d2 = second_instance(start_daemon, d, "--config", config(
        tmp_path, webhook_section("cfg", recv.url, "monde/#")))
    z = published(d2, make_item(), ["monde"])
    recv.wait_delivered([z["id"]])
    assert d2.api("GET", "/v1/webhooks/cfg").json()["disabled"] is False


# --------------------------------------------------------------------------
# Registration API


ADMIN = "nw-admin-key-0123456789"
DESK = "nw-desk-key-0123456789"


def test_registration_api(start_daemon, receivers, tmp_path, rc):
    recv = receivers()
    conf = config(tmp_path, publisher_section("boss", ADMIN, "#") + "admin = 1\n",
                  publisher_section("desk", DESK, "#"),
                  webhook_section("configured", recv.url, "sport"))
    d = start_daemon("--config", conf)
    body = {"name": "partner-1", "url": recv.url, "topics": ["monde/#", "eco"]}

    # who may
    assert register(d, body).status == 401
    r = register(d, body, key=DESK)
    assert r.status == 403 and r.json()["field"] == "Authorization", r
    assert d.api("GET", "/v1/webhooks", headers=bearer(DESK)).status == 403
    assert d.api("DELETE", "/v1/webhooks/configured", headers=bearer(DESK)).status == 403
    assert metric(d, 'newswire_api_auth_refused_total{reason="not_admin"}') == 3

    # invalid registrations name the field
    for bad, field in [({**body, "url": "ftp://x/"}, "url"),
                       ({k: v for k, v in body.items() if k != "url"}, "url"),
                       ({**body, "topics": ["Monde"]}, "topics"),
                       ({**body, "topics": []}, "topics"),
                       ({**body, "secret": "whsec_short"}, "secret"),
                       ({**body, "name": "a/b"}, "name"),
                       ({**body, "min_urgency": 0}, "min_urgency"),
                       ({**body, "timeout": 0.01}, "timeout"),
                       ({**body, "colour": "red"}, "colour")]:
        r = register(d, bad, key=ADMIN)
        assert r.status == 400 and r.json()["field"] == field, (bad, r)
    r = d.api("POST", "/v1/webhooks", body=b"{nope", headers=bearer(ADMIN))
    assert r.status == 400, r
    assert d.api("PUT", "/v1/webhooks", headers=bearer(ADMIN)).status == 405

    # created: the secret is made here and shown once
    r = register(d, body, key=ADMIN)
    assert r.status == 201, r
    created = r.json()
    secret = created["secret"]
    assert secret.startswith("whsec_") and created["source"] == "api"
    assert created["topics"] == ["monde/#", "eco"] and created["concurrency"] == 4
    stored = json.loads(rc.hget(d.prefix + "webhooks", "partner-1"))
    assert stored["secret"] == secret and stored["url"] == recv.url
    listed = d.api("GET", "/v1/webhooks", headers=bearer(ADMIN)).json()["webhooks"]
    assert [w["name"] for w in listed] == ["configured", "partner-1"]
    assert all("secret" not in w for w in listed)
    assert [w["source"] for w in listed] == ["config", "api"]

    # deliveries use it
    recv.secret = secret
    a = published(d, make_item(), ["eco"], headers=bearer(ADMIN))
    recv.wait_delivered([a["id"]])
    assert all(r.verified for r in recv.snapshot())

    # another instance sees it
    d2 = second_instance(start_daemon, d, "--config", conf)
    one = d2.api("GET", "/v1/webhooks/partner-1", headers=bearer(ADMIN))
    assert one.status == 200 and one.json()["url"] == recv.url, one

    # replaced with a given secret: not echoed
    r = register(d2, {**body, "secret": SECRET, "min_urgency": 2}, key=ADMIN)
    assert r.status == 200 and "secret" not in r.json() and r.json()["min_urgency"] == 2, r

    # configured webhooks belong to the configuration
    assert register(d, {**body, "name": "configured"}, key=ADMIN).status == 409
    assert d.api("DELETE", "/v1/webhooks/configured", headers=bearer(ADMIN)).status == 409

    # deleted everywhere
    r = d.api("DELETE", "/v1/webhooks/partner-1", headers=bearer(ADMIN))
    assert r.status == 204, r
    assert not rc.hexists(d.prefix + "webhooks", "partner-1")
    groups = [g["name"] for g in rc.xinfo_groups(d.prefix + "wire")]
    assert d.prefix + "wh:partner-1" not in groups
    for inst in (d, d2):
        assert inst.api("GET", "/v1/webhooks/partner-1", headers=bearer(ADMIN)).status == 404
    assert d.api("DELETE", "/v1/webhooks/partner-1", headers=bearer(ADMIN)).status == 404
    b = published(d, make_item(), ["eco"], headers=bearer(ADMIN))
    time.sleep(1.0)
    assert recv.attempts[b["id"]] == 0, "a deleted webhook was sent an item"


# --------------------------------------------------------------------------
# HTTPS


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    d = tmp_path_factory.mktemp("webhook-tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return str(cert), str(key)


def test_https_callback_with_a_self_signed_certificate(start_daemon, receivers, tmp_path,
                                                        tls_cert):
    recv = receivers(tls=tls_cert)
    assert recv.url.startswith("https://")
    d = start_daemon("--config", config(
        tmp_path, webhook_section("tls-insecure", recv.url, "monde/#", insecure=1),
        webhook_section("tls-verified", recv.url, "monde/#")))
    a = published(d, make_item(), ["monde"])
    recv.wait_delivered([a["id"]])
    assert all(r.verified for r in recv.snapshot())
    # the verifying partner refuses the self-signed certificate: retries
    wait_until(lambda: metric(d, sample("newswire_webhook_failures_total", "tls-verified")) >= 2,
               what="failed TLS verifications")
    assert metric(d, sample("newswire_webhook_delivered_total", "tls-verified")) == 0
    assert metric(d, sample("newswire_webhook_delivered_total", "tls-insecure")) == 1
    assert len(recv.snapshot()) == 1, "a request got through an unverified certificate"


# --------------------------------------------------------------------------
# Configuration


def test_invalid_webhook_configuration_is_refused(tmp_path):
    from conftest import run_newswired
    bad = config(tmp_path, webhook_section("p", "http://127.0.0.1:1/", "monde/#",
                                           secret="whsec_tooshort"))
    p = run_newswired("--config", bad, "--check-config")
    assert p.returncode == 2 and "secret" in p.stderr, p.stderr
    ok = config(tmp_path, webhook_section("p", "http://127.0.0.1:1/", "monde/#"), name="ok.conf")
    p = run_newswired("--config", ok, "--check-config")
    assert p.returncode == 0 and "[webhook p]" in p.stdout and SECRET not in p.stdout, p
    assert urllib.parse.urlparse("http://127.0.0.1:1/").port == 1
