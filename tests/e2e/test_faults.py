"""Fail closed: when the ledger cannot be written (a full or read-only file system, a lock
another program holds) writes answer ledger_unavailable and nothing acknowledged is lost, and
the daemon recovers by itself when the disk does; when it cannot be read (corruption),
consent-based checks deny with ledger_unavailable. The file systems are a small tmpfs and a loop-mounted ext4 image, whose
immutable flag (chattr +i) makes the ledger's files read-only under the open daemon (root
only; skipped where the machine cannot mount)."""
import os
import sqlite3
import subprocess
import time

import pytest

from conftest import Daemon


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "fs"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.strip())
    yield str(mnt)
    subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def ext4_fs(tmp_path):
    mnt, image = tmp_path / "ext4", tmp_path / "ext4.img"
    mnt.mkdir()
    with open(image, "wb") as f:
        f.truncate(32 << 20)
    for cmd in (["mkfs.ext4", "-q", str(image)], ["mount", "-o", "loop", str(image), str(mnt)]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot {cmd[0]} here: " + r.stderr.strip())
    yield str(mnt)
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def grant(d, subject, scope="policy"):
    return d.call({"op": "grant", "product": "mipay", "subject": subject, "scope": scope})


def camera_check(d, subject):
    return d.call({"op": "check", "product": "mipay", "subject": subject,
                   "feature": "mipay.scan", "permission": "android.permission.CAMERA",
                   "platform": "android"})


def fill(path):
    """Write until the file system is full."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def test_a_full_disk_refuses_writes_and_recovers(small_fs):
    d = Daemon(state_dir=os.path.join(small_fs, "state")).start()
    acked = [grant(d, f"before-{i}") for i in range(20)]
    assert all(a["ok"] for a in acked)
    filler = os.path.join(small_fs, "filler")
    fill(filler)
    failed = [grant(d, f"full-{i}", "purpose:marketing") for i in range(40)]
    refused = [r for r in failed if not r["ok"]]
    assert refused, "the file system never filled"
    assert all(r["error"]["code"] == "ledger_unavailable" for r in refused)
    # Reads still work: what was acknowledged is still there and still decides.
    for i in range(20):
        s = d.call({"op": "status", "product": "mipay", "subject": f"before-{i}"})
        assert s["scopes"][0]["state"] == "granted"
    os.unlink(filler)
    again = grant(d, "after")
    assert again["ok"], again
    v = d.call({"op": "verify"})
    assert v["ok"] and v["head"]["seq"] == again["seq"]
    # Nothing that was refused left a trace.
    for i, r in enumerate(failed):
        h = d.call({"op": "history", "subject": f"full-{i}"})["events"]
        assert len(h) == (1 if r["ok"] else 0)
    d.cleanup()


def test_a_read_only_ledger_refuses_writes_and_recovers(ext4_fs):
    state = os.path.join(ext4_fs, "state")
    d = Daemon(state_dir=state).start()
    assert grant(d, "before")["ok"]
    files = [os.path.join(state, f) for f in ("ledger.db", "ledger.db-wal")]
    subprocess.run(["chattr", "+i"] + files, check=True)
    try:
        r = grant(d, "during")
        assert r["error"]["code"] == "ledger_unavailable", r
        assert d.call({"op": "status", "product": "mipay", "subject": "before"})[
            "scopes"][0]["state"] == "granted"
    finally:
        subprocess.run(["chattr", "-i"] + files, check=True)
    r = grant(d, "after")
    assert r["ok"], r
    assert d.call({"op": "verify"})["ok"]
    assert d.call({"op": "history", "subject": "during"})["events"] == []
    d.cleanup()


def test_an_unreadable_ledger_denies_what_rests_on_consent(tmp_path):
    state = str(tmp_path / "state")
    d = Daemon(state_dir=state).start()
    assert grant(d, "u", "permission:android.permission.CAMERA")["ok"]
    d.stop()
    db = sqlite3.connect(os.path.join(state, "ledger.db"))
    page = db.execute("SELECT rootpage FROM sqlite_master WHERE name='consent'").fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with open(os.path.join(state, "ledger.db"), "r+b") as f:
        f.seek((page - 1) * size)
        f.write(b"\xff" * size)
    d.start()
    r = camera_check(d, "u")
    assert r["decision"] == "deny" and r["reasons"][0] == "ledger_unavailable", r
    # What the policy alone decides still stands.
    never = d.call({"op": "check", "product": "mipay", "subject": "u",
                    "feature": "mipay.payment_verification", "field": "fingerprint_template"})
    assert never["reasons"] == ["never_collect"]
    s = d.call({"op": "status", "product": "mipay", "subject": "u"})
    assert s["error"]["code"] == "ledger_unavailable"
    w = grant(d, "u", "policy")
    assert w["error"]["code"] == "ledger_unavailable"
    d.cleanup()


def test_a_locked_ledger_refuses_writes_not_checks_and_recovers(tmp_path):
    """Another program holding the write lock past the writer's 5 s wait: the write answers
    ledger_unavailable, checks go on meanwhile, and the next write after the lock goes works."""
    state = str(tmp_path / "state")
    d = Daemon(state_dir=state).start()
    assert grant(d, "before")["ok"]
    other = sqlite3.connect(os.path.join(state, "ledger.db"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        writer = d.client()
        writer.send({"op": "grant", "product": "mipay", "subject": "during", "scope": "policy"})
        t0 = time.time()
        r = camera_check(d, "before")
        assert r["ok"] and time.time() - t0 < 2, r       # the loop is not held by the writer
        reply = writer.recv()
        assert reply["error"]["code"] == "ledger_unavailable" and "locked" in \
            reply["error"]["message"], reply
        writer.close()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert grant(d, "after")["ok"]
    assert d.call({"op": "history", "subject": "during"})["events"] == []
    assert d.call({"op": "verify"})["ok"]
    d.cleanup()
