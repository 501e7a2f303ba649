"""The hash chain over the real socket: verify, the head file kept beside the database, and the
tamper tests of issue 5 done with the sqlite3 shell. Each names the first bad record."""
import os
import signal
import subprocess

import pytest

from conftest import APP_UID, BUILD, Daemon
from test_protocol import run_as

RECORDS = 6


def grant_some(d, n=RECORDS):
    for i in range(n):
        r = d.call({"op": "grant", "product": "mipay", "subject": f"c{i}", "scope": "policy"})
        assert r["ok"], r


def sql(d, statement):
    subprocess.run(["sqlite3", os.path.join(d.state, "ledger.db"), statement], check=True,
                   capture_output=True, timeout=30)


def offline_verify(state):
    return subprocess.run([os.path.join(BUILD, "consentd"), "--verify", "--state-dir", state],
                          capture_output=True, text=True, timeout=30)


def last_hash(d):
    out = subprocess.run(["sqlite3", os.path.join(d.state, "ledger.db"),
                          "SELECT hash FROM records ORDER BY seq DESC LIMIT 1"],
                         capture_output=True, text=True, check=True, timeout=30)
    return out.stdout.strip()


def test_empty_ledger_verifies(fresh_daemon):
    r = fresh_daemon.call({"op": "verify", "id": 1})
    assert r["ok"] and r["records"] == 0, r
    assert r["head"] == {"seq": 0, "hash": "0" * 64}


def test_verify_walks_every_record(fresh_daemon):
    grant_some(fresh_daemon)
    r = fresh_daemon.call({"op": "verify"})
    assert r["ok"] and r["records"] == RECORDS, r
    assert r["head"] == {"seq": RECORDS, "hash": last_hash(fresh_daemon)}


def test_verify_after_writes_on_the_same_connection_sees_them(fresh_daemon):
    c = fresh_daemon.client()
    for i in range(3):
        c.send({"op": "grant", "product": "mipay", "subject": f"p{i}", "scope": "policy"})
    c.send({"op": "verify"})
    replies = [c.recv() for _ in range(4)]
    c.close()
    assert replies[-1]["records"] == 3, replies


def test_verify_is_for_admins(fresh_daemon):
    r = run_as(APP_UID, fresh_daemon.socket, {"op": "verify"})
    assert not r["ok"] and r["error"]["code"] == "forbidden", r


def test_head_file_follows_the_last_commit(fresh_daemon):
    grant_some(fresh_daemon, 3)
    fresh_daemon.call({"op": "verify"})  # a round trip after the writes: the writer is idle
    with open(os.path.join(fresh_daemon.state, "chain-head")) as f:
        text = f.read()
    assert text == f"consentd chain head\nseq {3:020d}\nhash {last_hash(fresh_daemon)}\n"


TAMPER = [
    ("edit a field", "UPDATE records SET source='forged' WHERE seq=3", 3, "edited"),
    ("delete a row", "DELETE FROM records WHERE seq=3", 3, "missing"),
    ("swap two rows", "UPDATE records SET seq=-1 WHERE seq=2; UPDATE records SET seq=2 "
     "WHERE seq=4; UPDATE records SET seq=4 WHERE seq=-1", 2, "does not link"),
    ("delete the last rows", "DELETE FROM records WHERE seq>=5", 5, "head file"),
]


@pytest.mark.parametrize("label,statement,bad,why", TAMPER, ids=[t[0] for t in TAMPER])
def test_tampering_names_the_first_bad_record(fresh_daemon, label, statement, bad, why):
    grant_some(fresh_daemon)
    fresh_daemon.call({"op": "verify"})
    sql(fresh_daemon, statement)
    r = fresh_daemon.call({"op": "verify", "id": 9})
    assert not r["ok"] and r["error"]["code"] == "chain_broken", r
    assert r["seq"] == bad and r["error"]["seq"] == bad, r
    assert why in r["error"]["message"], r
    fresh_daemon.stop()
    out = offline_verify(fresh_daemon.state)
    assert out.returncode == 1 and f"chain broken at record {bad}:" in out.stdout, out


def test_offline_verify_of_a_sound_ledger(fresh_daemon):
    grant_some(fresh_daemon)
    fresh_daemon.stop()
    out = offline_verify(fresh_daemon.state)
    assert out.returncode == 0, out
    assert f"chain holds: {RECORDS} records, head seq {RECORDS}" in out.stdout


def test_offline_verify_without_a_ledger(tmp_path):
    out = offline_verify(str(tmp_path))
    assert out.returncode == 1 and "no ledger at" in out.stderr


def test_start_refuses_a_truncated_ledger(fresh_daemon):
    grant_some(fresh_daemon)
    fresh_daemon.stop()
    sql(fresh_daemon, "DELETE FROM records WHERE seq=6")
    with pytest.raises(RuntimeError, match="records were removed"):
        fresh_daemon.start()


def test_start_refuses_a_replaced_head_record(fresh_daemon):
    grant_some(fresh_daemon)
    fresh_daemon.stop()
    sql(fresh_daemon, "UPDATE records SET hash='" + "1" * 64 + "' WHERE seq=6")
    with pytest.raises(RuntimeError, match="was altered"):
        fresh_daemon.start()


def test_a_ledger_ahead_of_its_head_starts(fresh_daemon):
    """After a crash between a commit and the head's next write the database is ahead."""
    grant_some(fresh_daemon)
    fresh_daemon.stop()
    head = os.path.join(fresh_daemon.state, "chain-head")
    older = subprocess.run(["sqlite3", os.path.join(fresh_daemon.state, "ledger.db"),
                            "SELECT hash FROM records WHERE seq=4"], capture_output=True,
                           text=True, check=True).stdout.strip()
    with open(head, "w") as f:
        f.write(f"consentd chain head\nseq {4:020d}\nhash {older}\n")
    fresh_daemon.start()
    r = fresh_daemon.call({"op": "verify"})
    assert r["ok"] and r["head"]["seq"] == RECORDS, r


def test_acked_grants_survive_sigkill_and_verify(fresh_daemon):
    grant_some(fresh_daemon)
    fresh_daemon.stop(signal.SIGKILL)
    fresh_daemon.start()
    r = fresh_daemon.call({"op": "verify"})
    assert r["ok"] and r["records"] == RECORDS, r
