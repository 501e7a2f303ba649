"""The ledger on disk, read with nothing but sqlite3 and hashlib: every acknowledged write is a
record, and the hash chain recomputes from the documented canonical form (proto/PROTOCOL.md)."""
import hashlib
import json
import os
import sqlite3

KEYS = ["seq", "at", "op", "product", "subject", "scope", "state", "policy_version", "source",
        "guardian", "attrs", "peer_uid"]


def test_chain_recomputes_independently(fresh_daemon, subject):
    d = fresh_daemon
    acks = [d.call({"op": "grant", "product": "mipay", "subject": subject, "scope": "policy",
                    "source": "设置页 “隐私”"}),
            d.call({"op": "set_subject", "subject": subject, "age_band": "adult",
                    "region": "cn", "holds": ["outstanding_loan"]}),
            d.call({"op": "refuse", "product": "tianxing", "subject": subject,
                    "scope": "purpose:marketing"})]
    assert all(a["ok"] for a in acks)
    db = sqlite3.connect(os.path.join(d.state, "ledger.db"))
    rows = db.execute("SELECT " + ",".join(KEYS) + ",prev_hash,hash FROM records "
                      "ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == [a["seq"] for a in acks]
    prev = "0" * 64
    for r in rows:
        obj = dict(zip(KEYS, r[:12]))
        obj["prev"] = prev
        canon = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
        assert r[12] == prev
        assert r[13] == hashlib.sha256(canon).hexdigest()
        prev = r[13]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
