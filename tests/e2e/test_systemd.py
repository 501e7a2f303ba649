"""consentd under systemd: the units in scripts/ verify cleanly and keep a tight sandbox, the
daemon takes its socket from socket activation (systemd-socket-activate), and it speaks the
notify protocol (READY, STATUS, WATCHDOG, RELOADING, STOPPING) to a NOTIFY_SOCKET of ours."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, ROOT, Daemon

SCRIPTS = os.path.join(ROOT, "scripts")
UNITS = ("consentd.socket", "consentd.service")
SECURITY_MAX = 2.0
WATCHDOG_USEC = 1000000     # pings every half second
STATUS_WAIT = 15            # seconds; the daemon sends STATUS= every 5


def need(tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (scripts/install-deps installs systemd)")


def unit_root(tmp_path, binary=True):
    """A root for systemd-analyze --root: the host's stock units (the targets ours depend on),
    ours where an admin's go, and the programs they run; verify looks only inside it."""
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for u in UNITS:
        shutil.copy(os.path.join(SCRIPTS, u), root / "etc/systemd/system" / u)
    (root / "usr/sbin").mkdir(parents=True)
    (root / "bin").mkdir()
    if binary:
        shutil.copy(os.path.join(BUILD, "consentd"), root / "usr/sbin/consentd")
    shutil.copy("/bin/sh", root / "bin/sh")
    return root


def verify(root):
    # --man=no: the man pages are installed by make install, not on the host running the tests.
    return subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", *UNITS],
                          capture_output=True, text=True, timeout=60)


def test_units_verify_without_a_word(tmp_path):
    need("systemd-analyze")
    r = verify(unit_root(tmp_path))
    assert (r.returncode, r.stdout + r.stderr) == (0, "")


def test_verify_is_not_blind(tmp_path):
    """The same check sees a unit's problem: without the program ExecStart= names, it says so."""
    need("systemd-analyze")
    r = verify(unit_root(tmp_path, binary=False))
    assert r.returncode != 0 and "/usr/sbin/consentd" in r.stdout + r.stderr


def test_service_sandbox_scores_at_most_2(tmp_path):
    need("systemd-analyze")
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                        os.path.join(SCRIPTS, "consentd.service")],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for consentd\.service: (\d+\.\d+)", r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= SECURITY_MAX, r.stdout


def test_sysusers_and_tmpfiles_make_the_user_and_state_dir(tmp_path):
    for tool in ("systemd-sysusers", "systemd-tmpfiles"):
        need(tool)
    root = tmp_path / "root"
    for d, src in (("sysusers.d", "consentd.sysusers"), ("tmpfiles.d", "consentd.tmpfiles")):
        (root / "usr/lib" / d).mkdir(parents=True)
        shutil.copy(os.path.join(SCRIPTS, src), root / "usr/lib" / d / "consentd.conf")
    (root / "etc").mkdir()
    for cmd in (["systemd-sysusers", f"--root={root}"],
                ["systemd-tmpfiles", f"--root={root}", "--create"]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
    users = {l.split(":")[0]: l.split(":") for l in (root / "etc/passwd").read_text().split("\n")
             if l}
    groups = {l.split(":")[0]: l.split(":") for l in (root / "etc/group").read_text().split("\n")
              if l}
    uid, gid = int(users["consentd"][2]), int(groups["consentd"][2])
    assert uid < 1000 and int(users["consentd"][3]) == gid  # a system user
    st = os.stat(root / "var/lib/consentd")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (uid, gid, 0o750)


def argv(d):
    return [d.binary, "--foreground", "--config", d.conf, "--state-dir", d.state,
            "--policy-dir", d.policy_dir, "--registry", d.registry]


def wait_for_socket(d):
    deadline = time.time() + 30
    while time.time() < deadline:
        assert d.proc.poll() is None, "exited: " + d.output()
        try:
            return d.client()
        except OSError:
            time.sleep(0.02)
    raise AssertionError("no socket: " + d.output())


def test_socket_activation():
    need("systemd-socket-activate")
    d = Daemon()
    unused = os.path.join(d.dir, "not-this.sock")
    try:
        # The daemon's own --socket is ignored when a socket is passed.
        d.proc = subprocess.Popen(["systemd-socket-activate", "-l", d.socket, *argv(d),
                                   "--socket", unused],
                                  stdout=d.log, stderr=subprocess.STDOUT, env=d.env)
        c = wait_for_socket(d)  # this connection starts consentd, which accepts it
        r = c.call({"op": "hello", "id": 1})
        assert r["ok"] and r["server"] == "consentd" and r["peer"]["role"] == "admin", r
        c.close()
        r = d.call({"op": "grant", "product": "mipay", "subject": "s-activated",
                    "scope": "policy"})
        assert r["ok"] and r["seq"] == 1, r
        assert "listening on the socket systemd passed" in d.output()
        assert not os.path.exists(unused)
        assert d.stop() == 0, d.output()
        # The socket is systemd's: consentd leaves it where it was.
        assert os.path.exists(d.socket)
    finally:
        d.cleanup()


class Notify:
    """A NOTIFY_SOCKET: the datagrams the daemon sends, each as a dict of its assignments."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.seen = []

    def wait(self, pred, timeout, what):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            msg = dict(l.split("=", 1) for l in data.split("\n") if "=" in l)
            self.seen.append(msg)
            if pred(msg):
                return msg
        raise AssertionError(f"no {what} in {timeout} s; seen {self.seen}")

    def drain(self):
        """What came after the last wait, once the sender is gone."""
        self.sock.setblocking(False)
        try:
            while True:
                data = self.sock.recv(4096).decode()
                self.seen.append(dict(l.split("=", 1) for l in data.split("\n") if "=" in l))
        except BlockingIOError:
            pass

    def close(self):
        self.sock.close()


def test_notify_protocol():
    d = Daemon()
    n = Notify(os.path.join(tempfile.mkdtemp(prefix="consentd-notify-"), "notify"))
    try:
        env = dict(d.env, NOTIFY_SOCKET=n.path, WATCHDOG_USEC=str(WATCHDOG_USEC))
        # systemd sets WATCHDOG_PID to the service's pid, and sd_watchdog_enabled checks it:
        # the shell's pid is the daemon's after exec.
        d.proc = subprocess.Popen(["/bin/sh", "-c", 'export WATCHDOG_PID=$$; exec "$@"', "sh",
                                   *argv(d), "--socket", d.socket],
                                  stdout=d.log, stderr=subprocess.STDOUT, env=env)
        ready = n.wait(lambda m: "READY" in m, 30, "READY=1")
        assert ready["READY"] == "1" and ready["STATUS"].startswith("serving "), ready
        assert "ledger records: 0" in ready["STATUS"], ready

        # A ledger record and a few requests show in the next periodic STATUS=.
        c = wait_for_socket(d)
        r = c.call({"op": "grant", "product": "mipay", "subject": "s-notify", "scope": "policy"})
        assert r["ok"], r
        for i in range(20):
            assert c.call({"op": "hello", "id": i})["ok"]
        status = n.wait(lambda m: "ledger records: 1" in m.get("STATUS", "") and
                        "READY" not in m, STATUS_WAIT, "periodic STATUS= with the record")
        assert "connections: 1," in status["STATUS"], status
        assert re.search(r"requests/s: \d+\.\d", status["STATUS"]), status
        c.close()
        n.wait(lambda m: m.get("WATCHDOG") == "1", 5, "WATCHDOG=1")

        before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        d.kill(signal.SIGHUP)
        reloading = n.wait(lambda m: "RELOADING" in m, 10, "RELOADING=1")
        after = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert reloading["RELOADING"] == "1", reloading
        assert before <= int(reloading["MONOTONIC_USEC"]) <= after, reloading
        again = n.wait(lambda m: "READY" in m, 10, "READY=1 after the reload")
        assert again["READY"] == "1" and "refused" not in again["STATUS"], again

        d.kill(signal.SIGTERM)
        stopping = n.wait(lambda m: "STOPPING" in m, 10, "STOPPING=1")
        assert stopping["STOPPING"] == "1", stopping
        assert d.stop() == 0, d.output()
        n.drain()

        # In that order, with watchdog pings throughout and nothing after STOPPING=1 but them.
        kinds = [k for m in n.seen for k in ("READY", "RELOADING", "STOPPING") if k in m]
        assert kinds == ["READY", "RELOADING", "READY", "STOPPING"], n.seen
        pings = [i for i, m in enumerate(n.seen) if m.get("WATCHDOG") == "1"]
        assert pings and pings[0] > n.seen.index(ready), n.seen
    finally:
        n.close()
        shutil.rmtree(os.path.dirname(n.path), ignore_errors=True)
        d.cleanup()

