"""Subscriber authorization (proto/PROTOCOL.md, "Authorization" and
"Closing"): public topics, JWT grants given in the URL, in Authorization:
Bearer or in an auth message, pattern coverage, refused tokens (4001, 4002),
expiry during a session, re-authentication (4003), max_conn per subject
(4008), RS256/ES256 public keys and algorithm confusion, and the
newswire_session_closes_total counters."""

import asyncio
import datetime
import http.client
import json
import signal
import threading
import time

import jwt
import pytest
import websockets
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import await_until, connect, in_thread, make_item, metric, run, run_newswired
from security_helpers import (SECRET, alg_none, b64url, claims, closes, connect_with,
                              expect_close, expect_forbidden, hs256, sessions_open, write_config)

PUBLIC = "sport/#"


def tok(topics=("monde/#",), ttl=300, key=SECRET, algorithm="HS256", **extra):
    return jwt.encode(claims(topics, ttl, **extra), key, algorithm=algorithm)


@pytest.fixture
def tokd(start_daemon):
    return start_daemon("--set", f"public_topics={PUBLIC}", "--set", f"jwt_secret={SECRET}")


def published(daemon, topics, item=None):
    r = daemon.publish(item or make_item(), topics)
    assert r.status == 202, r
    return r.json()["id"]


async def apublished(daemon, topics):
    return await in_thread(published, daemon, topics)


def rfc3339_to_epoch(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


async def open_with_token(daemon, token, via):
    """A session authenticated with token, given in the URL, the
    Authorization header or an auth message; returns (client,
    authenticated message)."""
    if via == "query":
        c = await connect(daemon, token=token)
    elif via == "header":
        c = await connect_with(daemon, headers={"Authorization": f"Bearer {token}"})
    else:
        c = await connect(daemon)
        await c.send({"op": "auth", "token": token})
    return c, await c.recv_type("authenticated")


# --------------------------------------------------------------------------
# Anonymous sessions: public topics only


def test_anonymous_gets_public_topics_only(tokd):
    async def scenario():
        forbidden0 = metric(tokd, "newswire_subscriptions_forbidden_total")
        c = await connect(tokd)
        assert (await c.subscribe("sport"))["topics"] == ["sport"]
        await c.subscribe("sport/foot")
        for topics, culprit in ((["monde"], "monde"), (["#"], "#"), (["+"], "+"),
                                (["sport/#", "monde/#"], "monde/#"), (["+/foot"], "+/foot")):
            await c.send({"op": "subscribe", "topics": topics})
            await expect_forbidden(c, culprit)
        # all or nothing: sport/# of the refused pair was not added
        assert metric(tokd, "newswire_subscriptions") == 2
        assert metric(tokd, "newswire_subscriptions_forbidden_total") == forbidden0 + 5
        await apublished(tokd, ["monde"])
        await apublished(tokd, ["monde/afrique"])
        sport = await apublished(tokd, ["sport"])
        msg = await c.recv_type("item")  # the monde items came first and were not sent
        assert msg["id"] == sport and msg["topics"] == ["sport"], msg
        await c.expect_silence(0.3)
        await c.close()

    run(scenario())


def test_anonymous_forbidden_in_url_and_resume(tokd):
    async def scenario():
        c = await connect(tokd, topics="sport,monde")
        await expect_forbidden(c, "monde")
        assert metric(tokd, "newswire_subscriptions") == 0
        c2 = await connect(tokd)
        await c2.send({"op": "subscribe", "topics": ["monde"], "since": "1-0"})
        await expect_forbidden(c2, "monde")
        await apublished(tokd, ["monde"])
        await c.expect_silence(0.3)
        await c2.expect_silence(0.1)
        await c.close()
        await c2.close()

    run(scenario())


def http_get_public(daemon, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_recent_items_need_the_same_grant_as_subscriptions(tokd):
    """GET /v1/topics/<topic>/recent on the public listener must not show
    anonymous clients what they could not subscribe to: 403 without a
    grant, 401 for a refused token, the items with a token that grants the
    topic."""
    secret_item = make_item(headline="privé")
    published(tokd, ["monde"], secret_item)
    public_item = make_item(headline="public")
    published(tokd, ["sport"], public_item)
    secret = secret_item["uri"].encode()

    status, body = http_get_public(tokd, "/v1/topics/sport/recent")
    assert status == 200 and public_item["uri"].encode() in body, (status, body[:300])
    for path in ("/v1/topics/monde/recent", "/v1/topics/%23/recent", "/v1/topics/%2B/recent",
                 "/v1/topics/monde/recent?token=" + tok(["sport/foot"])):
        status, body = http_get_public(tokd, path)
        assert secret not in body, f"{path} shows an item of a non-public topic: {status}"
        assert status == 403, (path, status, body[:300])
    for path, headers in (("/v1/topics/monde/recent?token=" + tok(ttl=-5), {}),
                          ("/v1/topics/monde/recent?token=not-a-token", {}),
                          ("/v1/topics/monde/recent",
                           {"Authorization": "Bearer " + _other_secret_token()})):
        status, body = http_get_public(tokd, path, headers)
        assert secret not in body
        assert status == 401, (path, status, body[:300])
    status, body = http_get_public(tokd, "/v1/topics/monde/recent?token=" + tok(["monde/#"]))
    assert status == 200 and secret in body, (status, body[:300])
    status, body = http_get_public(tokd, "/v1/topics/monde/recent",
                                   {"Authorization": "Bearer " + tok(["monde"])})
    assert status == 200 and secret in body, (status, body[:300])


# --------------------------------------------------------------------------
# Tokens that grant topics


@pytest.mark.parametrize("via", ["query", "header", "op"])
def test_token_grants_topics(tokd, via):
    async def scenario():
        exp = int(time.time()) + 300
        token = jwt.encode({"topics": ["monde/#"], "exp": exp, "sub": "partner-42"}, SECRET,
                           algorithm="HS256")
        c, auth = await open_with_token(tokd, token, via)
        assert auth["sub"] == "partner-42" and auth["topics"] == ["monde/#"], auth
        assert rfc3339_to_epoch(auth["expires"]) == exp, auth
        sub = await c.subscribe("monde/#", "sport")
        assert sorted(sub["topics"]) == ["monde/#", "sport"]
        ids = [await apublished(tokd, ["monde/afrique"]), await apublished(tokd, ["sport"]),
               await apublished(tokd, ["monde"])]
        got = [(await c.recv_type("item"))["id"] for _ in ids]
        assert got == ids
        await c.close()

    run(scenario())


def test_grant_coverage(tokd):
    """A pattern is allowed when ONE public or granted pattern covers it:
    monde/# (granted) and sport/# (public) do not add up to #."""
    async def scenario():
        c, _ = await open_with_token(tokd, tok(["monde/#"]), "query")
        await c.subscribe("monde/#")
        sport_only = await apublished(tokd, ["sport/x"])
        await apublished(tokd, ["politique"])
        monde = await apublished(tokd, ["monde/x"])
        assert (await c.recv_type("item"))["id"] == monde  # no sport/x, no politique
        assert sport_only != monde
        for pattern in ("#", "+", "+/afrique", "+/+", "mondes/#", "politique"):
            await c.send({"op": "subscribe", "topics": [pattern]})
            await expect_forbidden(c, pattern)
        for pattern in ("monde/+", "monde/afrique/#", "monde", "monde/+/benin", "sport/#",
                        "sport/+"):
            sub = await c.subscribe(pattern)
            assert pattern in sub["topics"], sub
        await c.expect_silence(0.2)
        await c.close()

    run(scenario())


def test_plus_grant_does_not_cover_deeper_or_hash(tokd):
    async def scenario():
        c, auth = await open_with_token(tokd, tok(["monde/+"]), "op")
        assert auth["topics"] == ["monde/+"]
        await c.subscribe("monde/afrique")
        await c.subscribe("monde/+")
        for pattern in ("monde/#", "monde/afrique/benin", "monde/+/benin", "monde"):
            await c.send({"op": "subscribe", "topics": [pattern]})
            await expect_forbidden(c, pattern)
        await c.close()

    run(scenario())


# --------------------------------------------------------------------------
# Refused tokens


def _other_secret_token():
    return tok(key="another-secret-of-at-least-32-bytes!!")


REFUSED = {
    # name: (token factory, close code, reason prefix)
    "bad-signature": (_other_secret_token, 4001, "invalid token"),
    "tampered-payload": (lambda: (lambda t: t.split(".")[0] + "." + b64url(json.dumps(
        claims(["#"]))) + "." + t.split(".")[2])(tok()), 4001, "invalid token"),
    "truncated-signature": (lambda: tok()[:-4], 4001, "invalid token"),
    "garbage": (lambda: "not-a-token", 4001, "invalid token"),
    "three-garbage-parts": (lambda: "a.b.c", 4001, "invalid token"),
    "empty-parts": (lambda: "..", 4001, "invalid token"),
    "expired": (lambda: tok(ttl=-10), 4002, "token expired"),
    "nbf-in-the-future": (lambda: tok(nbf=int(time.time()) + 3600), 4002,
                          "token not valid yet"),
    "no-exp": (lambda: tok(ttl=None), 4001, "invalid token"),
    "exp-not-a-number": (lambda: hs256(SECRET, {"topics": ["monde/#"], "exp": "tomorrow"}),
                         4001, "invalid token"),
    "alg-none": (lambda: alg_none(claims()), 4001, "invalid token"),
    "alg-none-with-signature": (lambda: alg_none(claims()) + tok().split(".")[2], 4001,
                                "invalid token"),
    "hs384": (lambda: tok(algorithm="HS384"), 4001, "invalid token"),
    "hs512": (lambda: tok(algorithm="HS512"), 4001, "invalid token"),
    "no-topics": (lambda: jwt.encode({"exp": int(time.time()) + 300}, SECRET,
                                     algorithm="HS256"), 4001, "invalid token"),
    "topics-not-array": (lambda: hs256(SECRET, {"topics": "monde/#",
                                                "exp": int(time.time()) + 300}),
                         4001, "invalid token"),
    "topics-empty": (lambda: tok([]), 4001, "invalid token"),
    "topics-invalid-pattern": (lambda: tok(["Monde/#"]), 4001, "invalid token"),
    "max-conn-without-sub": (lambda: tok(max_conn=2), 4001, "invalid token"),
    "max-conn-zero": (lambda: tok(max_conn=0, sub="p"), 4001, "invalid token"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_token_in_url(tokd, name):
    factory, code, reason = REFUSED[name]
    reason_metric = "token_invalid" if code == 4001 else "token_expired"

    async def scenario():
        before = closes(tokd, reason_metric)
        c = await connect(tokd, token=factory())
        rcvd, msgs = await expect_close(c, code)
        assert rcvd.reason.startswith(reason), rcvd
        assert msgs == [], msgs  # nothing after hello, not "authenticated"
        await await_until(lambda: closes(tokd, reason_metric) == before + 1,
                          what=f"{reason_metric} counted")
        await await_until(lambda: sessions_open(tokd) == 0, what="the session released")

    run(scenario())


@pytest.mark.parametrize("name", ["bad-signature", "expired", "alg-none", "nbf-in-the-future"])
@pytest.mark.parametrize("via", ["header", "op"])
def test_refused_token_other_ways(tokd, name, via):
    factory, code, reason = REFUSED[name]

    async def scenario():
        if via == "header":
            c = await connect_with(tokd, headers={"Authorization": f"Bearer {factory()}"})
        else:
            c = await connect(tokd)
            await c.subscribe("sport")
            await c.send({"op": "auth", "token": factory()})
        rcvd, msgs = await expect_close(c, code)
        assert rcvd.reason.startswith(reason), rcvd
        assert not [m for m in msgs if m.get("type") == "authenticated"], msgs

    run(scenario())


def test_token_without_a_configured_key_is_refused(start_daemon):
    d = start_daemon("--set", f"public_topics={PUBLIC}")

    async def scenario():
        c = await connect(d, token=tok())
        rcvd, _ = await expect_close(c, 4001)
        assert "no key" in rcvd.reason or rcvd.reason.startswith("tokens are not accepted"), rcvd
        c = await connect(d)
        await c.send({"op": "subscribe", "topics": ["monde"]})
        await expect_forbidden(c, "monde")
        await c.close()

    run(scenario())


# --------------------------------------------------------------------------
# Expiry during a session, refresh


def test_token_expiring_during_the_session_closes_it_with_4002(tokd):
    async def scenario():
        exp = int(time.time()) + 2
        before = closes(tokd, "token_expired")
        c, auth = await open_with_token(tokd, tok(["monde/#"], ttl=None, exp=exp), "query")
        assert rfc3339_to_epoch(auth["expires"]) == exp
        await c.subscribe("monde/#")
        first = await apublished(tokd, ["monde"])
        assert (await c.recv_type("item"))["id"] == first

        # keep publishing across the expiry, remembering when each was sent
        sent, stop = {}, threading.Event()

        def publisher():
            while not stop.is_set():
                t = time.time()
                sent[published(tokd, ["monde"])] = t
                stop.wait(0.1)

        th = threading.Thread(target=publisher)
        th.start()
        try:
            rcvd, msgs = await expect_close(c, 4002, timeout=exp - time.time() + 3)
            closed_at = time.time()
        finally:
            stop.set()
            th.join()
        assert rcvd.reason == "token expired", rcvd
        assert closed_at <= exp + 2, f"closed {closed_at - exp:.2f}s after exp"
        late = [m["id"] for m in msgs
                if m.get("type") == "item" and sent.get(m["id"], 0) > exp + 0.3]
        assert not late, f"items published after the expiry were delivered: {late}"
        assert [m for m in msgs if m.get("type") == "item"], "nothing delivered before expiry"
        await await_until(lambda: closes(tokd, "token_expired") == before + 1,
                          what="token_expired counted")

    run(scenario())


def test_refreshing_the_token_extends_the_session(tokd):
    async def scenario():
        exp = int(time.time()) + 2
        c, _ = await open_with_token(tokd, tok(ttl=None, exp=exp), "query")
        await c.subscribe("monde/afrique")
        fresh = tok(ttl=300)
        await c.send({"op": "auth", "token": fresh})
        auth = await c.recv_type("authenticated")
        assert rfc3339_to_epoch(auth["expires"]) > exp + 200
        # past the first token's expiry, the session lives on
        while time.time() < exp + 1.5:
            await c.send({"op": "ping"})
            await c.recv_type("pong")
            await asyncio.sleep(0.3)
        ident = await apublished(tokd, ["monde/afrique"])
        assert (await c.recv_type("item"))["id"] == ident
        await c.close()

    run(scenario())


def test_reauth_must_cover_current_subscriptions(tokd):
    async def scenario():
        before = closes(tokd, "forbidden")
        c, _ = await open_with_token(tokd, tok(["monde/#"]), "query")
        await c.subscribe("monde/afrique", "sport")
        # covers monde/afrique (sport is public): accepted
        await c.send({"op": "auth", "token": tok(["monde/afrique"])})
        assert (await c.recv_type("authenticated"))["topics"] == ["monde/afrique"]
        # the narrower grant applies from now on
        await c.send({"op": "subscribe", "topics": ["monde/europe"]})
        await expect_forbidden(c, "monde/europe")
        # does not cover monde/afrique: closed
        await c.send({"op": "auth", "token": tok(["international"])})
        rcvd, msgs = await expect_close(c, 4003)
        assert rcvd.reason == "token does not cover the subscriptions", rcvd
        await await_until(lambda: closes(tokd, "forbidden") == before + 1,
                          what="forbidden close counted")

    run(scenario())


def test_anonymous_session_may_authenticate_later(tokd):
    async def scenario():
        c = await connect(tokd)
        await c.subscribe("sport")
        await c.send({"op": "subscribe", "topics": ["monde"]})
        await expect_forbidden(c, "monde")
        await c.send({"op": "auth", "token": tok(["international"])})  # sport is public
        await c.recv_type("authenticated")
        await c.send({"op": "subscribe", "topics": ["monde"]})
        await expect_forbidden(c, "monde")
        await c.send({"op": "auth", "token": tok(["monde", "international"])})
        await c.recv_type("authenticated")
        await c.subscribe("monde")
        ident = await apublished(tokd, ["monde"])
        assert (await c.recv_type("item"))["id"] == ident
        await c.close()

    run(scenario())


# --------------------------------------------------------------------------
# max_conn per subject


def test_max_conn_per_subject(tokd):
    async def scenario():
        before = closes(tokd, "max_conn")
        t = tok(sub="partner", max_conn=2)
        s1, _ = await open_with_token(tokd, t, "query")
        s2, _ = await open_with_token(tokd, t, "header")
        s3 = await connect(tokd, token=t)
        rcvd, _ = await expect_close(s3, 4008)
        assert rcvd.reason == "too many sessions for this token", rcvd
        # the limit is per subject
        o1, _ = await open_with_token(tokd, tok(sub="other", max_conn=1), "query")
        # a refresh on a counted session does not count it twice
        await s2.send({"op": "auth", "token": tok(sub="partner", max_conn=2)})
        await s2.recv_type("authenticated")
        s4 = await connect(tokd)
        await s4.send({"op": "auth", "token": t})
        await expect_close(s4, 4008)
        await await_until(lambda: closes(tokd, "max_conn") == before + 2,
                          what="max_conn closes counted")
        # one leaves: a new one is accepted
        await s1.close()
        await await_until(lambda: sessions_open(tokd) == 2, what="s1 released")
        s5, _ = await open_with_token(tokd, t, "query")
        await s5.subscribe("monde/#")
        ident = await apublished(tokd, ["monde"])
        assert (await s5.recv_type("item"))["id"] == ident
        for c in (s2, s5, o1):
            await c.close()

    run(scenario())


# --------------------------------------------------------------------------
# Public keys (RS256, ES256) and algorithm confusion


def _keypair(kind):
    if kind == "RS256":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP256R1())
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return priv, pub


@pytest.fixture(scope="module")
def keys():
    return {kind: (_keypair(kind), _keypair(kind)) for kind in ("RS256", "ES256")}


def pk_daemon(start_daemon, tmp_path, pub_pem):
    path = tmp_path / "jwt-public.pem"
    path.write_bytes(pub_pem)
    return start_daemon("--set", f"public_topics={PUBLIC}", "--set", f"jwt_public_key={path}"), path


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_public_key_tokens_are_accepted(start_daemon, tmp_path, keys, alg):
    (priv, pub), (other_priv, _) = keys[alg]
    d, _ = pk_daemon(start_daemon, tmp_path, pub)

    async def scenario():
        c, auth = await open_with_token(d, tok(key=priv, algorithm=alg, sub="pk"), "query")
        assert auth["sub"] == "pk"
        await c.subscribe("monde/#")
        ident = await apublished(d, ["monde/asie"])
        assert (await c.recv_type("item"))["id"] == ident
        await c.close()
        # signed by another key of the same kind
        c = await connect(d, token=tok(key=other_priv, algorithm=alg))
        await expect_close(c, 4001)
        # the other asymmetric algorithm, with its own key
        other_alg = "ES256" if alg == "RS256" else "RS256"
        c = await connect(d, token=tok(key=keys[other_alg][0][0], algorithm=other_alg))
        await expect_close(c, 4001)
        # HS256 with the shared secret of other daemons
        c = await connect(d, token=tok())
        await expect_close(c, 4001)

    run(scenario())


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_hs256_signed_with_the_public_key_is_refused(start_daemon, tmp_path, keys, alg):
    """Algorithm confusion: an HS256 token whose HMAC key is the PEM public
    key itself (byte for byte as the daemon reads it) must not pass."""
    (_, pub), _ = keys[alg]
    d, path = pk_daemon(start_daemon, tmp_path, pub)
    pem = path.read_bytes()

    async def scenario():
        before = closes(d, "token_invalid")
        for secret in (pem, pem.rstrip(b"\n")):
            for via in ("query", "op"):
                token = hs256(secret, claims(["#"], sub="attacker"))
                if via == "query":
                    c = await connect(d, token=token)
                else:
                    c = await connect(d)
                    await c.send({"op": "auth", "token": token})
                rcvd, msgs = await expect_close(c, 4001)
                assert not [m for m in msgs if m.get("type") == "authenticated"], msgs
        await await_until(lambda: closes(d, "token_invalid") == before + 4,
                          what="token_invalid counted")

    run(scenario())


# --------------------------------------------------------------------------
# Configuration of the keys


def test_jwt_secret_from_a_file(start_daemon, tmp_path):
    path = tmp_path / "jwt.secret"
    path.write_text(SECRET + "\n")
    d = start_daemon("--set", f"public_topics={PUBLIC}", "--set", f"jwt_secret=file:{path}")

    async def scenario():
        c, _ = await open_with_token(d, tok(), "query")
        await c.subscribe("monde")
        await c.close()
        c = await connect(d, token=tok(key=SECRET + "\n"))  # the newline is not part of it
        await expect_close(c, 4001)

    run(scenario())


@pytest.mark.parametrize("args,words", [
    (["--set", "jwt_secret=" + "s" * 31], ["jwt_secret", "32"]),
    (["--set", "jwt_secret=file:/nonexistent/secret"], ["jwt_secret", "/nonexistent/secret"]),
    (["--set", "jwt_secret=" + SECRET, "--set", "jwt_public_key=/etc/hostname"],
     ["jwt_secret", "jwt_public_key"]),
    (["--set", "jwt_public_key=/etc/hostname"], ["jwt_public_key", "PEM"]),
    (["--set", "public_topics=Monde"], ['"Monde"']),
], ids=["short-secret", "missing-secret-file", "both-keys", "not-pem", "bad-public-topics"])
def test_bad_key_configuration_is_refused_at_start(args, words):
    r = run_newswired(*args, "--check-config")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    for w in words:
        assert w in r.stderr, (w, r.stderr)


# --------------------------------------------------------------------------
# SIGHUP reloads the subscriber policy too


def test_sighup_reloads_the_subscriber_policy(start_daemon, tmp_path):
    cfg = tmp_path / "policy.conf"
    write_config(cfg, head=f'public_topics = "sport/#, meteo"\njwt_secret = "{SECRET}"\n')
    d = start_daemon("--config", str(cfg))

    def reload(head, marker):
        n = d.log().count(marker)
        write_config(cfg, head=head)
        d.proc.send_signal(signal.SIGHUP)
        return lambda: d.log().count(marker) == n + 1

    async def scenario():
        revoked = await connect(d)
        await revoked.subscribe("meteo")
        old = await connect(d)
        await old.subscribe("sport/foot")
        # narrower public topics: new subscriptions follow them, and a
        # session holding a pattern no longer allowed is closed (4003)
        done = reload(f'public_topics = "sport/#"\njwt_secret = "{SECRET}"\n',
                      "configuration reloaded")
        await await_until(done, what="reload logged")
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await revoked.recv(timeout=5)
        assert revoked.ws.close_code == 4003
        assert revoked.ws.close_reason == "no longer allowed"
        c = await connect(d)
        await c.send({"op": "subscribe", "topics": ["meteo"]})
        await expect_forbidden(c, "meteo")
        await c.subscribe("sport/foot")
        # a session still within the policy stays open
        await old.send({"op": "ping"})
        await old.recv_type("pong")
        # a broken policy is refused; the running one stays in force
        done = reload('public_topics = "sport/#"\njwt_secret = "too-short"\n', "reload refused")
        await await_until(done, what="refused reload logged")
        assert d.proc.poll() is None
        t, _ = await open_with_token(d, tok(["monde/#"]), "query")
        await t.subscribe("monde")
        c2 = await connect(d)
        await c2.send({"op": "subscribe", "topics": ["meteo"]})
        await expect_forbidden(c2, "meteo")
        for x in (old, c, t, c2):
            await x.close()

    run(scenario())
