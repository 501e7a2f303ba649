"""consentd --lint and the policy op's lint result: each product's basic functions against the
national list of necessary personal information (config/necessary-pi.json)."""
import json
import os
import shutil
import subprocess

from conftest import BUILD, ROOT

CONSENTD = os.path.join(BUILD, "consentd")
POLICIES = os.path.join(ROOT, "config", "policies")


def lint(policy_dir=POLICIES, registry=None):
    cmd = [CONSENTD, "--lint", "--policy-dir", policy_dir]
    if registry:
        cmd += ["--registry", registry]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def test_lint_reports_findings_and_exits_0():
    r = lint()
    assert r.returncode == 0, r.stderr
    for head in ["mipay@2024-04-25 (网络支付类)", "tianxing@2023-02-03 (网络借贷类)",
                 "mistore@2025-05-20 (网上购物类)"]:
        assert head in r.stdout
    # 000 一、(一)1: logging in needs the Xiaomi account; the payment list has only the phone.
    assert any("beyond_necessary" in l and "mipay.account_login" in l and
               "xiaomi_account_id" in l for l in r.stdout.splitlines())
    # The payment list itself is never a finding.
    for field in ["phone_number", "real_name", "id_number", "bank_card_number"]:
        assert not any(f" {field} " in l for l in r.stdout.splitlines()
                       if "mipay." in l), field


def test_lint_leaves_check_config_alone():
    r = subprocess.run([CONSENTD, "--check-config", "--policy-dir", POLICIES],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_policy_op_carries_the_current_tables_lint(daemon):
    r = daemon.call({"op": "policy", "product": "tianxing"})
    assert r["ok"], r
    found = {(f["feature"], f["field"]): f for f in r["lint"]}
    f = found[("tianxing.loan_app_list_risk_control", "app_list")]
    assert f["finding"] == "beyond_necessary" and f["type"] == "lending"
    assert f["cite"][0]["seed"] == "002"
    # A payment feature of tianxing is judged against the payment list.
    assert found[("tianxing.tianxing_pay", "bank_reserved_phone")]["type"] == "payment"
    assert daemon.call({"op": "policy", "product": "xiaomi"})["lint"] is None
    old = daemon.call({"op": "policy", "product": "mistore", "version": "2021-07-22"})
    assert "lint" not in old


def test_broken_rules_file_is_a_clear_error(tmp_path):
    shutil.copy(os.path.join(ROOT, "config", "registry.json"), tmp_path / "registry.json")
    rules = json.load(open(os.path.join(ROOT, "config", "necessary-pi.json"), encoding="utf-8"))
    rules["products"]["mipay"]["type"] = "gambling"
    (tmp_path / "necessary-pi.json").write_text(json.dumps(rules), encoding="utf-8")
    r = lint(registry=str(tmp_path / "registry.json"))
    assert r.returncode == 1
    assert "necessary-pi.json: products.mipay.type names no type" in r.stderr
    (tmp_path / "necessary-pi.json").write_text("{", encoding="utf-8")
    r = lint(registry=str(tmp_path / "registry.json"))
    assert r.returncode == 1 and "necessary-pi.json:1:" in r.stderr
