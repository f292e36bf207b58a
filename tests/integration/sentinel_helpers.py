"""A Redis high-availability topology for the tests: one master, replicas
and three Sentinels (real redis-server processes, `redis-server --sentinel`),
on free loopback ports in a temporary folder, with short failure-detection
times so that a failover takes a few seconds."""

import pathlib
import subprocess

import redis as redis_py

from conftest import free_port, wait_until

MASTER_NAME = "nwtest"


class Node:
    """One redis-server (data node or Sentinel)."""

    def __init__(self, directory, name, password=None):
        self.dir = pathlib.Path(directory) / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.port = free_port()
        self.password = password
        self.proc = None

    def start(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._pings, timeout=20, what=f"{self.name} to answer PING")

    def _pings(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited: {self.log()[-2000:]}")
        try:
            return self.client().ping()
        except redis_py.exceptions.RedisError:
            return False

    def client(self):
        return redis_py.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                              socket_timeout=5, password=self.password)

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=20)
            self.proc = None

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def log(self):
        try:
            return (self.dir / "redis.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""


class Topology:
    """A master, `replicas` replicas and three Sentinels watching them
    (with sentinel_password, the Sentinels require it: requirepass, and
    sentinel-pass among themselves)."""

    def __init__(self, directory, replicas=1, down_after_ms=1000, failover_timeout_ms=3000,
                 sentinel_password=None):
        self.dir = pathlib.Path(directory)
        self.master = Node(self.dir, "master")
        self.replicas = [Node(self.dir, f"replica{i}") for i in range(replicas)]
        self.sentinels = [Node(self.dir, f"sentinel{i}", sentinel_password) for i in range(3)]
        self.sentinel_password = sentinel_password
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms

    def _data_argv(self, node, replicaof=None):
        argv = ["redis-server", "--port", str(node.port), "--bind", "127.0.0.1",
                "--dir", str(node.dir), "--appendonly", "no", "--save", "",
                "--daemonize", "no", "--logfile", str(node.dir / "redis.log"),
                "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"]
        if replicaof is not None:
            argv += ["--replicaof", "127.0.0.1", str(replicaof.port)]
        return argv

    def start(self):
        self.master.start(self._data_argv(self.master))
        for r in self.replicas:
            r.start(self._data_argv(r, self.master))
        wait_until(lambda: self.master.client().info("replication")["connected_slaves"]
                   == len(self.replicas), timeout=20, what="replicas to connect")
        for s in self.sentinels:
            conf = s.dir / "sentinel.conf"
            conf.write_text(
                f"port {s.port}\nbind 127.0.0.1\ndaemonize no\n"
                f"logfile {s.dir / 'redis.log'}\ndir {s.dir}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master.port} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}\n"
                f"sentinel failover-timeout {MASTER_NAME} {self.failover_timeout_ms}\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
                + (f"requirepass {self.sentinel_password}\n"
                   f"sentinel sentinel-pass {self.sentinel_password}\n"
                   if self.sentinel_password else ""))
            s.start(["redis-server", str(conf), "--sentinel"])
        # every Sentinel knows the replicas and the other Sentinels
        wait_until(self._sentinels_settled, timeout=30, what="Sentinels to discover each other")
        return self

    def _sentinels_settled(self):
        for s in self.sentinels:
            m = s.client().execute_command("SENTINEL", "master", MASTER_NAME)
            info = dict(zip(m[::2], m[1::2])) if isinstance(m, list) else m
            if int(info["num-other-sentinels"]) != 2 or \
                    int(info["num-slaves"]) != len(self.replicas):
                return False
        return True

    def url(self, password=""):
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"sentinel://{password}{hosts}/{MASTER_NAME}"

    def master_port(self):
        """The master's port as the Sentinels say now."""
        for s in self.sentinels:
            try:
                _, port = s.client().execute_command(
                    "SENTINEL", "get-master-addr-by-name", MASTER_NAME)
                return int(port)
            except redis_py.exceptions.RedisError:
                continue
        return None

    def node(self, port):
        for n in [self.master, *self.replicas]:
            if n.port == port:
                return n
        return None

    def stop(self):
        for n in [*self.sentinels, self.master, *self.replicas]:
            n.stop()
