"""Process lifecycle: graceful stop on SIGTERM/SIGINT (clients see 1012, exit
status 0), and the command line and config file (README "Running")."""

import asyncio
import re
import signal
import socket
import subprocess

import pytest
from websockets.exceptions import ConnectionClosed

from conftest import (NEWSWIRED, connect, free_port, in_thread, make_item, run, run_newswired,
                      wait_until)

# Every key deploy/newswired.conf documents.
KEYS = ["redis", "listen", "api_listen", "log_level", "redis_prefix", "redis_connect_timeout",
        "redis_command_timeout", "redis_reconnect_max", "wire_maxlen", "topic_maxlen",
        "wire_read_count", "wire_block", "api_max_body", "api_max_header_bytes",
        "api_max_headers", "api_max_connections", "api_header_timeout", "api_body_timeout",
        "api_idle_timeout", "ingest_max_pending", "gateway_threads", "ws_max_frame",
        "ws_max_topics", "session_queue_bytes", "ws_ping_interval", "ws_idle_timeout",
        "ws_handshake_timeout", "handoff_queue_events", "shutdown_timeout"]


def parse_check_config(out):
    """--check-config output as {key: value}."""
    values = {}
    for line in out.splitlines():
        if line.strip():
            k, sep, v = line.partition(" = ")
            assert sep, f"not a 'key = value' line: {line!r}"
            values[k.strip()] = v.strip()
    return values


def refused(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


# --- signals ------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_closes_sessions_with_1012_and_exits_0(start_daemon, sig):
    d = start_daemon()

    async def scenario():
        clients = [await connect(d, topics="sport"),
                   await connect(d, fmt="msgpack", topics="sport"),
                   await connect(d)]
        for c in clients[:2]:
            await c.recv_type("subscribed")
        # An item queued just before the signal is flushed before the close.
        r = await in_thread(d.publish, make_item(urgency=1), ["sport"])
        assert r.status == 202
        for c in clients[:2]:
            assert (await c.recv_type("item"))["id"] == r.json()["id"]
        d.proc.send_signal(sig)
        for c in clients:
            with pytest.raises(ConnectionClosed) as e:
                while True:
                    await asyncio.wait_for(c.ws.recv(), 10)
            assert e.value.rcvd is not None, "no close frame from the server"
            assert e.value.rcvd.code == 1012, e.value
            assert e.value.rcvd.reason == "service restart"
        rc = await in_thread(d.proc.wait, 20)
        assert rc == 0, d.log()[-3000:]

    run(scenario())
    assert d.stop() == 0
    assert "level=error" not in d.log(), d.log()[-3000:]


def test_sigterm_without_clients_exits_0_promptly(start_daemon):
    d = start_daemon()
    d.proc.send_signal(signal.SIGTERM)
    rc = d.proc.wait(timeout=5)  # far under shutdown_timeout (10 s)
    assert rc == 0, d.log()[-3000:]
    assert refused(d.port) and refused(d.api_port)


def test_stopped_daemon_refuses_new_connections(start_daemon):
    d = start_daemon()
    assert d.stop() == 0
    assert refused(d.port)
    assert refused(d.api_port)


# --- command line -----------------------------------------------------------------


def test_help_lists_every_key():
    p = run_newswired("--help")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "Usage" in out or "usage" in out
    for flag in ("--config", "--redis", "--listen", "--api-listen", "--log-level", "--set",
                 "--check-config", "--help", "--version"):
        assert flag in out, flag
    keys = set(KEYS) | set(parse_check_config(run_newswired("--check-config").stdout))
    for key in sorted(keys):
        assert re.search(rf"^\s+{key}\s", out, re.M), f"--help does not list {key}"


def test_version():
    p = run_newswired("--version")
    assert p.returncode == 0, p.stderr
    assert re.match(r"^newswired \d+\.\d+\.\d+\S*\n?$", p.stdout), p.stdout
    short = run_newswired("-V")
    assert short.returncode == 0 and short.stdout == p.stdout


@pytest.mark.parametrize("args,names", [
    (["--frobnicate"], ["--frobnicate"]),
    (["-x"], ["-x"]),
    (["--set", "nosuchkey=1"], ["nosuchkey"]),
    (["--set", "novalue"], ["set"]),
    (["--listen", "notanaddress"], ["listen"]),
    (["--listen", "127.0.0.1:99999"], ["listen"]),
    (["--api-listen", "127.0.0.1"], ["api_listen"]),
    (["--redis", "http://localhost"], ["redis"]),
    (["--log-level", "chatty"], ["log_level"]),
    (["--set", "ws_max_topics=0"], ["ws_max_topics"]),
    (["--set", "session_queue_bytes=12q"], ["session_queue_bytes"]),
    (["--set", "shutdown_timeout=forever"], ["shutdown_timeout"]),
    (["--config", "/nonexistent/newswired.conf"], ["/nonexistent/newswired.conf"]),
    (["stray-argument"], ["stray-argument"]),
    (["--listen"], ["--listen"]),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_bad_command_line_exits_2_naming_the_problem(args, names):
    p = run_newswired(*args)
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    for name in names:
        assert name in p.stderr, p.stderr
    assert p.stdout == ""


def test_check_config_prints_effective_values():
    p = run_newswired("--check-config", "--set", "session_queue_bytes=16k",
                      "--listen", "127.0.0.1:9999", "--set", "shutdown_timeout=2s",
                      "--redis", "redis://127.0.0.1:7777/3", "--log-level", "warn")
    assert p.returncode == 0, p.stderr
    values = parse_check_config(p.stdout)
    assert set(KEYS) <= set(values), set(KEYS) - set(values)
    assert values["session_queue_bytes"] == "16384"
    assert values["listen"] == "127.0.0.1:9999"
    assert values["shutdown_timeout"] == "2000ms"
    assert values["redis"] == "redis://127.0.0.1:7777/3"
    assert values["log_level"] == "warn"
    # defaults
    assert values["api_listen"] == "127.0.0.1:8081"
    assert values["ws_max_topics"] == "64"
    assert values["ws_max_frame"] == "4096"
    assert values["api_max_body"] == "1048576"
    assert values["redis_prefix"] == '"{nw}:"'


def test_check_config_masks_the_redis_password():
    p = run_newswired("--check-config", "--redis", "redis://:s3cr3t-pw@127.0.0.1:6379/0")
    assert p.returncode == 0, p.stderr
    assert "s3cr3t-pw" not in p.stdout


def test_check_config_shows_only_whether_secrets_are_set(tmp_path):
    secret = "j" * 40
    p = run_newswired("--check-config", "--set", f"jwt_secret={secret}", "--set",
                      "sentinel_password=s3ntinel-pw")
    assert p.returncode == 0, p.stderr
    assert secret not in p.stdout and "s3ntinel-pw" not in p.stdout
    values = parse_check_config(p.stdout)
    assert values["jwt_secret"] == "(set)" and values["sentinel_password"] == "(set)"
    key = tmp_path / "jwt.key"
    key.write_text(secret)
    values = parse_check_config(run_newswired("--check-config", "--set",
                                              f"jwt_secret=file:{key}").stdout)
    assert values["jwt_secret"] == f'"file:{key}"', "a file reference is a path, shown"
    assert parse_check_config(run_newswired("--check-config").stdout)["jwt_secret"] == '""'


def test_config_file_unknown_key_exits_2_naming_file_line_and_key(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("# a comment\n\nlisten = 127.0.0.1:18080\nfrobnication = yes\n")
    p = run_newswired("--config", str(conf))
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert f"{conf}:4" in p.stderr, p.stderr
    assert "frobnication" in p.stderr


def test_config_file_bad_value_exits_2_naming_file_line_and_key(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("ws_max_topics = 64\napi_listen = nowhere\n")
    p = run_newswired("--config", str(conf), "--check-config")
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert f"{conf}:2" in p.stderr and "api_listen" in p.stderr, p.stderr


def test_config_file_syntax_error_exits_2(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("listen 127.0.0.1:1\n")
    p = run_newswired("--config", str(conf))
    assert p.returncode == 2
    assert f"{conf}:1" in p.stderr, p.stderr


def test_config_file_is_honoured(start_daemon, redis_server, tmp_path):
    port, api_port = free_port(), free_port()
    conf = tmp_path / "newswired.conf"
    conf.write_text(
        "# newswired test configuration\n"
        f"listen = 127.0.0.1:{port}\n"
        f'api_listen = "127.0.0.1:{api_port}"   \n'
        f"redis = {redis_server.url}  # the test redis\n"
        f"redis_prefix = t{port}:\n"
        "ws_max_topics = 3\n")
    p = run_newswired("--config", str(conf), "--check-config")
    assert p.returncode == 0, p.stderr
    values = parse_check_config(p.stdout)
    assert values["listen"] == f"127.0.0.1:{port}"
    assert values["api_listen"] == f"127.0.0.1:{api_port}"
    assert values["redis"] == redis_server.url
    assert values["ws_max_topics"] == "3"

    d = start_daemon(argv=["--config", str(conf)], port=port, api_port=api_port)

    async def scenario():
        c = await connect(d, hello=False)
        hello = await c.recv_type("hello")
        assert hello["limits"]["max_topics"] == 3
        await c.subscribe("sport")
        r = await in_thread(d.publish, make_item(), ["sport"])
        assert r.status == 202, r
        assert (await c.recv_type("item"))["id"] == r.json()["id"]
        await c.close()

    run(scenario())
    assert redis_server.client().xlen(f"t{port}:wire") == 1


def test_flags_override_the_config_file(start_daemon, redis_server, tmp_path):
    file_port, file_api = free_port(), free_port()
    port, api_port = free_port(), free_port()
    conf = tmp_path / "newswired.conf"
    conf.write_text(f"listen = 127.0.0.1:{file_port}\napi_listen = 127.0.0.1:{file_api}\n"
                    f"redis = redis://127.0.0.1:1/0\nws_max_topics = 3\n"
                    f"redis_prefix = file:\n")
    argv = ["--listen", f"127.0.0.1:{port}", "--config", str(conf),
            "--api-listen", f"127.0.0.1:{api_port}", "--redis", redis_server.url,
            "--set", "ws_max_topics=5", "--set", f"redis_prefix=t{port}:"]
    p = run_newswired(*argv, "--check-config")
    assert p.returncode == 0, p.stderr
    values = parse_check_config(p.stdout)
    assert values["listen"] == f"127.0.0.1:{port}"
    assert values["api_listen"] == f"127.0.0.1:{api_port}"
    assert values["redis"] == redis_server.url
    assert values["ws_max_topics"] == "5"

    d = start_daemon(argv=argv, port=port, api_port=api_port)
    assert refused(file_port) and refused(file_api)

    async def scenario():
        c = await connect(d, hello=False)
        assert (await c.recv_type("hello"))["limits"]["max_topics"] == 5
        await c.close()

    run(scenario())


def test_check_config_does_not_start_the_daemon(redis_server):
    port, api_port = free_port(), free_port()
    p = subprocess.run([NEWSWIRED, "--check-config", "--listen", f"127.0.0.1:{port}",
                        "--api-listen", f"127.0.0.1:{api_port}", "--redis", redis_server.url],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 0
    assert refused(port) and refused(api_port)


@pytest.mark.parametrize("busy_flag", ["--api-listen", "--listen"])
def test_listen_port_in_use_fails_to_start(redis_server, tmp_path, busy_flag):
    """Either listener's port taken: the daemon says so and exits non-zero,
    having freed what it set up (the gateway's event loop included: the
    ASan+UBSan build reports a leak here otherwise)."""
    other = "--listen" if busy_flag == "--api-listen" else "--api-listen"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        p = subprocess.run([NEWSWIRED, busy_flag, f"127.0.0.1:{port}",
                            other, f"127.0.0.1:{free_port()}", "--redis", redis_server.url],
                           capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "listen" in p.stderr.lower(), p.stderr
    assert "Sanitizer" not in p.stderr, p.stderr


def test_publishes_racing_sigterm(start_daemon):
    """A publish racing with SIGTERM gets an answer (a 2xx or a refused
    connection), never a half-written response, and the daemon exits 0."""
    d = start_daemon()
    codes = []
    for i in range(20):
        if i == 10:
            d.proc.send_signal(signal.SIGTERM)
        try:
            codes.append(d.publish(make_item(), ["sport"]).status)
        except (ConnectionRefusedError, ConnectionResetError):
            codes.append("refused")
    wait_until(lambda: d.proc.poll() is not None, timeout=15, what="exit")
    assert d.proc.returncode == 0
    assert codes[:10] == [202] * 10
    assert all(c in (202, 503, "refused") for c in codes), codes
