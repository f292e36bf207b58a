"""Operations: the systemd units verify, and the Debian package installs the
expected files into a scratch root where the daemon checks its packaged
configuration (README "Operations", deploy/)."""

import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import NEWSWIRED, ROOT

UNITS = ["newswired.service", "newswired@.service"]


def find_deb():
    """The package built by tests/run.sh (cpack -G DEB in the build dir)."""
    path = os.environ.get("NEWSWIRE_DEB")
    if path:
        return pathlib.Path(path)
    debs = sorted(pathlib.Path(NEWSWIRED).parents[1].glob("newswire_*.deb"))
    return debs[-1] if debs else None


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_units_verify(tmp_path):
    """systemd-analyze verify accepts both units (ExecStart pointed at the
    built daemon, since verify checks that the program exists)."""
    for unit in UNITS:
        text = (ROOT / "systemd" / unit).read_text()
        assert "Type=notify" in text and "WatchdogSec=" in text
        for key in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                    "PrivateTmp=yes", "RestrictAddressFamilies=", "MemoryDenyWriteExecute=yes",
                    "SystemCallFilter=@system-service", "CapabilityBoundingSet=",
                    "LimitNOFILE=", "RuntimeDirectory=", "StateDirectory=", "User=newswire"):
            assert key in text, f"{unit} lacks {key}"
        (tmp_path / unit).write_text(text.replace("/usr/sbin/newswired", str(NEWSWIRED)))
    instance = tmp_path / "newswired@a.service"
    shutil.copy(tmp_path / "newswired@.service", instance)
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "newswired.service"),
                        str(instance)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def test_sysusers_and_tmpfiles_entries():
    users = (ROOT / "systemd" / "newswire.sysusers").read_text()
    assert any(line.startswith("u newswire ") for line in users.splitlines())
    tmpfiles = (ROOT / "systemd" / "newswire.tmpfiles").read_text()
    assert "/etc/newswire" in tmpfiles


@pytest.mark.skipif(find_deb() is None, reason="no .deb built (tests/run.sh runs cpack)")
def test_deb_installs_into_a_scratch_root(tmp_path):
    deb = find_deb()
    info = subprocess.run(["dpkg-deb", "-I", str(deb)], capture_output=True, text=True,
                          check=True).stdout
    for dep in ("libwebsockets", "libwebsockets-evlib-ev", "libhiredis", "libevent",
                "libjansson", "libjwt", "libev4"):
        assert dep in info, f"Depends lacks {dep}:\n{info}"
    assert "postinst" in info and "conffiles" in info
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True)
    expected = [
        "usr/sbin/newswired",
        "usr/lib/systemd/system/newswired.service",
        "usr/lib/systemd/system/newswired@.service",
        "usr/lib/sysusers.d/newswire.conf",
        "usr/lib/tmpfiles.d/newswire.conf",
        "etc/newswire/newswired.conf",
        "usr/share/newswire/www/widget.js",
        "usr/share/newswire/www/newswire.js",
        "usr/share/newswire/www/index.html",
        "usr/share/doc/newswire/PROTOCOL.md",
    ]
    missing = [p for p in expected if not (tmp_path / p).exists()]
    assert not missing, missing
    if (ROOT / "clients" / "cli" / "CMakeLists.txt").exists():
        assert (tmp_path / "usr/bin/newswire").exists(), "the newswire command is not packaged"
    conf = tmp_path / "etc/newswire/newswired.conf"
    r = subprocess.run([str(tmp_path / "usr/sbin/newswired"), "--config", str(conf),
                        "--check-config"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert 'static_dir = "/usr/share/newswire/www"' in r.stdout
    assert "listen = 127.0.0.1:8080" in r.stdout


def test_sample_config_documents_every_key():
    """deploy/newswired.conf names every key the daemon knows (README:
    "deploy/newswired.conf documents every key with its default"), with the
    daemon's own default as its value."""
    out = subprocess.run([str(NEWSWIRED), "--check-config"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    defaults = {}
    for line in out.splitlines():
        if " = " in line and not line.startswith("#"):
            key, value = line.split(" = ", 1)
            defaults[key.strip()] = value.strip().strip('"')
    assert len(defaults) > 40, out
    sample = {}
    for line in (ROOT / "deploy" / "newswired.conf").read_text().splitlines():
        line = line.lstrip("# ")
        if " = " in line and not line.startswith("["):
            key, value = line.split(" = ", 1)
            sample.setdefault(key.strip(), value.strip().strip('"'))
    missing = sorted(k for k in defaults if k not in sample)
    assert missing == [], f"undocumented keys: {missing}"
