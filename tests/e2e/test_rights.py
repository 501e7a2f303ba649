"""The data subject's rights of each policy, as the policy op shows them (POLICY.md, ## Rights).

Each expectation below was read in the seed text (config/seeds/) and names the clause it comes
from; a right the product's policy does not state comes from the umbrella (xiaomi@2021-01-15).
"""
import pytest

UMBRELLA = "xiaomi@2021-01-15"
ALL_RIGHTS = {"access", "copy", "correction", "deletion", "withdrawal", "cancellation",
              "portability", "explanation", "objection", "restriction", "complaint", "response"}


def rights(daemon, product, version=None):
    msg = {"op": "policy", "product": product}
    if version:
        msg["version"] = version
    r = daemon.call(msg)
    assert r["ok"], r
    assert set(r["rights"]) <= ALL_RIGHTS, r["rights"]
    for name, right in r["rights"].items():
        assert right["cite"], f"{product} {name} has no clause"
        for c in right["cite"]:
            assert c["seed"] and c["section"] and c["lines"] and c["quote"], (product, name, c)
    return r["rights"]


def cites(right, seed, section):
    """The citations of right in the given seed and section."""
    return [c for c in right["cite"] if c["seed"] == seed and c["section"] == section]


def quoted(right, seed, line, words):
    """Whether right cites seed at line with a quote containing words."""
    return any(c["seed"] == seed and c["lines"][0] <= line <= c["lines"][1] and words in c["quote"]
               for c in right["cite"])


# ---- mipay: 000 五、 您的权利; 九、 联系我们 ----

def test_mipay_own_rights(daemon):
    r = rights(daemon, "mipay")
    for name in ("access", "copy", "correction", "deletion", "withdrawal", "cancellation",
                 "complaint", "response"):
        assert "from" not in r[name], (name, r[name])
    # 五、(二): 您有权要求访问、更正、删除
    assert quoted(r["access"], "000", 234, "访问、更正、删除")
    assert quoted(r["correction"], "000", 252, "更正或完善个人信息")
    assert quoted(r["deletion"], "000", 254, "删除您的个人数据或进行注销")
    # 五、(二) line 250: a free copy of the record
    assert quoted(r["copy"], "000", 250, "免费提供一份")
    # 五、(三) 撤销同意
    assert cites(r["withdrawal"], "000", "五、(三)")
    assert quoted(r["withdrawal"], "000", 264, "撤销同意")
    # 五、(四) 注销服务或账号
    assert cites(r["cancellation"], "000", "五、(四)")
    assert quoted(r["cancellation"], "000", 272, "注销服务")


def test_mipay_response_and_complaint(daemon):
    r = rights(daemon, "mipay")
    # 五、(四): 一般不超过法律规定的15天时限内; 九、: 我们会在15个工作日内处理您的请求
    assert r["response"]["days"] == 15
    assert quoted(r["response"], "000", 272, "15天时限")
    assert quoted(r["response"], "000", 294, "15个工作日内")
    # 五、(二): written request, identity check, refusal grounds
    assert quoted(r["response"], "000", 246, "验证您的身份")
    assert quoted(r["response"], "000", 258, "我们有权拒绝处理")
    # 九、: the complaint goes to the regulator of the jurisdiction
    assert quoted(r["complaint"], "000", 294, "相关监管机构")


def test_mipay_leaves_objection_restriction_portability_to_umbrella(daemon):
    """000 names no objection, restriction, portability or automated-decision right."""
    r = rights(daemon, "mipay")
    for name, line in (("objection", 284), ("restriction", 288), ("explanation", 290),
                       ("portability", 292)):
        assert r[name]["from"] == UMBRELLA, (name, r[name])
        assert all(c["seed"] == "001" for c in r[name]["cite"]), r[name]
        assert quoted(r[name], "001", line, "您有权"), r[name]


# ---- tianxing: 002 五、 您的权利; 九、 联系我们 ----

def test_tianxing_own_rights(daemon):
    r = rights(daemon, "tianxing")
    # 五、(二): 访问、下载、更正、删除; 1. 个人信息的查询、下载、更正
    assert quoted(r["access"], "002", 375, "访问、下载、更正、删除")
    assert quoted(r["access"], "002", 379, "查询")
    assert quoted(r["copy"], "002", 385, "下载权利")
    assert quoted(r["correction"], "002", 381, "更正或完善")
    # 2. 删除个人信息、撤回同意、注销金融账户
    assert cites(r["withdrawal"], "002", "五、(二)2")
    assert quoted(r["withdrawal"], "002", 395, "撤回同意")
    assert quoted(r["deletion"], "002", 407, "删除您的个人信息")
    assert quoted(r["cancellation"], "002", 401, "注销服务")
    assert quoted(r["cancellation"], "002", 405, "判断是否支持您的注销请求")
    # 九、: courts, government departments or industry associations
    assert quoted(r["complaint"], "002", 449, "人民法院")
    for name in ("access", "copy", "correction", "deletion", "withdrawal", "cancellation",
                 "complaint", "response"):
        assert "from" not in r[name], (name, r[name])


def test_tianxing_response(daemon):
    r = rights(daemon, "tianxing")
    # 五、(二)2: 一般不超过法律规定的 15 天时限内; 九、: 十五个工作日内作出答复
    assert r["response"]["days"] == 15
    assert quoted(r["response"], "002", 403, "15 天时限")
    assert quoted(r["response"], "002", 445, "十五个工作日内")
    # the eight cases where a request need not be answered, and the fee rule
    assert quoted(r["response"], "002", 421, "滥用权利")
    assert quoted(r["response"], "002", 425, "商业秘密")
    assert quoted(r["response"], "002", 427, "我们不收取费用")


def test_tianxing_leaves_objection_and_automated_decisions_to_umbrella(daemon):
    r = rights(daemon, "tianxing")
    for name in ("objection", "restriction", "explanation", "portability"):
        assert r[name]["from"] == UMBRELLA, (name, r[name])


# ---- xiaomi (the umbrella): 001 5 您的权利 ----

def test_xiaomi_rights(daemon):
    r = rights(daemon, "xiaomi")
    assert set(r) == ALL_RIGHTS
    assert all("from" not in v for v in r.values()), r
    assert quoted(r["access"], "001", 262, "访问、更正、删除")
    assert quoted(r["copy"], "001", 278, "免费提供一份")
    assert quoted(r["objection"], "001", 284, "直接营销")
    assert quoted(r["restriction"], "001", 288, "限制处理")
    assert quoted(r["explanation"], "001", 290, "自动化决策")
    assert quoted(r["portability"], "001", 292, "结构化、通用的格式")
    assert cites(r["withdrawal"], "001", "5.3")
    assert cites(r["cancellation"], "001", "5.4")
    assert quoted(r["cancellation"], "001", 306, "向第三方申请注销帐号")
    assert quoted(r["complaint"], "001", 403, "相关监管机构")
    # 5.2: 在适用数据保护法律规定的时间内 -- no number of days
    assert quoted(r["response"], "001", 272, "适用数据保护法律规定的时间内")
    assert "days" not in r["response"]


# ---- mistore 2025-05-20: 003 2025-TC §8-§10, §14 and their 2025-EN twins ----

def test_mistore_2025_rights(daemon):
    r = rights(daemon, "mistore", "2025-05-20")
    assert set(r) == ALL_RIGHTS
    assert all("from" not in v for v in r.values()), r
    # §9 lists each right by name, in both texts
    for name, tc, en in (("access", 133, 302), ("correction", 134, 303), ("deletion", 135, 304),
                         ("objection", 136, 305), ("restriction", 137, 306),
                         ("portability", 138, 307), ("withdrawal", 139, 308)):
        assert cites(r[name], "003", "2025-TC §9"), name
        assert cites(r[name], "003", "2025-EN §9"), name
        assert any(c["lines"][0] == tc for c in r[name]["cite"]), name
        assert any(c["lines"][0] == en for c in r[name]["cite"]), name
    assert quoted(r["portability"], "003", 138, "資料可攜權")
    assert quoted(r["copy"], "003", 133, "免費為您提供")
    # §8: 您可以取消服務或帳戶
    assert quoted(r["cancellation"], "003", 128, "取消服務或帳戶")
    assert quoted(r["cancellation"], "003", 297, "Cancel a service or account")
    # §10: identity check, answer within the law's time, refusal; regulator
    assert quoted(r["response"], "003", 145, "驗證您的身份")
    assert quoted(r["response"], "003", 146, "有權拒絕處理")
    assert "days" not in r["response"]
    assert quoted(r["complaint"], "003", 147, "相關監管機構")
    assert quoted(r["complaint"], "003", 316, "relevant regulatory authority")
    # §14: automated decisions only with consent, the person told of the rights in advance
    assert quoted(r["explanation"], "003", 161, "提前告知您相關事宜")


# ---- mistore 2021-07-22: 003 2021-HK 5 您的權利 ----

def test_mistore_2021_rights(daemon):
    r = rights(daemon, "mistore", "2021-07-22")
    assert set(r) == ALL_RIGHTS
    assert all("from" not in v for v in r.values()), r
    for name in r:
        assert all(339 <= c["lines"][0] <= 489 for c in r[name]["cite"]), (name, r[name])
    assert quoted(r["access"], "003", 435, "您有權訪問、更正和刪除")
    assert quoted(r["copy"], "003", 443, "副本")
    assert quoted(r["objection"], "003", 446, "直接營銷")
    assert quoted(r["restriction"], "003", 447, "限制處理")
    assert quoted(r["explanation"], "003", 448, "純自動化處理的決定")
    assert quoted(r["portability"], "003", 449, "結構化、常用的格式")
    assert cites(r["withdrawal"], "003", "2021-HK 5.3")
    assert cites(r["cancellation"], "003", "2021-HK 5.4")
    assert quoted(r["cancellation"], "003", 454, "註銷小米帳戶")
    assert quoted(r["complaint"], "003", 476, "相關監管機構")
    assert quoted(r["response"], "003", 440, "任何時間範圍內")
    assert "days" not in r["response"]


@pytest.mark.parametrize("product", ["mipay", "tianxing", "xiaomi", "mistore"])
def test_every_current_policy_states_the_core_rights(daemon, product):
    """Access, correction, deletion, withdrawal and cancellation are stated by every seed itself."""
    r = rights(daemon, product)
    for name in ("access", "correction", "deletion", "withdrawal", "cancellation", "response"):
        assert name in r and "from" not in r[name], (product, name, r.get(name))
