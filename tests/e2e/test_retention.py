"""Retention: records of mipay and tianxing outlive a cancel by 5 years (the AML rules cited in
000 五、(二) and 002 五、(二)2), Mi Store's only as long as their purpose. The purge erases
what has expired, chains a record saying so, and verify still walks the whole chain.

The clock moves only in build/consentd-testclock (CONSENTD_TEST_CLOCK_OFFSET); the daemon
purges at start-up and daily, so a restart with the clock moved is a purge by the timer."""
import hashlib
import json
import os
import sqlite3
import time

import pytest

from conftest import APP_UID, READER_UID, Daemon
from test_protocol import run_as
from test_subject_ops import canonical_hash

DAY = 24 * 3600
YEARS_5 = (5 * 365 + 2) * DAY   # five calendar years, leap days included


def clocked(state, offset):
    return Daemon(state_dir=state, binary="consentd-testclock",
                  env={"CONSENTD_TEST_CLOCK_OFFSET": str(offset)}).start()


def cancelled(d, product, subject):
    c = d.client()
    for m in [{"op": "grant", "product": product, "subject": subject, "scope": "policy"},
              {"op": "set_subject", "subject": subject, "product": product, "region": "cn"},
              {"op": "cancel", "product": product, "subject": subject}]:
        assert c.call(m)["ok"], m
    c.close()


def history(d, subject):
    return d.call({"op": "history", "subject": subject})["events"]


@pytest.fixture
def state(tmp_path):
    return str(tmp_path / "state")


def test_financial_records_outlive_cancel_by_five_years(state):
    d = clocked(state, 0)
    cancelled(d, "mipay", "pay-1")
    cancelled(d, "tianxing", "loan-1")
    cancelled(d, "mistore", "shop-1")
    assert d.call({"op": "grant", "product": "mipay", "subject": "pay-live",
                   "scope": "policy"})["ok"]
    # Mi Store keeps nothing past its purpose: gone at the first purge after the cancel.
    r = d.call({"op": "purge"})
    assert r["ok"] and r["purged"] == 3 and r["more"] is False and r["seq"] > 0
    assert history(d, "shop-1") == []
    assert len(history(d, "pay-1")) == 3 and len(history(d, "loan-1")) == 3
    d.cleanup()

    d = clocked(state, YEARS_5 - 3 * DAY)     # the daily purge runs at start: too early
    assert len(history(d, "pay-1")) == 3 and len(history(d, "loan-1")) == 3
    assert d.call({"op": "purge", "dry_run": True})["purged"] == 0
    d.cleanup()

    d = clocked(state, YEARS_5 + 3 * DAY)     # and now past five years
    assert history(d, "pay-1") == [] and history(d, "loan-1") == []
    assert len(history(d, "pay-live")) == 1
    doc = d.call({"op": "export", "subject": "pay-1"})
    assert doc["products"] == {} and doc["records"] == [] and doc["attributes"] is None
    status = d.call({"op": "status", "product": "mipay", "subject": "pay-1"})
    assert [s["state"] for s in status["scopes"]] == ["none"]
    assert d.call({"op": "purge"})["purged"] == 0
    v = d.call({"op": "verify"})
    assert v["ok"], v
    assert "purge: erased 6 records" in d.output()
    d.cleanup()


def test_dry_run_counts_and_erases_nothing(fresh_daemon, subject):
    d = fresh_daemon
    cancelled(d, "mistore", subject)
    before = d.call({"op": "verify"})["head"]
    r = d.call({"op": "purge", "dry_run": True})
    assert r == {"ok": True, "seq": None, "purged": 3, "more": False}
    assert len(history(d, subject)) == 3
    assert d.call({"op": "verify"})["head"] == before


def test_a_grant_after_cancel_reopens_the_account(fresh_daemon, subject):
    d = fresh_daemon
    cancelled(d, "mistore", subject)
    assert d.call({"op": "grant", "product": "mistore", "subject": subject,
                   "scope": "policy"})["ok"]
    assert d.call({"op": "purge"})["purged"] == 0
    assert len(history(d, subject)) == 4


def test_defaults_go_with_the_last_product(fresh_daemon, subject):
    d = fresh_daemon
    assert d.call({"op": "set_subject", "subject": subject, "age_band": "adult"})["ok"]
    cancelled(d, "mistore", subject)
    assert d.call({"op": "grant", "product": "mipay", "subject": subject,
                   "scope": "policy"})["ok"]
    assert d.call({"op": "purge"})["purged"] == 3
    # mipay still serves the subject: the defaults it reads stay.
    assert [e["op"] for e in history(d, subject)] == ["set_subject", "grant"]
    assert d.call({"op": "cancel", "product": "mipay", "subject": subject})["ok"]
    assert d.call({"op": "purge"})["purged"] == 0


def test_purge_roles(daemon):
    for uid in (APP_UID, READER_UID):
        assert run_as(uid, daemon.socket, {"op": "purge"})["error"]["code"] == "forbidden"
    r = daemon.call({"op": "purge", "dry_run": "yes"})
    assert r["error"]["code"] == "bad_request" and "dry_run" in r["error"]["message"]


def records(d):
    db = sqlite3.connect(os.path.join(d.state, "ledger.db"))
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM records ORDER BY seq")]
    db.close()
    return rows


def test_erased_chain_recomputes_independently(fresh_daemon):
    """The rules of proto/PROTOCOL.md, 'Erased records', in a few lines of Python."""
    d = fresh_daemon
    for i in range(3):
        cancelled(d, "mistore", f"gone-{i}")
        assert d.call({"op": "grant", "product": "mipay", "subject": f"kept-{i}",
                       "scope": "policy"})["ok"]
    assert d.call({"op": "purge"})["purged"] == 9
    rows = records(d)
    prev, erased_by = "0" * 64, {}
    for r in rows:
        assert r["prev_hash"] == prev
        if r["erased_by"] is None:
            r["prev"] = r["prev_hash"]
            assert r["hash"] == canonical_hash(r, prev)
        else:
            assert r["subject"] is None and r["scope"] is None and r["erased_by"] > r["seq"]
            erased_by.setdefault(r["erased_by"], []).append(r)
        prev = r["hash"]
    [purge] = [r for r in rows if r["op"] == "purge"]
    attrs = json.loads(purge["attrs"])
    listed = [s for a, b in attrs["ranges"] for s in range(a, b + 1)]
    assert [r["seq"] for r in erased_by[purge["seq"]]] == listed and attrs["erased"] == 9
    digest = hashlib.sha256("".join(r["hash"] for r in erased_by[purge["seq"]]).encode())
    assert digest.hexdigest() == attrs["digest"]


def tamper(d, sql):
    d.stop()
    db = sqlite3.connect(os.path.join(d.state, "ledger.db"))
    db.executescript(sql)
    db.commit()
    db.close()


def test_verify_catches_tampering_around_a_purge(tmp_path):
    base = str(tmp_path / "state")
    d = Daemon(state_dir=base).start()
    cancelled(d, "mistore", "gone")
    assert d.call({"op": "grant", "product": "mipay", "subject": "kept",
                   "scope": "policy"})["ok"]
    assert d.call({"op": "purge"})["purged"] == 3
    purge_seq = records(d)[-1]["seq"]
    cases = [
        # A live record passed off as erased: its purge record does not list it.
        ("UPDATE records SET subject=NULL, erased_by=%d WHERE seq=4" % purge_seq, 4),
        # The hash of an erased record changed, and the link after it to match.
        ("UPDATE records SET hash='%s' WHERE seq=2; UPDATE records SET prev_hash='%s' "
         "WHERE seq=3" % ("a" * 64, "a" * 64), purge_seq),
        # An erased record made to name a record that is no purge.
        ("UPDATE records SET erased_by=4 WHERE seq=1", 1),
    ]
    for sql, bad in cases:
        copy = str(tmp_path / f"copy-{bad}-{len(sql)}")
        d.stop()
        os.system(f"cp -r {base} {copy}")
        t = Daemon(state_dir=copy)
        tamper(t, sql)
        t.start()
        r = t.call({"op": "verify"})
        assert r["error"]["code"] == "chain_broken" and r["seq"] == bad, (sql, r)
        t.cleanup()
    d.cleanup()


def test_the_production_build_ignores_the_test_clock(tmp_path):
    d = Daemon(state_dir=str(tmp_path / "s"),
               env={"CONSENTD_TEST_CLOCK_OFFSET": str(YEARS_5)}).start()
    r = d.call({"op": "grant", "product": "mipay", "subject": "u", "scope": "policy"})
    assert abs(r["at"] - time.time()) < 60
    assert "test clock" not in d.output()
    d.cleanup()


def test_a_large_purge_goes_in_bounded_steps(tmp_path):
    """At most 10,000 records per purge record; the daily purge goes on until none is left."""
    state = str(tmp_path / "state")
    d = Daemon(state_dir=state).start()
    c = d.client()
    for start in range(0, 5200, 400):
        for i in range(start, start + 400):
            c.send({"op": "grant", "product": "mistore", "subject": f"m-{i}", "scope": "policy"})
            c.send({"op": "cancel", "product": "mistore", "subject": f"m-{i}"})
        assert all(c.recv()["ok"] for _ in range(800))
    c.close()
    d.stop()
    d = Daemon(state_dir=state).start()        # the purge at start-up, in two steps
    deadline, steps = time.time() + 60, []
    while sum(steps) < 10400 and time.time() < deadline:
        time.sleep(0.05)
        steps = [int(l.split("erased ")[1].split()[0]) for l in d.output().splitlines()
                 if "purge: erased" in l]
    assert len(steps) == 2 and 10000 <= steps[0] < 10400 and sum(steps) == 10400, steps
    assert d.call({"op": "purge"})["purged"] == 0
    v = d.call({"op": "verify"})
    assert v["ok"] and v["records"] == 10402, v
    d.cleanup()
