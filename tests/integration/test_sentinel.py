"""Redis high availability (issue 9): Sentinel discovery and failover,
replicated acknowledgements (ack_replicas), reading the wire from a replica
(wire_read), the wire's continuity when the promoted replica missed writes,
and the configuration checks. Real processes on loopback: a master, a
replica and three Sentinels (sentinel_helpers.Topology), real newswired
processes, WebSocket clients."""

import asyncio
import json
import http.client
import random
import subprocess
import threading
import time

import pytest
import websockets

from conftest import (NEWSWIRED, Client, connect, free_port, make_item, metric, run, stream_id,
                      wait_until)
from resume_helpers import cursor_of, drop, published, read_items
from sentinel_helpers import Topology


@pytest.fixture
def topology(tmp_path):
    t = Topology(tmp_path / "ha").start()
    yield t
    t.stop()


@pytest.fixture
def topology2(tmp_path):
    """Two replicas: after a failover the new master still has one, so
    ack_replicas = 1 can be met again."""
    t = Topology(tmp_path / "ha", replicas=2).start()
    yield t
    t.stop()


def sentinel_daemon(start_daemon, topology, *args, wait_ready=True):
    return start_daemon("--set", "redis_reconnect_max=300ms", "--set",
                        "redis_command_timeout=1s", "--set", "redis_connect_timeout=500ms",
                        *args, redis_url=topology.url(), wait_ready=wait_ready)


def publish_until_acknowledged(d, item, topics, deadline, unavailable):
    """POSTs item until it gets a 2xx (503s and refused connections are
    retried: the same uri+version is idempotent); returns the receipt."""
    while True:
        assert time.monotonic() < deadline, f"{item['uri']} never acknowledged"
        try:
            r = d.publish(item, topics)
        except (OSError, http.client.HTTPException):
            unavailable.append(time.monotonic())
            time.sleep(0.05)
            continue
        if r.status == 503:
            assert r.headers.get("retry-after") == "1", r.headers
            unavailable.append(time.monotonic())
            time.sleep(0.05)
            continue
        assert r.status in (200, 202), r
        return r.json()


# --------------------------------------------------------------------------
# Configuration

@pytest.mark.parametrize("args,key", [
    (["--redis", "sentinel://127.0.0.1:26379"], "redis"),
    (["--redis", "sentinel://127.0.0.1:26379/"], "redis"),
    (["--redis", "sentinel://h1,,h2/mymaster"], "redis"),
    (["--redis", "sentinel://h1:99999/mymaster"], "redis"),
    (["--redis", "sentinel://h1/my master"], "redis"),
    (["--redis", "sentinel://1,2,3,4,5,6,7,8,9/m"], "redis"),
    (["--set", "wire_read=replica"], "wire_read"),
    (["--set", "wire_read=sometimes"], "wire_read"),
    (["--set", "redis_cluster=1", "--set", "redis_prefix=nw:"], "redis_prefix"),
    (["--redis", "sentinel://h/m", "--set", "redis_replica=redis://r:6380"], "redis_replica"),
    (["--set", "ack_replicas=17"], "ack_replicas"),
])
def test_bad_ha_configuration_exits_2_naming_the_key(args, key):
    p = subprocess.run([NEWSWIRED, *args, "--check-config"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert f"newswired: {key}:" in p.stderr, p.stderr


def test_sentinel_url_accepted_by_check_config():
    p = subprocess.run([NEWSWIRED, "--redis", "sentinel://:pw@127.0.0.1:26379,[::1]/news/2",
                        "--set", "wire_read=replica", "--set", "ack_replicas=1",
                        "--check-config"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    assert "redis = sentinel://***@hosts (password set)" in p.stdout, p.stdout
    assert "wire_read = replica" in p.stdout and "ack_replicas = 1" in p.stdout


def test_sentinels_with_a_password(tmp_path, start_daemon):
    """Sentinels with requirepass are asked after AUTH sentinel_password;
    with a wrong one the daemon says so and stays unready."""
    t = Topology(tmp_path / "ha", sentinel_password="sentinel-pw").start()
    try:
        wrong = sentinel_daemon(start_daemon, t, "--set", "sentinel_password=not-it",
                                wait_ready=False)
        d = sentinel_daemon(start_daemon, t, "--set", "sentinel_password=sentinel-pw")
        r = d.publish(make_item(), ["monde"])
        assert r.status == 202 and json.loads(r.body)["status"] == "published", r.body
        wait_until(lambda: "the Sentinel refused sentinel_password" in wrong.log(),
                   what="the refusal in the log")
        assert wrong.api("GET", "/readyz").status == 503
        assert wrong.stop() == 0
    finally:
        t.stop()


# --------------------------------------------------------------------------
# Replicated acknowledgement

def test_wait_timeout_without_replica_answers_503_also_on_retry(start_daemon):
    d = start_daemon("--set", "ack_replicas=1", "--set", "ack_timeout=100ms")
    item = make_item(headline="pas de réplique")
    for attempt in range(2):
        r = d.publish(item, ["ha/wait"])
        assert r.status == 503, r
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"].startswith("application/json")
        assert "retry with the same uri and version" in r.json()["error"], r.json()
    # the item is stored (the master has it): the retry was an idempotent
    # duplicate, and it too waited for the replica before answering
    assert d.api("GET", "/v1/articles/" + item["uri"].replace(":", "%3A")).status == 200
    assert metric(d, 'newswire_ack_waits_total{result="short"}') == 2
    assert metric(d, 'newswire_ack_waits_total{result="acknowledged"}') == 0


def test_wait_acknowledged_by_a_replica(topology, start_daemon):
    d = sentinel_daemon(start_daemon, topology, "--set", "ack_replicas=1")
    body = published(d, make_item(), ["ha/wait"])
    assert metric(d, 'newswire_ack_waits_total{result="acknowledged"}') == 1
    replica = topology.replicas[0].client()
    assert replica.xrange(f"{d.prefix}wire", body["id"], body["id"]), "not on the replica"


# --------------------------------------------------------------------------
# Failover

TOTAL = 150
KILL_AT = 50


def run_failover(topology, d, subscribers=2):
    """Publishes TOTAL items one after the other (each retried until it gets
    a 2xx), SIGKILLs the master after KILL_AT receipts, while subscribers
    keep disconnecting and resuming with their cursor. Returns (receipts,
    per-subscriber results, seconds from the kill to the next 2xx,
    unavailable answers)."""
    marker = published(d, make_item(headline="départ"), ["ha"])
    receipts, unavailable, errors, failover = [], [], [], []
    done = threading.Event()
    deadline = time.monotonic() + 60

    def publisher():
        try:
            for i in range(TOTAL):
                item = make_item(headline=f"ha {i}")
                if len(receipts) == KILL_AT:
                    killed = time.monotonic()
                    topology.master.kill()
                body = publish_until_acknowledged(d, item, ["ha/a" if i % 2 else "ha/b"],
                                                  deadline, unavailable)
                if len(receipts) == KILL_AT:
                    failover.append(time.monotonic() - killed)
                receipts.append(body["id"])
                time.sleep(0.01)
        except BaseException as e:
            errors.append(e)
        finally:
            done.set()

    async def subscriber(n):
        rnd = random.Random(n)
        cursor, epoch = marker["id"], None
        ids, not_recovered, sessions = [], [], 0
        while not (done.is_set() and len(set(ids)) >= len(receipts)):
            assert time.monotonic() < deadline, f"subscriber {n}: {len(ids)} of {len(receipts)}"
            q = {"topics": "ha/#", "since": cursor, **({"epoch": epoch} if epoch else {})}
            try:
                ws = await websockets.connect(d.ws_url(**q), subprotocols=["newswire.v1.json"],
                                              open_timeout=5, close_timeout=2)
                c = Client(ws, "json")
                await c.recv_type("hello", timeout=5)
                sub = await c.recv_type("subscribed", timeout=10)
            except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake,
                    websockets.ConnectionClosed):
                await asyncio.sleep(0.1)  # 1013 "retry" while Redis switches
                continue
            sessions += 1
            if sub["recovered"] is not True:
                not_recovered.append(sub)
            epoch = sub["epoch"]
            end = time.monotonic() + rnd.uniform(0.2, 0.6)
            try:
                while time.monotonic() < end:
                    try:
                        m = await c.recv(timeout=0.2)
                    except asyncio.TimeoutError:
                        if done.is_set() and len(set(ids)) >= len(receipts):
                            break
                        continue
                    assert m["type"] == "item", m
                    ids.append(m["id"])
                    cursor = cursor_of(m)
                await drop(c)
            except websockets.ConnectionClosed:
                await asyncio.sleep(0.05)
        return ids, not_recovered, sessions

    async def scenario():
        t = threading.Thread(target=publisher, daemon=True)
        t.start()
        results = await asyncio.gather(*(subscriber(n) for n in range(subscribers)))
        t.join(30)
        return results

    results = run(scenario())
    assert not errors, errors
    assert len(receipts) == TOTAL and failover, (len(receipts), failover)
    return receipts, results, failover[0], unavailable


def test_failover_with_ack_replicas_every_acknowledged_item_reaches_every_subscriber_once(
        topology2, start_daemon):
    topology = topology2
    d = sentinel_daemon(start_daemon, topology, "--set", "ack_replicas=1",
                        "--set", "ack_timeout=500ms")
    old = topology.master.port
    receipts, results, failover_s, unavailable = run_failover(topology, d)
    assert topology.master_port() != old
    assert metric(d, "newswire_redis_failovers_total") >= 1
    assert unavailable, "the publisher never saw the switch"
    # every 2xx is on the new master's wire
    new = topology.node(topology.master_port()).client()
    on_wire = {e[0] for e in new.xrange(f"{d.prefix}wire")}
    assert set(receipts) <= on_wire, sorted(set(receipts) - on_wire)
    want = sorted(receipts, key=stream_id)
    for n, (ids, not_recovered, sessions) in enumerate(results):
        assert len(ids) == len(set(ids)), f"subscriber {n}: duplicates"
        assert not not_recovered, (n, not_recovered[:2])
        assert [i for i in ids if i in set(receipts)] == want, f"subscriber {n}: missing items"
        assert sessions >= 3, (n, sessions)
    print(f"\nFIGURE failover (ack_replicas=1): first 2xx {failover_s:.2f}s after SIGKILL "
          f"of the master; {len(unavailable)} publish attempts answered 503 meanwhile; "
          f"0 of {len(receipts)} acknowledged items lost")


def test_failover_without_ack_replicas_reports_lost_items(topology, start_daemon):
    d = sentinel_daemon(start_daemon, topology)
    receipts, results, failover_s, unavailable = run_failover(topology, d, subscribers=1)
    new = topology.node(topology.master_port()).client()
    on_wire = {e[0] for e in new.xrange(f"{d.prefix}wire")}
    lost = [r for r in receipts if r not in on_wire]
    # a figure, not an assertion: replication on loopback is fast, so the
    # master usually dies with nothing unreplicated
    print(f"\nFIGURE failover (ack_replicas=0): first 2xx {failover_s:.2f}s after SIGKILL; "
          f"{len(lost)} of {len(receipts)} acknowledged items lost")
    ids = results[0][0]
    assert len(ids) == len(set(ids)), "duplicates"
    assert set(receipts) - set(lost) <= set(ids), "an item on the wire was not delivered"


async def subscribed_with(d, since, epoch=None):
    c = await connect(d)
    sub = await c.subscribe("ha/#", since=since, **({"epoch": epoch} if epoch else {}))
    await c.close()
    return sub


def test_cursor_ahead_of_the_promoted_replica_is_not_recovered(topology, start_daemon):
    d = sentinel_daemon(start_daemon, topology)
    replica = topology.replicas[0]

    async def scenario():
        live = await connect(d)
        await live.subscribe("ha/#")
        for i in range(3):
            published(d, make_item(headline=f"répliqué {i}"), ["ha/x"])
        first = await subscribed_with(d, cursor_of((await read_items(live, 3))[-1]))
        assert first["recovered"] is True
        wait_until(lambda: replica.client().xlen(f"{d.prefix}wire") == 3,
                   what="the replica to have the first items")
        # cut replication: the replica cannot authenticate to its master
        # any more, so it misses what follows
        rc = replica.client()
        rc.config_set("masterauth", "not-the-password")
        rc.execute_command("CLIENT", "KILL", "TYPE", "master")
        wait_until(lambda: topology.master.client().info("replication")["connected_slaves"] == 0,
                   what="replication to stop")
        for i in range(3):
            published(d, make_item(headline=f"perdu {i}"), ["ha/x"])
        ahead = cursor_of((await read_items(live, 3))[-1])
        assert rc.xlen(f"{d.prefix}wire") == 3, "the replica got the writes anyway"
        topology.master.kill()
        wait_until(lambda: topology.master_port() == replica.port, timeout=30,
                   what="the replica to be promoted")
        await asyncio.sleep(0)
        await in_loop_wait(lambda: metric(d, "newswire_redis_failovers_total") >= 1 and
                           d.api("GET", "/readyz").status == 200, "newswired on the new master")
        # ahead of the new master's wire: told, not silently skipped
        sub = await subscribed_with(d, ahead)
        assert sub["recovered"] is False, sub
        # the tail saw its last entries gone and renewed the epoch
        await in_loop_wait(lambda: metric(d, "newswire_wire_resyncs_total") >= 1, "a resync")
        await in_loop_wait(lambda: d.api("GET", "/readyz").status == 200, "ready")
        # new items reach the live session (the tail reads the new master)
        body = published(d, make_item(headline="après"), ["ha/x"])
        got = await read_items(live, 1, timeout=10)
        assert got[0]["id"] == body["id"]
        sub = await subscribed_with(d, ahead, first["epoch"])
        assert sub["recovered"] is False and sub["epoch"] != first["epoch"], sub
        # a cursor the new master has, with the new epoch, resumes
        sub = await subscribed_with(d, body["id"], sub["epoch"])
        assert sub["recovered"] is True, sub
        await live.close()

    run(scenario())


async def in_loop_wait(predicate, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


# --------------------------------------------------------------------------
# Reading the wire from a replica

def test_wire_read_replica_delivers_and_replays(topology, start_daemon):
    d = sentinel_daemon(start_daemon, topology, "--set", "wire_read=replica")
    replica = topology.replicas[0].client()
    wait_until(lambda: any(c.get("cmd") == "xread" for c in replica.client_list()),
               what="the wire tail's XREAD BLOCK on the replica")
    assert not any(c.get("cmd") == "xread" for c in topology.master.client().client_list())

    async def scenario():
        c = await connect(d)
        await c.subscribe("ha/#")
        bodies = [published(d, make_item(headline=f"réplique {i}"), ["ha/r"]) for i in range(5)]
        got = await read_items(c, 5, timeout=10)
        assert [m["id"] for m in got] == [b["id"] for b in bodies]
        await c.close()
        # a resume replays from the replica
        c2 = await connect(d)
        sub = await c2.subscribe("ha/#", since=bodies[1]["id"])
        assert sub["recovered"] is True, sub
        replayed = await read_items(c2, 3, timeout=10)
        assert [m["id"] for m in replayed] == [b["id"] for b in bodies[2:]]
        await c2.close()

    run(scenario())
    assert "reading the wire from a replica" in d.log()


# --------------------------------------------------------------------------
# Redis Cluster: every key in one slot

@pytest.fixture
def cluster_node(tmp_path):
    from sentinel_helpers import Node
    n = Node(tmp_path, "cluster")
    n.start(["redis-server", "--port", str(n.port), "--bind", "127.0.0.1", "--dir", str(n.dir),
             "--cluster-enabled", "yes", "--cluster-config-file", str(n.dir / "nodes.conf"),
             "--cluster-port", str(free_port()),  # not port + 10000: may be over 65535
             "--appendonly", "no", "--save", "", "--logfile", str(n.dir / "redis.log")])
    n.client().execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
    wait_until(lambda: n.client().cluster("info")["cluster_state"] == "ok", timeout=20,
               what="cluster_state:ok")
    yield n
    n.stop()


def test_scripts_run_on_a_cluster_node_with_the_hash_tag(cluster_node, start_daemon):
    url = f"redis://127.0.0.1:{cluster_node.port}/0"
    tag = f"{{t{random.randrange(1 << 30):x}}}:"
    d = start_daemon("--set", "redis_cluster=1", "--set", f"redis_prefix={tag}", redis_url=url)
    d.prefix = tag

    async def scenario():
        c = await connect(d)
        await c.subscribe("ha/#")
        a = published(d, make_item(headline="grappe"), ["ha/c", "autre"])
        held = d.publish(make_item(embargoed="2099-01-01T00:00:00Z"), ["ha/c"])
        assert held.status == 202 and held.json()["status"] == "embargoed", held
        got = await read_items(c, 1)
        assert got[0]["id"] == a["id"]
        r = d.api("DELETE", "/v1/articles/" + a["uri"].replace(":", "%3A"))
        assert r.status == 202, r
        kill = await c.recv_type("item", timeout=5)
        assert kill["kind"] == "kill" and kill["item"]["uri"] == a["uri"], kill
        await c.close()
        c2 = await connect(d)
        sub = await c2.subscribe("ha/#", since=a["id"])
        assert sub["recovered"] is True, sub
        await c2.close()
        c3 = await connect(d)
        sub = await c3.subscribe("ha/c", since="1-0", epoch="0" * 32)
        assert sub["recovered"] is False  # another epoch: recent items (recent.lua)
        await c3.close()

    run(scenario())
    assert "CROSSSLOT" not in d.log() and "hash to the same slot" not in d.log()
    keys = cluster_node.client().keys(f"{tag}*")
    slots = {cluster_node.client().cluster("keyslot", k) for k in keys}
    assert len(keys) >= 4 and len(slots) == 1, (keys, slots)


def test_a_prefix_without_hash_tag_fails_on_a_cluster_node(cluster_node, start_daemon):
    """Why the tag: the same scripts with keys in several slots are refused."""
    url = f"redis://127.0.0.1:{cluster_node.port}/0"
    d = start_daemon(redis_url=url, wait_ready=False)  # conftest's prefix: no hash tag
    wait_until(lambda: "hash to the same slot" in d.log(), what="the cluster's refusal")
    assert d.api("GET", "/readyz").status == 503
