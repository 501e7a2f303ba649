"""How much of the policy tables the decision scenarios (tests/e2e/scenarios/*.json) cover.

No daemon needed: this reads the scenario files, config/registry.json and config/policies/*.json
and checks that the suite exercises every feature, every declared field of every feature, every
permission on both sides of any platform/OS/ROM limit, every purpose the user can switch off,
minors and children per product, separate consent for sensitive fields, both Mi Store versions
and both languages of 2025, and over-collection; and that every scenario cites its clause and
states the full expected answer. Each failure names what is missing.
"""
import glob
import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PRODUCTS = ("mipay", "tianxing", "mistore")
MIN_TOTAL = 250
MIN_PER_PRODUCT = 60
OTHER_PLATFORM = {"android": "ios", "ios": "android", "web": "android"}


def _load_scenarios():
    out = []
    for path in sorted(glob.glob(os.path.join(HERE, "scenarios", "*.json"))):
        doc = json.load(open(path, encoding="utf-8"))
        for i, sc in enumerate(doc["scenarios"]):
            sc = dict(sc)
            sc.setdefault("product", doc["product"])
            sc["_id"] = f"{os.path.basename(path)[:-5]}-{i:03d}"
            out.append(sc)
    return out


def _load_tables():
    tables = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "config", "policies", "*.json"))):
        t = json.load(open(path, encoding="utf-8"))
        tables[(t["product"], t["version"])] = t
    return tables


SCENARIOS = _load_scenarios()
TABLES = _load_tables()
REGISTRY = json.load(open(os.path.join(ROOT, "config", "registry.json"), encoding="utf-8"))


def _current(product):
    versions = sorted(v for (p, v) in TABLES if p == product)
    return TABLES[(product, versions[-1])]


def _version_key(v):
    return tuple(int(x) for x in v.split("."))


def _checks(product=None):
    return [sc for sc in SCENARIOS if product is None or sc["product"] == product]


def _report(missing, what):
    assert not missing, f"{len(missing)} {what}:\n  " + "\n  ".join(sorted(missing)[:200])


def _given_scopes(sc, op):
    return [g.get("scope") for g in sc.get("given", []) if g.get("op") == op]


# -- every scenario states its clause and its full answer ----------------------------------------

def test_every_scenario_cites_and_states_the_full_answer():
    bad = []
    for sc in SCENARIOS:
        who = f"{sc['_id']} ({sc.get('name', '?')})"
        exp = sc.get("expect", {})
        if not sc.get("name"):
            bad.append(f"{who}: no name")
        cite = sc.get("cite", "")
        if not cite or not cite.strip()[:3].isdigit():
            bad.append(f"{who}: no cite naming the seed and section (e.g. '000 一、(一)1')")
        d = exp.get("decision")
        if d not in ("allow", "deny", "prompt"):
            bad.append(f"{who}: expect.decision missing or not allow/deny/prompt")
            continue
        if d in ("deny", "prompt") and not exp.get("reason"):
            bad.append(f"{who}: expect.reason (the first reason code) missing for a {d}")
        if d in ("allow", "prompt") and "basis" not in exp:
            bad.append(f"{who}: expect.basis missing for a {d}")
        if d == "prompt":
            if "prompt_scope" not in exp:
                bad.append(f"{who}: expect.prompt_scope missing for a prompt")
            if "separate" not in exp:
                bad.append(f"{who}: expect.separate missing for a prompt")
    _report(bad, "scenarios without a citation or a full expected answer")


# -- counts ----------------------------------------------------------------------------------------

def test_counts():
    counts = {}
    for sc in SCENARIOS:
        counts[sc["product"]] = counts.get(sc["product"], 0) + 1
    assert len(SCENARIOS) >= MIN_TOTAL, f"only {len(SCENARIOS)} scenarios, want >= {MIN_TOTAL}"
    short = [f"{p}: {counts.get(p, 0)} scenarios, want >= {MIN_PER_PRODUCT}" for p in PRODUCTS
             if counts.get(p, 0) < MIN_PER_PRODUCT]
    _report(short, "products with too few scenarios")
    assert counts.get("xiaomi", 0) > 0, "no scenario for the umbrella xiaomi (what it fills, not an app)"


# -- features and fields -------------------------------------------------------------------------

def test_every_registry_feature_is_checked():
    seen = {sc["check"].get("feature") for sc in SCENARIOS}
    _report([f for f in REGISTRY["features"] if f not in seen], "registry features never checked")


def test_every_declared_field_of_every_feature_is_checked():
    """Each (feature, field) pair of every table, asked under that table's product (any product
    for the umbrella's, which is never an app)."""
    missing = []
    for (product, version), t in TABLES.items():
        if product == "xiaomi":
            seen = {(sc["check"].get("feature"), sc["check"].get("field")) for sc in SCENARIOS}
        else:
            seen = {(sc["check"].get("feature"), sc["check"].get("field"))
                    for sc in _checks(product)}
        for fid, ft in t["features"].items():
            for field in ft.get("fields", {}):
                if (fid, field) not in seen:
                    missing.append(f"{product}@{version}: {fid} / {field}")
    _report(missing, "declared (feature, field) pairs never checked")


def test_declared_fields_are_allowed_with_the_basis_the_table_gives():
    """For the current table of each product, each (feature, field) is allowed in at least one
    scenario, with the basis the table gives it (separate_consent for a sensitive consent field)."""
    missing = []
    for product in PRODUCTS:
        t = _current(product)
        got = {}
        for sc in _checks(product):
            if sc["expect"].get("decision") == "allow" and "field" in sc["check"] \
                    and "exception" not in sc["check"] and "region" not in sc["check"]:
                got.setdefault((sc["check"]["feature"], sc["check"]["field"]), set()).add(
                    sc["expect"].get("basis"))
        for fid, ft in t["features"].items():
            for field, fd in ft.get("fields", {}).items():
                basis = fd.get("basis", ft["basis"])
                if basis == "consent" and t["fields"].get(field, {}).get("sensitive"):
                    basis = "separate_consent"
                if basis not in got.get((fid, field), set()):
                    missing.append(f"{product}@{t['version']}: {fid} / {field} allowed with basis "
                                   f"{basis} (seen: {sorted(got.get((fid, field), []))})")
    _report(missing, "declared fields never allowed with their basis")


def test_sensitive_consent_fields_need_separate_consent():
    missing = []
    for product in PRODUCTS:
        t = _current(product)
        seen = {(sc["check"].get("feature"), sc["check"].get("field")) for sc in _checks(product)
                if sc["expect"].get("separate") is True
                and sc["expect"].get("reason") == "separate_consent_missing"}
        for fid, ft in t["features"].items():
            for field, fd in ft.get("fields", {}).items():
                if t["fields"].get(field, {}).get("sensitive") and \
                        fd.get("basis", ft["basis"]) == "consent" and (fid, field) not in seen:
                    missing.append(f"{product}: {fid} / {field} (separate_consent_missing, separate true)")
    _report(missing, "sensitive consent fields without a separate-consent prompt")


# -- permissions and limits ----------------------------------------------------------------------

def _inside(limits, check):
    pl = limits.get("platforms")
    if pl:
        p = check.get("platform")
        if p not in pl:
            return False
        v = check.get("os_version")
        mn = (limits.get("os_min") or {}).get(p)
        bl = (limits.get("os_below") or {}).get(p)
        if (mn or bl) and v is None:
            return False
        if mn and _version_key(v) < _version_key(mn):
            return False
        if bl and _version_key(v) >= _version_key(bl):
            return False
    if limits.get("roms") and check.get("rom") not in limits["roms"]:
        return False
    return True


def _limit_sides(limits):
    """Which outside-the-limit sides a limit has: each a predicate over a check."""
    sides = {}
    pl = limits.get("platforms")
    if pl:
        sides["another platform than " + "/".join(pl)] = \
            lambda c: c.get("platform") is not None and c.get("platform") not in pl
        for p in pl:
            mn = (limits.get("os_min") or {}).get(p)
            bl = (limits.get("os_below") or {}).get(p)
            if mn:
                sides[f"{p} below {mn}"] = lambda c, p=p, mn=mn: c.get("platform") == p and \
                    c.get("os_version") is not None and _version_key(c["os_version"]) < _version_key(mn)
            if bl:
                sides[f"{p} at or above {bl}"] = lambda c, p=p, bl=bl: c.get("platform") == p and \
                    c.get("os_version") is not None and _version_key(c["os_version"]) >= _version_key(bl)
    if limits.get("roms"):
        sides["a ROM other than " + "/".join(limits["roms"])] = \
            lambda c: c.get("rom") is not None and c.get("rom") not in limits["roms"]
    return sides


def _limited_declarations(t):
    for fid, ft in t["features"].items():
        for pid, pd in ft.get("permissions", {}).items():
            yield fid, "permission", pid, pd.get("limits")
        for field, fd in ft.get("fields", {}).items():
            if fd.get("limits"):
                yield fid, "field", field, fd["limits"]


def test_every_permission_is_checked():
    missing = []
    for product in PRODUCTS:
        t = _current(product)
        seen = {(sc["check"].get("feature"), sc["check"].get("permission")) for sc in _checks(product)}
        for fid, ft in t["features"].items():
            for pid in ft.get("permissions", {}):
                if (fid, pid) not in seen:
                    missing.append(f"{product}: {fid} / {pid}")
    seen_any = {sc["check"].get("permission") for sc in SCENARIOS}
    missing += [f"registry permission {p}" for p in REGISTRY["permissions"]
                if p not in seen_any and any(p in ft.get("permissions", {})
                                              for t in TABLES.values()
                                              for ft in t["features"].values())]
    _report(missing, "declared permissions never checked")


def test_limits_are_checked_on_both_sides():
    missing = []
    for product in PRODUCTS:
        t = _current(product)
        for fid, kind, ident, limits in _limited_declarations(t):
            if not limits:
                continue
            mine = [sc for sc in _checks(product) if sc["check"].get("feature") == fid
                    and sc["check"].get(kind) == ident and "exception" not in sc["check"]]
            what = f"{product}: {fid} {kind} {ident}"
            if not any(_inside(limits, sc["check"]) and
                       sc["expect"].get("reason") != "platform_excluded" for sc in mine):
                missing.append(f"{what}: no case inside its limit {limits}")
            for side, pred in _limit_sides(limits).items():
                if not any(pred(sc["check"]) and sc["expect"].get("reason") == "platform_excluded"
                           for sc in mine):
                    missing.append(f"{what}: no platform_excluded case on {side}")
            if (limits.get("platforms") and not any(
                    "platform" not in sc["check"] and sc["expect"].get("reason") == "platform_excluded"
                    for sc in mine)):
                missing.append(f"{what}: no platform_excluded case asked without a platform")
    _report(missing, "limits not checked on both sides")


# -- purposes, minors, versions, over-collection -----------------------------------------------

def test_every_switchable_purpose_is_checked_on_and_off():
    missing = []
    for product in PRODUCTS:
        t = _current(product)
        served = {pur for ft in t["features"].values()
                  for decl in list(ft.get("fields", {}).values()) + list(ft.get("permissions", {}).values())
                  for pur in decl.get("purposes", ft["purposes"])}
        for pid, pd in t["purposes"].items():
            if not pd.get("switchable"):
                continue
            if pid not in served:
                # no declared field or permission serves it (e.g. mistore's
                # automated_decision_making: 2025-TC §14 declares no data): a check cannot reach it
                continue
            mine = _checks(product)
            off = [sc for sc in mine if f"purpose:{pid}" in _given_scopes(sc, "withdraw")
                   and sc["expect"].get("reason") == "opted_out"]
            if not off:
                missing.append(f"{product}: purpose {pid} switched off (opted_out)")
            unset = [sc for sc in mine if f"purpose:{pid}" not in _given_scopes(sc, "grant")
                     + _given_scopes(sc, "withdraw") and sc["check"].get("purpose") == pid]
            if pd.get("default", "off") == "off":
                if not any(sc["expect"].get("prompt_scope") == f"purpose:{pid}" for sc in unset):
                    missing.append(f"{product}: purpose {pid} (default off) not yet switched on "
                                   f"-> prompt for purpose:{pid}")
            elif not any(sc["expect"].get("decision") == "allow" for sc in unset):
                missing.append(f"{product}: purpose {pid} (default on) allowed before any choice")
            on = [sc for sc in mine if f"purpose:{pid}" in _given_scopes(sc, "grant")
                  and f"purpose:{pid}" not in _given_scopes(sc, "withdraw")
                  and sc["expect"].get("decision") == "allow"]
            if not on:
                missing.append(f"{product}: purpose {pid} switched on -> allow")
    _report(missing, "switchable purposes not checked")


def test_minors_and_children_per_product():
    missing = []
    for product in PRODUCTS:
        t = _current(product)
        for band in ("minor", "child"):
            mine = [sc for sc in _checks(product) if any(
                g.get("op") == "set_subject" and g.get("age_band") == band
                for g in sc.get("given", []))]
            if not mine:
                missing.append(f"{product}: no scenario for a {band}")
                continue
            if band in t["minors"].get("refuse", []) and not any(
                    sc["expect"].get("reason") == "minor_refused" for sc in mine):
                missing.append(f"{product}: a {band} refused (minor_refused)")
            if band in t["minors"].get("guardian_required", []):
                if not any(sc["expect"].get("reason") == "guardian_consent_missing" for sc in mine):
                    missing.append(f"{product}: a {band} without a guardian (guardian_consent_missing)")
                if not any(sc["expect"].get("decision") == "allow" for sc in mine):
                    missing.append(f"{product}: a {band} with a guardian's consent (allow)")
            refused = t["minors"].get("purposes_refused", {})
            if band in refused.get("bands", []) and not any(
                    sc["expect"].get("reason") == "minor_refused" for sc in mine):
                missing.append(f"{product}: a {band} kept from {refused.get('purposes')} (minor_refused)")
    _report(missing, "minors/children cases missing")


def test_both_mistore_versions_and_both_2025_languages():
    mine = _checks("mistore")
    missing = []
    old = [sc for sc in mine if any(g.get("policy_version") == "2021-07-22" for g in sc.get("given", []))]
    if not any(sc["expect"].get("reason") == "reconsent_required" for sc in old):
        missing.append("a 2021-only subject asked for what 2025 added (reconsent_required)")
    if not any(sc["expect"].get("decision") == "allow" for sc in old):
        missing.append("a 2021-only subject allowed what 2025 did not widen")
    if not any(sc["expect"].get("reason") == "not_declared" for sc in old):
        missing.append("a 2021-only subject asked for what 2025 dropped (not_declared)")
    for tag in ("2021-HK", "2025-TC", "2025-EN"):
        if not any(tag in sc.get("cite", "") for sc in mine):
            missing.append(f"no scenario cites the {tag} text")
    _report(missing, "Mi Store version/language cases missing")


def test_over_collection_per_product():
    missing = []
    for product in PRODUCTS:
        t = _current(product)
        fields_of = {fid: set(ft.get("fields", {})) for fid, ft in t["features"].items()}
        declared = set().union(*fields_of.values())
        hits = [sc for sc in _checks(product) if sc["expect"].get("reason") == "not_declared"
                and sc["check"].get("field") in declared
                and sc["check"].get("feature") in fields_of
                and sc["check"]["field"] not in fields_of[sc["check"]["feature"]]]
        if len(hits) < 3:
            missing.append(f"{product}: {len(hits)} over-collection cases (a field declared for one "
                           f"feature asked under another -> not_declared), want >= 3")
    _report(missing, "over-collection cases missing")


def test_umbrella_features_are_not_collection_grants():
    missing = []
    for product in PRODUCTS + ("xiaomi",):
        if not any(sc["check"].get("feature", "").startswith("xiaomi.")
                   and sc["expect"].get("reason") == "not_declared" for sc in _checks(product)):
            missing.append(f"{product}: a xiaomi.* feature asked under it (not_declared)")
    _report(missing, "umbrella cases missing")
