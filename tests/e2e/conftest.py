"""Start the real consentd on a private socket and state directory, and talk to it.

CONSENTD_BUILD names the build directory (build, or build/asan for the sanitizer run).
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("CONSENTD_BUILD", "build"))
POLICIES = os.path.join(ROOT, "config", "policies")
APP_UID = 43210        # an app peer allowed mipay only
READER_UID = 43211     # a reader peer
STRANGER_UID = 43212   # a peer with no role
TEST_CONF = f"""socket-mode 0666
app    uid={APP_UID} products=mipay
reader uid={READER_UID}
"""


SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error")


class Client:
    """One connection speaking newline-delimited JSON."""

    def __init__(self, path, timeout=30):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, msg):
        self.send_raw(json.dumps(msg, ensure_ascii=False).encode() + b"\n")

    def recv(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed by consentd")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, msg):
        self.send(msg)
        return self.recv()

    def closed(self):
        """Whether the daemon closed the connection (after any pending data)."""
        try:
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True  # closed while our unread request bytes were still queued
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


class Daemon:
    def __init__(self, policy_dir=POLICIES, state_dir=None, binary="consentd", env=None):
        self.binary = os.path.join(BUILD, binary)
        self.env = dict(os.environ, **(env or {}))
        self.dir = tempfile.mkdtemp(prefix="consentd-e2e-")
        os.chmod(self.dir, 0o755)  # peers of other uids reach the socket
        self.socket = os.path.join(self.dir, "consentd.sock")
        self.state = state_dir or os.path.join(self.dir, "state")
        self.policy_dir = policy_dir
        self.registry = os.environ.get("CONSENTD_REGISTRY",
                                       os.path.join(ROOT, "config", "registry.json"))
        self.conf = os.path.join(self.dir, "consentd.conf")
        with open(self.conf, "w") as f:
            f.write(TEST_CONF)
        self.log = open(os.path.join(self.dir, "consentd.log"), "w+")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [self.binary, "--foreground", "--config", self.conf,
             "--socket", self.socket, "--state-dir", self.state,
             "--policy-dir", self.policy_dir, "--registry", self.registry],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("consentd exited: " + self.output())
            try:
                Client(self.socket).close()
                return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("consentd did not start: " + self.output())

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def client(self):
        return Client(self.socket)

    def call(self, msg):
        c = self.client()
        try:
            return c.call(msg)
        finally:
            c.close()

    def kill(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def cleanup(self):
        """Stop, and fail on any sanitizer report the daemon printed (leaks show at exit)."""
        self.stop()
        out = self.output()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        assert not any(s in out for s in SANITIZER_REPORTS), out


@pytest.fixture(scope="session")
def daemon():
    d = Daemon().start()
    yield d
    code = d.stop()
    out = d.output()
    d.cleanup()
    # Unclean exits and sanitizer reports fail the run even when every reply was right.
    assert code == 0, out


@pytest.fixture
def fresh_daemon():
    d = Daemon().start()
    yield d
    d.cleanup()


@pytest.fixture
def subject():
    return "s-" + uuid.uuid4().hex[:12]
