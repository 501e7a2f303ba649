"""What people and regulators ask of the ledger: history (paged), export (access and
portability), and cancel (注销), refused while a hold such as an outstanding loan is set."""
import hashlib
import json

from conftest import APP_UID, READER_UID
from test_protocol import run_as

TIANXING_SCOPES = ["policy", "purpose:marketing", "permission:android.permission.CAMERA"]


def writes(d, subject, n):
    """n grants and withdraws of mipay for subject; their replies."""
    c = d.client()
    out = [c.call({"op": "grant" if i % 2 == 0 else "withdraw", "product": "mipay",
                   "subject": subject, "scope": "policy"}) for i in range(n)]
    c.close()
    assert all(r["ok"] for r in out), out
    return out


def test_history_pages_by_since_and_limit(daemon, subject):
    acks = writes(daemon, subject, 7)
    seqs = [a["seq"] for a in acks]
    page = daemon.call({"op": "history", "subject": subject, "limit": 3})
    assert [e["seq"] for e in page["events"]] == seqs[:3] and page["next"] == seqs[2]
    page = daemon.call({"op": "history", "subject": subject, "since": page["next"],
                        "limit": 3})
    assert [e["seq"] for e in page["events"]] == seqs[3:6] and page["next"] == seqs[5]
    page = daemon.call({"op": "history", "subject": subject, "since": page["next"],
                        "limit": 3})
    assert [e["seq"] for e in page["events"]] == seqs[6:] and page["next"] is None
    whole = daemon.call({"op": "history", "subject": subject})["events"]
    assert [(e["op"], e["state"], e["scope"], e["product"]) for e in whole] == [
        ("grant" if i % 2 == 0 else "withdraw", "granted" if i % 2 == 0 else "withdrawn",
         "policy", "mipay") for i in range(7)]
    assert all(e["at"] == a["at"] and len(e["hash"]) == 64 for e, a in zip(whole, acks))
    assert daemon.call({"op": "history", "subject": "nobody-" + subject}) == {
        "ok": True, "events": [], "next": None}


def test_history_bad_requests(daemon, subject):
    for bad, key in [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
                     ({"since": -1}, "since"), ({"since": "3"}, "since"), ({}, "subject")]:
        msg = dict({"op": "history", "subject": subject}, **bad)
        if key == "subject":
            del msg["subject"]
        r = daemon.call(msg)
        assert r["error"]["code"] == "bad_request" and key in r["error"]["message"], r
    r = daemon.call({"op": "history", "subject": subject, "product": "nope"})
    assert r["error"]["code"] == "unknown_product"


def test_history_of_an_app_shows_its_own_products(daemon, subject):
    c = daemon.client()
    for m in [{"op": "grant", "product": "mipay", "subject": subject, "scope": "policy"},
              {"op": "grant", "product": "tianxing", "subject": subject, "scope": "policy"},
              {"op": "set_subject", "subject": subject, "age_band": "adult"}]:
        assert c.call(m)["ok"]
    c.close()
    mine = run_as(APP_UID, daemon.socket, {"op": "history", "subject": subject})
    assert [(e["op"], e["product"]) for e in mine["events"]] == [
        ("grant", "mipay"), ("set_subject", None)]
    theirs = run_as(APP_UID, daemon.socket, {"op": "history", "subject": subject,
                                             "product": "tianxing"})
    assert theirs["error"]["code"] == "forbidden"
    everything = run_as(READER_UID, daemon.socket, {"op": "history", "subject": subject})
    assert len(everything["events"]) == 3
    only = daemon.call({"op": "history", "subject": subject, "product": "tianxing"})
    assert [(e["op"], e["product"]) for e in only["events"]] == [
        ("grant", "tianxing"), ("set_subject", None)]


def canonical_hash(e, prev):
    keys = ["seq", "at", "op", "product", "subject", "scope", "state", "policy_version",
            "source", "guardian", "attrs", "peer_uid"]
    obj = {k: e[k] for k in keys}
    obj["prev"] = prev
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def test_export_holds_everything_about_the_subject(daemon, subject):
    c = daemon.client()
    for m in [{"op": "set_subject", "subject": subject, "age_band": "adult", "region": "cn"},
              {"op": "grant", "product": "mipay", "subject": subject, "scope": "policy",
               "source": "设置 › 隐私"},
              {"op": "refuse", "product": "mipay", "subject": subject,
               "scope": "permission:android.permission.CAMERA"},
              {"op": "grant", "product": "tianxing", "subject": subject, "scope": "policy"},
              {"op": "set_subject", "subject": subject, "product": "tianxing",
               "holds": []},
              {"op": "cancel", "product": "tianxing", "subject": subject}]:
        assert c.call(m)["ok"], m
    doc = c.call({"op": "export", "subject": subject})
    c.close()
    assert doc["ok"] and doc["subject"] == subject and doc["truncated"] is False
    assert doc["attributes"] == {"age_band": "adult", "region": "cn", "holds": []}
    assert set(doc["products"]) == {"mipay", "tianxing"}
    mipay = doc["products"]["mipay"]
    assert mipay["cancelled_at"] is None
    assert [(s["scope"], s["state"]) for s in mipay["scopes"]] == [
        ("permission:android.permission.CAMERA", "refused"), ("policy", "granted")]
    tianxing = doc["products"]["tianxing"]
    assert tianxing["cancelled_at"] is not None
    assert tianxing["attributes"] == {"age_band": None, "region": None, "holds": []}
    assert [(s["scope"], s["state"]) for s in tianxing["scopes"]] == [("policy", "withdrawn")]
    assert [r["op"] for r in doc["records"]] == [
        "set_subject", "grant", "refuse", "grant", "set_subject", "cancel"]
    # Every record carries what proves it: its hash recomputes from the record itself.
    for r in doc["records"]:
        assert r["hash"] == canonical_hash(r, r["prev_hash"])
    assert doc["records"][1]["source"] == "设置 › 隐私"


def test_export_roles(daemon, subject):
    assert run_as(READER_UID, daemon.socket, {"op": "export", "subject": subject})[
        "error"]["code"] == "forbidden"
    r = daemon.call({"op": "export", "subject": subject, "product": "mipay"})
    assert r["error"]["code"] == "bad_request"
    assert daemon.call({"op": "grant", "product": "tianxing", "subject": subject,
                        "scope": "policy"})["ok"]
    mine = run_as(APP_UID, daemon.socket, {"op": "export", "subject": subject})
    assert mine["ok"] and mine["products"] == {} and mine["records"] == []


def status_states(d, product, subject):
    r = d.call({"op": "status", "product": product, "subject": subject})
    return {s["scope"]: s["state"] for s in r["scopes"]}


def test_cancel_withdraws_every_scope_in_one_record(daemon, subject):
    c = daemon.client()
    for scope in TIANXING_SCOPES:
        assert c.call({"op": "grant", "product": "tianxing", "subject": subject,
                       "scope": scope})["ok"]
    assert c.call({"op": "refuse", "product": "tianxing", "subject": subject,
                   "scope": "permission:android.permission.ACCESS_FINE_LOCATION"})["ok"]
    r = c.call({"op": "cancel", "product": "tianxing", "subject": subject,
                "source": "注销账号"})
    c.close()
    assert r["ok"] and sorted(r["withdrawn"]) == sorted(TIANXING_SCOPES)
    states = status_states(daemon, "tianxing", subject)
    assert all(states[s] == "withdrawn" for s in TIANXING_SCOPES)
    # A refusal stays a refusal: cancel withdraws what was granted.
    assert states["permission:android.permission.ACCESS_FINE_LOCATION"] == "refused"
    last = daemon.call({"op": "history", "subject": subject})["events"][-1]
    assert (last["op"], last["seq"], last["source"]) == ("cancel", r["seq"], "注销账号")
    check = daemon.call({"op": "check", "product": "tianxing", "subject": subject,
                         "feature": "tianxing.account_login", "field": "phone_number"})
    assert check["decision"] != "allow"


def test_cancel_blocked_while_a_hold_is_set(daemon, subject):
    c = daemon.client()
    assert c.call({"op": "grant", "product": "tianxing", "subject": subject,
                   "scope": "policy"})["ok"]
    assert c.call({"op": "set_subject", "subject": subject, "product": "tianxing",
                   "holds": ["outstanding_loan"]})["ok"]
    r = c.call({"op": "cancel", "product": "tianxing", "subject": subject})
    assert r["error"]["code"] == "cancel_blocked" and "outstanding_loan" in r["error"]["message"]
    assert status_states(daemon, "tianxing", subject)["policy"] == "granted"
    assert [e["op"] for e in daemon.call({"op": "history", "subject": subject})["events"]] == [
        "grant", "set_subject"]
    # The loan repaid: the hold goes, and so may the account.
    assert c.call({"op": "set_subject", "subject": subject, "product": "tianxing",
                   "holds": []})["ok"]
    assert c.call({"op": "cancel", "product": "tianxing", "subject": subject})["ok"]
    c.close()


def test_a_hold_sent_just_before_cancel_still_blocks_it(daemon, subject):
    """Pipelined on one connection: the hold is committed in the same group as the cancel."""
    c = daemon.client()
    assert c.call({"op": "grant", "product": "tianxing", "subject": subject,
                   "scope": "policy"})["ok"]
    c.send({"op": "set_subject", "subject": subject, "holds": ["outstanding_loan"], "id": 1})
    c.send({"op": "cancel", "product": "tianxing", "subject": subject, "id": 2})
    first, second = c.recv(), c.recv()
    c.close()
    assert first["ok"] and second["id"] == 2
    assert second["error"]["code"] == "cancel_blocked"


def test_cancel_roles_and_bad_requests(daemon, subject):
    assert run_as(APP_UID, daemon.socket, {"op": "cancel", "product": "tianxing",
                                           "subject": subject})["error"]["code"] == "forbidden"
    assert run_as(READER_UID, daemon.socket, {"op": "cancel", "product": "mipay",
                                              "subject": subject})["error"]["code"] == "forbidden"
    assert run_as(APP_UID, daemon.socket, {"op": "cancel", "product": "mipay",
                                           "subject": subject})["ok"]
    r = daemon.call({"op": "cancel", "product": "mipay"})
    assert r["error"]["code"] == "bad_request" and "subject" in r["error"]["message"]
