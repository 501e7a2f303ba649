"""The policy op's diff_from: Mi Store 2021-07-22 -> 2025-05-20 against the diff written out from
the two texts (tests/e2e/expected/mistore-diff-2021-2025.json), and its bad input."""
import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = json.load(open(os.path.join(HERE, "expected", "mistore-diff-2021-2025.json"),
                          encoding="utf-8"))
LISTS = ["fields_added", "fields_removed", "permissions_added", "permissions_removed",
         "purposes_added", "purposes_removed"]

def diff(daemon, **kw):
    r = daemon.call({"op": "policy", "product": "mistore", "version": "2025-05-20",
                     "diff_from": "2021-07-22", **kw})
    assert r["ok"], r
    return r


def test_diff_names_its_versions(daemon):
    r = diff(daemon)
    assert (r["product"], r["from"], r["to"]) == ("mistore", "2021-07-22", "2025-05-20")


def test_features_added_and_removed(daemon):
    d = diff(daemon)["diff"]
    assert d["features_added"] == EXPECTED["features_added"]
    assert d["features_removed"] == EXPECTED["features_removed"]


def test_no_unexpected_feature_changes(daemon):
    d = diff(daemon)["diff"]
    assert sorted(d["changed"]) == sorted(EXPECTED["changed"])


@pytest.mark.parametrize("feature", sorted(EXPECTED["changed"]))
def test_feature_changes_as_the_texts_say(daemon, feature):
    got = diff(daemon)["diff"]["changed"].get(feature)
    want = EXPECTED["changed"][feature]
    assert got is not None, f"{feature} shows no change"
    for key in LISTS:
        assert got[key] == want[key], f"{feature}: {key}"
    strip = {k: {"from": v["from"], "to": v["to"]} for k, v in want["basis_changed"].items()}
    assert got["basis_changed"] == strip, f"{feature}: basis_changed"


def test_reconsent_lists_what_2021_consent_does_not_cover(daemon):
    rc = diff(daemon)["diff"]["reconsent"]
    login = rc["mistore.registration_login"]
    assert {"field": "email", "purpose": "service_notices"} in login
    assert all(i.get("field") != "phone_number" for i in login), \
        "the phone number was declared for login in 2021 as well"
    table = daemon.call({"op": "policy", "product": "mistore", "version": "2025-05-20"})
    for f in EXPECTED["features_added"]:
        decl = table["features"][f]
        if decl["fields"] or decl["permissions"]:
            assert f in rc, f"{f} is new in 2025: nothing of it was consented to in 2021"


def test_same_version_has_no_changes(daemon):
    d = diff(daemon, diff_from="2025-05-20")["diff"]
    assert d == {"features_added": [], "features_removed": [], "changed": {}, "reconsent": {}}


@pytest.mark.parametrize("req,message", [
    ({"op": "policy", "product": "mistore", "diff_from": "2020-01-01"},
     "mistore has no version 2020-01-01"),
    ({"op": "policy", "product": "mistore", "version": "1999-01-01", "diff_from": "2021-07-22"},
     "mistore has no version 1999-01-01"),
    ({"op": "policy", "diff_from": "2021-07-22"}, '"diff_from" needs "product"'),
    ({"op": "policy", "product": "mistore", "diff_from": 2021}, "diff_from"),
])
def test_bad_diff_requests(daemon, req, message):
    r = daemon.call(req)
    assert not r["ok"] and r["error"]["code"] == "bad_request", r
    assert message in r["error"]["message"], r


def test_explain_cites_the_policys_own_words_on_asking_again(daemon, subject):
    r = daemon.call({"op": "grant", "product": "mistore", "subject": subject, "scope": "policy",
                     "policy_version": "2021-07-22"})
    assert r["ok"], r
    r = daemon.call({"op": "explain", "product": "mistore", "subject": subject,
                     "feature": "mistore.registration_login", "field": "email"})
    assert r["decision"] == "prompt" and r["reasons"] == ["reconsent_required"], r
    step = next(s for s in r["trace"] if s["result"] == "prompt")
    # Mi Store 2025 states no such clause of its own: the umbrella's fills it (001 1.2).
    assert {(c["seed"], c["lines"][0]) for c in step["clauses"]} == {("001", 88)}, step


def test_policy_shows_where_each_policy_asks_again(daemon):
    mipay = daemon.call({"op": "policy", "product": "mipay"})
    assert [(c["seed"], c["lines"]) for c in mipay["reconsent"]] == [("000", [127, 127])]
    old = daemon.call({"op": "policy", "product": "mistore", "version": "2021-07-22"})
    assert [(c["seed"], c["lines"]) for c in old["reconsent"]] == [("003", [376, 376])]
