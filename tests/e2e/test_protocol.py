"""The transport and the ops of CONTRACT §2-§4 over the real socket: framing, pipelining,
errors, identity, and the consent life cycle."""
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import APP_UID, READER_UID, STRANGER_UID, BUILD, Daemon, ROOT

CAMERA = "android.permission.CAMERA"


def check(d, subject, **kw):
    req = {"op": "check", "product": "mipay", "subject": subject,
           "feature": "mipay.real_name_account", "field": "id_number"}
    req.update(kw)
    return d.call(req)


def test_hello(daemon):
    r = daemon.call({"op": "hello", "id": 7})
    assert r == {"id": 7, "ok": True, "server": "consentd", "version": r["version"],
                 "protocol": 1, "peer": {"uid": 0, "role": "admin",
                                         "products": r["peer"]["products"]}}
    assert "mipay" in r["peer"]["products"]


def test_lifecycle_prompt_grant_allow_withdraw_deny(daemon, subject):
    # 000 一、(一)3(3): transfer is an optional function resting on consent.
    ask = dict(feature="mipay.transfer", field="payee_xiaomi_account")
    r = check(daemon, subject, **ask)
    assert (r["decision"], r["reasons"][0], r["prompt"]["scope"]) == \
        ("prompt", "policy_not_accepted", "policy")
    g = daemon.call({"op": "grant", "product": "mipay", "subject": subject, "scope": "policy"})
    assert g["ok"] and g["seq"] > 0 and g["at"] > 0
    r = check(daemon, subject, **ask)
    assert (r["decision"], r["reasons"][0], r["prompt"]["scope"]) == \
        ("prompt", "consent_missing", "feature:mipay.transfer")
    daemon.call({"op": "grant", "product": "mipay", "subject": subject,
                 "scope": "feature:mipay.transfer"})
    r = check(daemon, subject, **ask)
    assert r["decision"] == "allow" and r["reasons"] == [] and r["basis"] == "consent"
    assert r["policy"] == "mipay@2024-04-25" and r["decision_id"]
    daemon.call({"op": "withdraw", "product": "mipay", "subject": subject,
                 "scope": "feature:mipay.transfer"})
    r = check(daemon, subject, **ask)
    assert (r["decision"], r["reasons"][0]) == ("deny", "consent_withdrawn")


def test_refusal_window(daemon, subject):
    daemon.call({"op": "grant", "product": "mipay", "subject": subject, "scope": "policy"})
    ref = daemon.call({"op": "refuse", "product": "mipay", "subject": subject,
                       "scope": "permission:" + CAMERA})
    r = daemon.call({"op": "check", "product": "mipay", "subject": subject,
                     "feature": "mipay.scan", "permission": CAMERA, "platform": "android"})
    assert (r["decision"], r["reasons"][0]) == ("deny", "refused_recently")
    assert r["retry_after"] == ref["at"] + 48 * 3600


def test_status_lists_scopes(daemon, subject):
    daemon.call({"op": "grant", "product": "mipay", "subject": subject, "scope": "policy"})
    r = daemon.call({"op": "status", "product": "mipay", "subject": subject})
    assert r["ok"] and r["scopes"][0]["scope"] == "policy"
    assert r["scopes"][0]["state"] == "granted"
    assert r["scopes"][0]["policy_version"] == "2024-04-25"


def test_reconsent_across_mistore_versions(daemon, subject):
    old = {"op": "grant", "product": "mistore", "subject": subject, "scope": "policy",
           "policy_version": "2021-07-22"}
    assert daemon.call(old)["ok"]
    r = daemon.call({"op": "status", "product": "mistore", "subject": subject})
    assert r["scopes"][0]["policy_version"] == "2021-07-22"
    # What 2021 already declared for placing an order stays covered.
    r = daemon.call({"op": "check", "product": "mistore", "subject": subject,
                     "feature": "mistore.purchase_order", "field": "shipping_address"})
    assert r["decision"] == "allow", r
    # A feature only 2021 had is judged by the current version.
    r = daemon.call({"op": "check", "product": "mistore", "subject": subject,
                     "feature": "mistore.cookies_and_logs", "field": "ip_address"})
    assert (r["decision"], r["reasons"][0]) == ("deny", "not_declared")


def test_pipelining_1000_in_order(daemon, subject):
    c = daemon.client()
    batch = b"".join(json.dumps({"op": "check", "id": i, "product": "mipay",
                                 "subject": subject, "feature": "mipay.real_name_account",
                                 "field": "id_number"}).encode() + b"\n" for i in range(1000))
    c.send_raw(batch)
    ids = [c.recv()["id"] for _ in range(1000)]
    assert ids == list(range(1000))
    c.close()


def test_slow_reader_stalls_only_itself(daemon, subject):
    """Replies far beyond what the socket buffers wait in the daemon, in order; others are
    served meanwhile."""
    slow = daemon.client()
    line = json.dumps({"op": "check", "id": 0, "product": "mipay", "subject": subject,
                       "feature": "mipay.real_name_account", "field": "id_number"})
    n = 20000
    batch = b"".join(line.replace('"id": 0', f'"id": {i}').encode() + b"\n"
                     for i in range(n))
    sender = threading.Thread(target=slow.send_raw, args=(batch,))
    sender.start()
    time.sleep(0.5)
    assert daemon.call({"op": "hello", "id": "other"})["ok"]
    ids = [slow.recv()["id"] for _ in range(n)]
    sender.join()
    assert ids == list(range(n))
    slow.close()


def test_pipelined_grant_then_check_sees_grant(daemon, subject):
    c = daemon.client()
    c.send({"op": "grant", "id": "g", "product": "mipay", "subject": subject, "scope": "policy"})
    c.send({"op": "check", "id": "c", "product": "mipay", "subject": subject,
            "feature": "mipay.real_name_account", "field": "id_number"})
    g, r = c.recv(), c.recv()
    assert g["id"] == "g" and g["ok"]
    assert r["id"] == "c" and r["decision"] == "allow" and r["basis"] == "legal_obligation"
    c.close()


def test_ids_echoed_verbatim(daemon):
    for ident in ["x", 3, 2.5, True, None, "中文"]:
        r = daemon.call({"op": "hello", "id": ident})
        assert r["id"] == ident
    assert "id" not in daemon.call({"op": "hello"})


@pytest.mark.parametrize("msg,code,word", [
    ({"op": "nope"}, "unknown_op", "nope"),
    ({}, "bad_request", "op"),
    ({"op": 5}, "bad_request", "op"),
    ({"op": "check", "product": "zz", "subject": "s", "feature": "mipay.scan",
      "field": "avatar"}, "unknown_product", "zz"),
    ({"op": "check", "product": "mipay", "subject": "s", "feature": "mipay.nope",
      "field": "avatar"}, "unknown_feature", "mipay.nope"),
    ({"op": "check", "product": "mipay", "subject": "s", "feature": "mipay.scan",
      "field": "nope"}, "unknown_field", "nope"),
    ({"op": "check", "product": "mipay", "subject": "s", "feature": "mipay.scan",
      "permission": "nope"}, "unknown_permission", "nope"),
    ({"op": "check", "product": "mipay", "subject": "s", "feature": "mipay.scan",
      "field": "avatar", "purpose": "nope"}, "unknown_purpose", "nope"),
    ({"op": "check", "product": "mipay", "subject": "s", "feature": "mipay.scan",
      "field": "avatar", "exception": "nope"}, "unknown_exception", "nope"),
    ({"op": "check", "product": "mipay", "subject": "s", "feature": "mipay.scan"},
     "bad_request", "field"),
    ({"op": "check", "product": "mipay", "subject": "s", "feature": "mipay.scan",
      "field": "avatar", "permission": CAMERA}, "bad_request", "field"),
    ({"op": "check", "product": "mipay", "feature": "mipay.scan", "field": "avatar"},
     "bad_request", "subject"),
    ({"op": "check", "product": "mipay", "subject": 4, "feature": "mipay.scan",
      "field": "avatar"}, "bad_request", "subject"),
    ({"op": "check", "product": "mipay", "subject": "s", "feature": "mipay.scan",
      "field": "avatar", "platform": "symbian"}, "bad_request", "platform"),
    ({"op": "check", "product": "mipay", "subject": "s", "feature": "mipay.scan",
      "field": "avatar", "os_version": "ten"}, "bad_request", "os_version"),
    ({"op": "grant", "product": "mipay", "subject": "s", "scope": "everything"},
     "unknown_scope", "everything"),
    ({"op": "grant", "product": "mipay", "subject": "s", "scope": "feature:mipay.nope"},
     "unknown_scope", "mipay.nope"),
    ({"op": "grant", "product": "mipay", "subject": "s", "scope": "feature:tianxing.scan"},
     "unknown_scope", "another product"),
    ({"op": "grant", "product": "mipay", "subject": "s", "scope": "policy",
      "policy_version": "1999-01-01"}, "bad_request", "1999-01-01"),
    ({"op": "set_subject", "subject": "s", "age_band": "teen"}, "bad_request", "age_band"),
    ({"op": "grant", "product": "mipay", "subject": "s", "scope": "policy",
      "guardian": "nobody-here"}, "bad_request", "guardian"),
])
def test_bad_requests(daemon, msg, code, word):
    msg["id"] = "bad"
    c = daemon.client()
    r = c.call(msg)
    assert r["id"] == "bad" and r["ok"] is False
    assert r["error"]["code"] == code and word in r["error"]["message"], r
    # The connection stays open after an ordinary error.
    assert c.call({"op": "hello"})["ok"]
    c.close()


def test_bad_json_closes_that_connection_only(daemon):
    other = daemon.client()
    c = daemon.client()
    c.send_raw(b'{"op": "hello",,}\n')
    r = c.recv()
    assert r["ok"] is False and r["error"]["code"] == "bad_json"
    assert c.closed()
    assert other.call({"op": "hello"})["ok"]
    other.close()


def test_not_an_object(daemon):
    c = daemon.client()
    r = c.call([1, 2])
    assert r["error"]["code"] == "bad_request"
    c.close()


def test_too_large_line(daemon):
    c = daemon.client()
    c.send_raw(b'{"op":"hello","pad":"' + b"x" * (70 * 1024) + b'"}\n')
    r = c.recv()
    assert r["error"]["code"] == "too_large"
    assert c.closed()
    assert daemon.call({"op": "hello"})["ok"]


def test_line_just_under_the_limit(daemon):
    c = daemon.client()
    head = b'{"op":"hello","pad":"'
    pad = 64 * 1024 - len(head) - len(b'"}\n')
    c.send_raw(head + b"x" * pad + b'"}\n')
    assert c.recv()["ok"]
    c.close()


def test_binary_garbage_and_invalid_utf8(daemon):
    c = daemon.client()
    c.send_raw(b'{"op":"hello","x":"\xff\xfe"}\n')
    assert c.recv()["error"]["code"] == "bad_json"
    assert daemon.call({"op": "hello"})["ok"]


def run_as(uid, socket_path, msg):
    """Run consentctl raw as another uid (setpriv), returning the reply."""
    out = subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
         os.path.join(BUILD, "consentctl"), "--socket", socket_path, "--json", "raw",
         json.dumps(msg)], capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout)


def test_app_peer_of_one_product_refused_on_another(daemon):
    base = {"subject": "u1", "feature": "mipay.real_name_account", "field": "id_number"}
    mine = run_as(APP_UID, daemon.socket, dict(base, op="check", product="mipay"))
    assert mine["ok"] and mine["decision"] == "prompt"
    theirs = run_as(APP_UID, daemon.socket, dict(base, op="check", product="tianxing",
                                                  feature="tianxing.account_login",
                                                  field="phone_number"))
    assert theirs["error"]["code"] == "forbidden" and "tianxing" in theirs["error"]["message"]
    hello = run_as(APP_UID, daemon.socket, {"op": "hello"})
    assert hello["peer"] == {"uid": APP_UID, "role": "app", "products": ["mipay"]}
    assert run_as(APP_UID, daemon.socket, {"op": "reload"})["error"]["code"] == "forbidden"
    exc = run_as(APP_UID, daemon.socket, dict(base, op="check", product="mipay",
                                              exception="ce_legal_obligation"))
    assert exc["error"]["code"] == "forbidden"


def test_reader_and_stranger(daemon):
    r = run_as(READER_UID, daemon.socket, {"op": "stats"})
    assert r["ok"] and "uptime" in r
    r = run_as(READER_UID, daemon.socket, {"op": "grant", "product": "mipay",
                                           "subject": "x", "scope": "policy"})
    assert r["error"]["code"] == "forbidden"
    assert run_as(STRANGER_UID, daemon.socket, {"op": "hello"})["peer"]["role"] == "none"
    r = run_as(STRANGER_UID, daemon.socket, {"op": "policy"})
    assert r["error"]["code"] == "forbidden"


def test_explain_cites_clauses(daemon, subject):
    r = daemon.call({"op": "explain", "product": "mipay", "subject": subject,
                     "feature": "mipay.payment_verification",
                     "field": "fingerprint_template"})
    assert r["decision"] == "deny" and r["reasons"][0] == "never_collect"
    step = r["trace"][0]
    assert step["rule"] == "never_collect" and step["clauses"]
    assert step["clauses"][0]["seed"] == "000" and step["clauses"][0]["quote"]


def test_exception_is_admin_only_and_allows(daemon, subject):
    r = daemon.call({"op": "check", "product": "mipay", "subject": subject,
                     "feature": "mipay.real_name_account", "field": "id_number",
                     "exception": "ce_legal_obligation"})
    assert r["decision"] == "allow" and r["basis"] == "exception"


def test_policy_and_decisions_and_stats(daemon, subject):
    r = daemon.call({"op": "policy"})
    products = {p["product"]: p for p in r["products"]}
    assert products["mistore"]["versions"] == ["2021-07-22", "2025-05-20"]
    r = daemon.call({"op": "policy", "product": "mipay"})
    assert "mipay.real_name_account" in r["features"]
    check(daemon, subject)
    r = daemon.call({"op": "decisions", "subject": subject})
    assert r["decisions"][0]["subject"] == subject
    r = daemon.call({"op": "stats"})
    assert r["requests"]["total"] > 0 and r["ledger"]["records"] >= 0


def test_umbrella_is_not_an_app(daemon, subject):
    r = daemon.call({"op": "check", "product": "xiaomi", "subject": subject,
                     "feature": "xiaomi.push_service", "field": "fcm_token"})
    assert (r["decision"], r["reasons"][0]) == ("deny", "not_declared")


def test_restart_keeps_every_acked_grant(fresh_daemon):
    d = fresh_daemon
    c = d.client()
    for i in range(200):
        c.send({"op": "grant", "id": i, "product": "mipay", "subject": f"r{i}",
                "scope": "policy"})
    acked = [c.recv() for _ in range(200)]
    assert all(a["ok"] for a in acked)
    c.close()
    d.stop(signal.SIGKILL)
    d.start()
    for i in range(200):
        r = d.call({"op": "status", "product": "mipay", "subject": f"r{i}"})
        assert r["scopes"][0]["state"] == "granted", r


def test_sighup_with_broken_policies_keeps_old_set(fresh_daemon, tmp_path):
    pol = tmp_path / "policies"
    shutil.copytree(os.path.join(ROOT, "config", "policies"), pol)
    d = Daemon(policy_dir=str(pol))
    d.start()
    try:
        with open(pol / "mipay@2024-04-25.json", "a") as f:
            f.write("garbage")
        d.kill(signal.SIGHUP)
        time.sleep(0.5)
        assert "reload refused" in d.output()
        r = d.call({"op": "check", "product": "mipay", "subject": "x",
                    "feature": "mipay.real_name_account", "field": "id_number"})
        assert r["ok"] and r["decision"] == "prompt"
        r = d.call({"op": "reload"})
        assert r["ok"] is False and "mipay@2024-04-25.json" in r["error"]["message"]
    finally:
        d.cleanup()


def test_missing_state_dir_parent_unwritable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    d = Daemon(state_dir=str(blocker / "state"))
    with pytest.raises(RuntimeError) as e:
        d.start()
    assert "ledger" in str(e.value)
    d.cleanup()


def test_check_config_reports_file_and_path(tmp_path):
    pol = tmp_path / "policies"
    shutil.copytree(os.path.join(ROOT, "config", "policies"), pol)
    doc = json.load(open(pol / "mipay@2024-04-25.json"))
    doc["features"]["mipay.scan"]["kind"] = "maybe"
    doc["features"]["mipay.transfer"]["fields"]["no_such_field"] = {"need": "required"}
    json.dump(doc, open(pol / "mipay@2024-04-25.json", "w"), ensure_ascii=False)
    out = subprocess.run([os.path.join(BUILD, "consentd"), "--check-config", "--policy-dir",
                          str(pol), "--registry", os.path.join(ROOT, "config", "registry.json")],
                         capture_output=True, text=True)
    assert out.returncode == 1
    assert "$.features.mipay.scan: \"kind\" must be core or optional" in out.stderr
    assert "$.features.mipay.transfer.fields.no_such_field: unknown field" in out.stderr


def test_clean_stop_answers_what_was_read(fresh_daemon, subject):
    d = fresh_daemon
    c = d.client()
    for i in range(50):
        c.send({"op": "grant", "id": i, "product": "mipay", "subject": f"{subject}-{i}",
                "scope": "policy"})
    first = c.recv()
    assert first["ok"]
    d.kill(signal.SIGTERM)
    rest = [c.recv() for _ in range(49)]
    assert all(r["ok"] for r in rest)
    assert d.proc.wait(30) == 0
