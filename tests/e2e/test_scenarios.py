"""Decision scenarios read from the seed policies (tests/e2e/scenarios/*.json), each citing its
clause, run over the real socket: a fresh subject, the given consent history, one check."""
import glob
import json
import os
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def load():
    cases = []
    for path in sorted(glob.glob(os.path.join(HERE, "scenarios", "*.json"))):
        doc = json.load(open(path, encoding="utf-8"))
        for i, sc in enumerate(doc["scenarios"]):
            sc.setdefault("product", doc["product"])
            name = f"{os.path.basename(path)[:-5]}-{i:03d}"
            cases.append(pytest.param(sc, id=name))
    return cases


def setup_step(daemon, product, subject, step, guardians):
    msg = dict(step)
    msg.setdefault("product", product)
    msg["subject"] = subject
    if msg.get("guardian") == "$guardian":
        g = "g-" + uuid.uuid4().hex[:12]
        r = daemon.call({"op": "set_subject", "subject": g, "age_band": "adult"})
        assert r["ok"], r
        msg["guardian"] = g
    if msg["op"] == "set_subject" and "product" not in step:
        del msg["product"]
    r = daemon.call(msg)
    assert r["ok"], f"setup step {step} failed: {r}"


@pytest.mark.parametrize("sc", load())
def test_scenario(daemon, sc):
    subject = "s-" + uuid.uuid4().hex[:12]
    for step in sc.get("given", []):
        setup_step(daemon, sc["product"], subject, step, {})
    req = {"op": "check", "product": sc["product"], "subject": subject}
    req.update(sc["check"])
    r = daemon.call(req)
    want = sc["expect"]
    where = f"{sc['name']} ({sc['cite']}): {json.dumps(r, ensure_ascii=False)}"
    assert r["ok"], where
    assert r["decision"] == want["decision"], where
    if "reason" in want:
        assert r["reasons"] and r["reasons"][0] == want["reason"], where
    if "basis" in want:
        assert r["basis"] == want["basis"], where
    if "prompt_scope" in want:
        assert r["prompt"]["scope"] == want["prompt_scope"], where
    if "separate" in want:
        assert r["prompt"]["separate"] == want["separate"], where
    if want["decision"] == "deny" and want.get("reason") == "refused_recently":
        assert "retry_after" in r, where
