"""consentctl against the real consentd: every subcommand in its human output (what it says,
and that its tables line up) and with --json, its exit codes, each command's --help, prefix
matching of commands and what a typo is told. History, export, cancel, purge and watch in
depth are test_ctl_ledger.py's."""
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time

import pytest

from conftest import APP_UID, BUILD, POLICIES, Daemon

CTL = os.path.join(BUILD, "consentctl")
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
COMMANDS = ["hello", "check", "explain", "grant", "withdraw", "refuse", "cancel",
            "set-subject", "status", "history", "export", "watch", "policy", "decisions",
            "stats", "reload", "verify", "purge", "raw"]
FINGERPRINT = ("mipay", "mipay.payment_verification", "--field", "fingerprint_template")
PHONE = ("mipay", "mipay.account_login", "--field", "phone_number")


def run(*args, socket=None, uid=None, env=None):
    cmd = [CTL, *(["--socket", socket] if socket else []), *args]
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, **(env or {})))
    # Under build/asan a leak or an overflow in consentctl itself fails the test here.
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return r


def ctl(d, *args, uid=None):
    return run(*args, socket=d.socket, uid=uid)


def ok(d, *args):
    r = ctl(d, *args)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout


def exits(d, code, *args):
    """The run, having checked its exit code."""
    r = ctl(d, *args)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    return r


def reply(d, *args, code=0):
    r = exits(d, code, "--json", *args)
    assert len(r.stdout.splitlines()) == 1, r.stdout  # the reply line as it came
    return json.loads(r.stdout)


def column_starts(header):
    """Where each word of a table's header line starts."""
    return {m[0]: m.start() for m in re.finditer(r"\S+", header)}


def cell(line, start):
    """The word of line that starts at column start, asserting it starts exactly there."""
    assert start == 0 or line[start - 1] == " ", (line, start)
    assert line[start] != " ", (line, start)
    return line[start:].split()[0]


# exit codes and check

def test_check_exit_codes_allow_deny_prompt(daemon, subject):
    r = exits(daemon, 2, "check", PHONE[0], subject, *PHONE[1:])
    lines = r.stdout.splitlines()
    assert lines[0].startswith("prompt: policy_not_accepted  (mipay@")
    assert lines[2] == "  prompt for policy"
    assert reply(daemon, "check", PHONE[0], subject, *PHONE[1:], code=2)["decision"] == "prompt"

    ok(daemon, "grant", "mipay", subject, "policy")
    r = exits(daemon, 0, "check", PHONE[0], subject, *PHONE[1:])
    assert re.match(r"^allow  \(mipay@[\d-]+, basis contract, d\S+\)$", r.stdout.splitlines()[0])
    assert reply(daemon, "check", PHONE[0], subject, *PHONE[1:])["decision"] == "allow"

    r = exits(daemon, 1, "check", FINGERPRINT[0], subject, *FINGERPRINT[1:])
    assert r.stdout.startswith("deny: never_collect  (")
    assert "mipay never receives fingerprint_template" in r.stdout
    j = reply(daemon, "check", FINGERPRINT[0], subject, *FINGERPRINT[1:], code=1)
    assert j["reasons"] == ["never_collect"] and "trace" not in j


def test_check_refusal_shows_when_to_ask_again(daemon, subject):
    ok(daemon, "grant", "mipay", subject, "policy")
    ok(daemon, "refuse", "mipay", subject, "permission:android.permission.CAMERA")
    r = exits(daemon, 1, "check", "mipay", subject, "mipay.scan", "--permission",
              "android.permission.CAMERA", "--platform", "android")
    assert r.stdout.startswith("deny: refused_recently")
    assert re.search(rf"^  ask again after {ISO}$", r.stdout, re.M)


def test_daemon_error_is_3_and_told_on_stderr(daemon, subject):
    r = exits(daemon, 3, "check", "nosuch", subject, "f", "--field", "x")
    assert r.stdout == "" and r.stderr.startswith("consentctl: unknown_product: ")
    r = exits(daemon, 3, "--json", "check", "nosuch", subject, "f", "--field", "x")
    assert json.loads(r.stdout)["error"]["code"] == "unknown_product" and r.stderr == ""
    assert "bad_request" in exits(daemon, 3, "check", "mipay", subject, "mipay.scan").stderr
    assert "forbidden" in ctl(daemon, "reload", uid=APP_UID).stderr
    assert ctl(daemon, "reload", uid=APP_UID).returncode == 3


def test_unreachable_daemon_is_5(tmp_path):
    for args in (["hello"], ["check", *PHONE[:1], "s", *PHONE[1:]], ["watch"]):
        r = run(*args, socket=str(tmp_path / "none.sock"))
        assert r.returncode == 5 and "cannot connect to" in r.stderr, r.stderr
    r = run("hello", env={"CONSENTD_SOCKET": str(tmp_path / "env.sock")})
    assert r.returncode == 5 and str(tmp_path / "env.sock") in r.stderr


def test_the_socket_from_the_environment_and_options_anywhere(daemon):
    r = run("hello", env={"CONSENTD_SOCKET": daemon.socket})
    assert r.returncode == 0 and r.stdout.startswith("consentd ")
    # Global options after the command, and "--name=value" spellings.
    r = run("hello", f"--socket={daemon.socket}", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["server"] == "consentd"


@pytest.mark.parametrize("args,message", [
    ([], "usage: consentctl"),
    (["--frob"], 'unknown option "--frob"'),
    (["--socket"], 'no value for "--socket"'),
    (["check", "mipay", "s"], "missing feature"),
    (["grant", "mipay", "s", "policy", "extra"], 'unexpected argument "extra"'),
    (["check", "mipay", "s", "f", "--limit", "3"], 'unknown option "--limit"'),
    (["check", "mipay", "s", "f", "--field"], 'no value for "--field"'),
    (["decisions", "--limit", "many"], 'whole number, not "many"'),
    (["policy", "show"], "missing product"),
    (["policy", "diff", "mistore"], "missing from"),
    (["raw", "not json"], "consentctl raw: "),
    (["raw"], "give one JSON request"),
])
def test_usage_errors_are_4(daemon, args, message):
    r = exits(daemon, 4, *args)
    assert message in r.stderr and r.stdout == ""


# help

def help_text(*args):
    r = run(*args, "--help")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    return r.stdout


def test_help_lists_every_command_and_the_exit_codes():
    out = help_text()
    assert out.startswith("usage: consentctl [--socket PATH] [--json] COMMAND")
    block = out.split("Commands (a unique prefix will do):\n")[1].split("\n\n")[0]
    assert list(dict.fromkeys(re.findall(r"^  ([a-z-]+) ", block, re.M))) == COMMANDS
    # The descriptions line up.
    assert len({re.search(r"\S  +(?=\S)", line).end() for line in block.splitlines()}) == 1
    for words in ("policy list", "policy show PRODUCT [VERSION]",
                  "policy diff PRODUCT FROM [TO]", "watch [PRODUCT]", "alias: subscribe"):
        assert words in out
    for code in ("0  done; check and explain: allow", "1  check and explain: deny",
                 "2  check and explain: prompt", "3  the daemon answered an error",
                 "4  usage error", "5  the daemon cannot be reached"):
        assert code in out
    assert help_text() == run("-h").stdout


def synopsis_args(c):
    """Positional arguments that satisfy command c's synopsis, from its --help."""
    usage = help_text(*c.split())
    if c == "policy":
        return []
    words = usage.splitlines()[0].split()[2 + len(c.split()):]
    return ["{}" if w == "JSON" else "x" for w in words if w.isupper() and w[0] != "["]


def documented_options(c):
    """(option, takes a value) of each option command c's --help lists."""
    out = help_text(*c.split())
    block = out.split("\nOptions:\n")[1].split("\n\n")[0] if "\nOptions:\n" in out else ""
    return [(m[1], bool(m[2])) for m in re.finditer(r"^  (--[a-z-]+)( [A-Z]+)?  ", block, re.M)]


@pytest.mark.parametrize("c", [c for c in COMMANDS if c != "policy"] +
                         ["policy list", "policy show", "policy diff"])
def test_each_command_has_help_that_is_true(c, tmp_path):
    out = help_text(*c.split())
    assert out.startswith(f"usage: consentctl {c}")
    assert "\nExit status:\n" in out and "  4  usage error\n" in out
    if c in ("check", "explain"):
        assert "  0  allow\n  1  deny\n  2  prompt\n  3  the daemon answered an error\n" in out
    # Every option it documents is taken (the run gets as far as the missing socket).
    args = synopsis_args(c)
    opts = documented_options(c)
    assert bool(opts) == (c in ("check", "explain", "grant", "withdraw", "refuse", "cancel",
                                "set-subject", "history", "decisions", "purge"))
    for opt, value in opts:
        r = run(*c.split(), *args, opt, *(["1"] if value else []),
                socket=str(tmp_path / "none.sock"))
        assert r.returncode == 5, (c, opt, r.stderr)


def test_help_of_policy_and_its_words():
    out = help_text("policy")
    assert "consentctl policy list\n" in out and "consentctl policy diff PRODUCT FROM [TO]\n" in out
    assert help_text("pol", "di").startswith("usage: consentctl policy diff PRODUCT FROM [TO]")
    assert help_text("check") == help_text("ch") == run("--help", "check").stdout
    assert '"consentctl subscribe" is the same command' in help_text("watch")
    assert "--hold H" in help_text("set-subject") and "--dry-run" in help_text("purge")


# prefix matching and typos

def test_unique_prefixes_name_commands_and_policy_words(daemon):
    assert ok(daemon, "he").startswith("consentd ")
    assert ok(daemon, "pol", "l") == ok(daemon, "policy", "list") == ok(daemon, "policy")
    assert ok(daemon, "po", "d", "mistore", "2021-07-22") == \
        ok(daemon, "policy", "diff", "mistore", "2021-07-22", "2025-05-20")
    assert ok(daemon, "ver").startswith("chain holds: ")
    assert reply(daemon, "expo", "nobody-x")["subject"] == "nobody-x"


def test_a_typo_lists_the_commands(daemon):
    r = exits(daemon, 4, "polcy")
    assert r.stderr == ('consentctl: "polcy": no such command; commands: '
                        + ", ".join(COMMANDS) + "\n")
    r = exits(daemon, 4, "policy", "shwo", "mipay")
    assert r.stderr == 'consentctl policy: "shwo": no such command; commands: list, show, diff\n'


def test_an_ambiguous_prefix_lists_the_candidates(daemon):
    assert exits(daemon, 4, "s").stderr == \
        'consentctl: "s": ambiguous; it could be set-subject, status, subscribe, stats\n'
    assert exits(daemon, 4, "ex", "x").stderr == \
        'consentctl: "ex": ambiguous; it could be explain, export\n'
    assert exits(daemon, 4, "re").stderr == \
        'consentctl: "re": ambiguous; it could be refuse, reload\n'


# hello

def test_hello(daemon):
    out = ok(daemon, "hello").splitlines()
    assert re.match(r"^consentd \S+, protocol 1$", out[0])
    assert out[1] == "you are uid 0, role admin, for products mipay, mistore, tianxing, xiaomi"
    r = ctl(daemon, "hello", uid=APP_UID)
    assert r.stdout.splitlines()[1] == f"you are uid {APP_UID}, role app, for products mipay"
    assert reply(daemon, "hello")["peer"]["role"] == "admin"


# explain

def test_explain_shows_the_rules_and_their_clauses(daemon, subject):
    r = exits(daemon, 1, "explain", FINGERPRINT[0], subject, *FINGERPRINT[1:])
    out = r.stdout.splitlines()
    assert out[0].startswith("deny: never_collect  (mipay@")
    head = out.index("RULE           RESULT  DETAIL")
    cols = column_starts(out[head])
    assert cell(out[head + 1], 0) == "never_collect"
    assert cell(out[head + 1], cols["RESULT"]) == "deny"
    clauses = [line for line in out[head + 1:] if "seed " in line]
    assert clauses and all(line.index("seed ") == cols["DETAIL"] for line in clauses)
    assert re.search(r"seed 000 \S+ 支付指令验证, line \d+: 「.+」$", clauses[0])
    j = reply(daemon, "explain", FINGERPRINT[0], subject, *FINGERPRINT[1:], code=1)
    assert j["trace"][0]["clauses"][0]["seed"] == "000"


def test_explain_prompt_lists_every_rule_aligned(daemon, subject):
    r = exits(daemon, 2, "explain", PHONE[0], subject, *PHONE[1:])
    out = r.stdout.splitlines()
    head = next(i for i, line in enumerate(out) if line.startswith("RULE "))
    cols = column_starts(out[head])
    rules = [line for line in out[head + 1:] if not line.startswith(" ")]
    trace = reply(daemon, "explain", PHONE[0], subject, *PHONE[1:], code=2)["trace"]
    assert [cell(line, 0) for line in rules] == [s["rule"] for s in trace]
    assert [cell(line, cols["RESULT"]) for line in rules] == [s["result"] for s in trace]


# grant, withdraw, refuse, set-subject, status

def test_writes_and_status(daemon, subject):
    for op, scope in (("grant", "policy"), ("grant", "feature:mipay.quick_payment"),
                      ("withdraw", "feature:mipay.quick_payment"),
                      ("refuse", "permission:android.permission.CAMERA")):
        assert re.match(rf"^recorded as seq \d+ at {ISO}\n$",
                        ok(daemon, op, "mipay", subject, scope, "--source", "test"))
    j = reply(daemon, "grant", "mipay", subject, "purpose:marketing")
    assert j["seq"] > 0 and j["at"] > 0
    assert re.match(rf"^recorded as seq \d+ at {ISO}\n$",
                    ok(daemon, "set-subject", subject, "--age-band", "adult", "--region", "cn",
                       "--hold", "outstanding_loan", "--hold", "audit"))
    out = ok(daemon, "status", "mipay", subject).splitlines()
    assert out[0] == \
        f"{subject} for mipay: age band adult, region cn, holds outstanding_loan, audit"
    cols = column_starts(out[1])
    assert list(cols) == ["SCOPE", "STATE", "VERSION", "AT"]
    rows = {cell(line, 0): (cell(line, cols["STATE"]), cell(line, cols["VERSION"]),
                            cell(line, cols["AT"])) for line in out[2:]}
    assert {k: v[0] for k, v in rows.items()} == {
        "policy": "granted", "feature:mipay.quick_payment": "withdrawn",
        "permission:android.permission.CAMERA": "refused", "purpose:marketing": "granted"}
    assert all(re.match(ISO, v[2]) and v[1] != "-" for v in rows.values())
    j = reply(daemon, "status", "mipay", subject)
    assert len(j["scopes"]) == len(rows) and j["attributes"]["region"] == "cn"
    ok(daemon, "set-subject", subject, "--clear-holds")
    assert ok(daemon, "status", "mipay", subject).splitlines()[0].endswith("holds none")


def test_write_errors(daemon, subject):
    assert "unknown_scope" in exits(daemon, 3, "grant", "mipay", subject, "nonsense").stderr
    assert "bad_request" in exits(daemon, 3, "set-subject", subject).stderr
    assert "missing scope" in exits(daemon, 4, "withdraw", "mipay", subject).stderr


# history, export, cancel (more in test_ctl_ledger.py)

def test_history_export_cancel(daemon, subject):
    ok(daemon, "grant", "tianxing", subject, "policy")
    out = ok(daemon, "history", subject)
    assert re.match(rf"^\s+\d+  {ISO}  grant\s+tianxing\s+policy\s+granted$", out)
    assert reply(daemon, "history", subject)["events"][0]["scope"] == "policy"
    assert ok(daemon, "export", subject).splitlines()[:3] == [
        f"subject {subject}", "attributes: none set", "tianxing"]
    assert ok(daemon, "cancel", "tianxing", subject).startswith("withdrawn: policy\n")
    assert reply(daemon, "export", subject)["products"]["tianxing"]["cancelled_at"] > 0


# watch (subscribe)

def read_line(proc, stream, timeout=30):
    buf = b""
    deadline = time.time() + timeout
    while not buf.endswith(b"\n"):
        assert select.select([stream], [], [], max(0, deadline - time.time()))[0], buf
        ch = os.read(stream.fileno(), 1)
        assert ch, "consentctl ended"
        buf += ch
    return buf.decode().rstrip("\n")


@pytest.mark.parametrize("word", ["watch", "subscribe", "wa", "subs"])
def test_watch_and_its_alias(daemon, subject, word):
    p = subprocess.Popen([CTL, "--socket", daemon.socket, word, "mipay"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert read_line(p, p.stderr) == "consentctl: subscribed to mipay; interrupt to stop"
        seq = reply(daemon, "grant", "mipay", subject, "policy")["seq"]
        assert read_line(p, p.stdout).split() == [str(seq), "mipay", subject, "policy",
                                                  "granted"]
    finally:
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
    assert p.returncode == 0 and out == b"" and b"Sanitizer" not in err


# policy list, show, diff

def test_policy_list(daemon):
    out = ok(daemon, "policy", "list").splitlines()
    cols = column_starts(out[0])
    assert list(cols) == ["PRODUCT", "CURRENT", "VERSIONS", "INHERITS", "FEATURES"]
    j = reply(daemon, "policy", "list")
    assert [cell(line, 0) for line in out[1:-1]] == [p["product"] for p in j["products"]]
    for line, p in zip(out[1:], j["products"]):
        assert cell(line, cols["CURRENT"]) == p["current"]
        assert line[cols["VERSIONS"]:cols["INHERITS"]].strip() == ", ".join(p["versions"])
        assert cell(line, cols["INHERITS"]) == (p["inherits"] or "-")
        assert cell(line, cols["FEATURES"]) == str(p["features"])
    assert out[-1] == "loaded " + j["loaded_at"]


def test_policy_show_every_feature_and_item_aligned(daemon):
    out = ok(daemon, "policy", "show", "mistore").splitlines()
    j = reply(daemon, "policy", "show", "mistore")
    assert out[0] == f"mistore {j['version']} (current), inherits xiaomi: 25 features"
    cols = column_starts(out[2])
    assert list(cols) == ["FEATURE", "KIND", "NEED", "BASIS", "NOTES", "PURPOSES"]
    body = out[3:out.index("", 3)]
    seen = {}
    feature = None
    for line in body:
        if not line.startswith(" "):
            feature = cell(line, 0)
            f = j["features"][feature]
            assert cell(line, cols["KIND"]) == f["kind"]
            assert cell(line, cols["BASIS"]) == f["basis"]
            assert line[cols["PURPOSES"]:] == ", ".join(f["purposes"])
            seen[feature] = []
            continue
        name, kind = cell(line, 2), cell(line, cols["KIND"])
        seen[feature].append((kind, name))
        if kind == "field":
            fd = j["features"][feature]["fields"][name]
            assert cell(line, cols["NEED"]) == fd["need"]
            assert cell(line, cols["BASIS"]) == fd["basis"]
            assert ("sensitive" in line[cols["NOTES"]:cols["PURPOSES"]]) == fd["sensitive"]
    assert list(seen) == list(j["features"])
    for name, f in j["features"].items():
        assert seen[name] == [("field", k) for k in f["fields"]] + \
            [("permission", k) for k in f["permissions"]] + \
            [("member", m) for m in f.get("members", [])]
    tail = "\n".join(out)
    assert "switchable purposes: automated_decision_making (off), marketing (off)," in tail
    assert "\nexceptions: ce_contract, ce_legal_obligation, ce_security_stability\n" in tail
    assert "  beyond_necessary  mistore.registration_login" in tail


def test_policy_show_limits_and_an_older_version(daemon):
    out = ok(daemon, "policy", "show", "tianxing")
    assert re.search(r"^  android\.permission\.GET_ACCOUNTS\s+permission\s+"
                     r"android, android>=6\.0, android<8\.1, rom miui\s+account_authentication$",
                     out, re.M)
    old = ok(daemon, "policy", "show", "mistore", "2021-07-22").splitlines()
    assert old[0] == "mistore 2021-07-22, inherits xiaomi: 18 features"
    assert "bad_request" in exits(daemon, 3, "policy", "show", "mistore", "1999-01-01").stderr
    assert "unknown_product" in exits(daemon, 3, "policy", "show", "nosuch").stderr


def test_policy_diff_feature_by_feature(daemon):
    out = ok(daemon, "policy", "diff", "mistore", "2021-07-22", "2025-05-20")
    j = reply(daemon, "policy", "diff", "mistore", "2021-07-22", "2025-05-20")
    d = j["diff"]
    lines = out.splitlines()
    assert lines[0] == "mistore 2021-07-22 -> 2025-05-20"
    added = lines[lines.index("features added:") + 1:lines.index("features removed:") - 1]
    assert added == ["  + " + f for f in d["features_added"]]
    assert "features removed:\n  - mistore.cookies_and_logs\n" in out
    changed = lines[lines.index("features changed:") + 1:]
    changed = changed[:changed.index("")]
    cols = column_starts(changed[0])
    rows, feature = {}, None
    for line in changed:
        if line[2] != " ":
            feature = cell(line, 2)
        what = line[cols[changed[0].split()[1]]:].split("  ", 1)
        rows.setdefault(feature, []).append((what[0], what[1].strip()))
    assert list(rows) == list(d["changed"])
    for f, ch in d["changed"].items():
        want = [(f"{sign} {kind}", ", ".join(ch[f"{kind}_{side}"]))
                for kind in ("fields", "permissions", "purposes")
                for sign, side in (("+", "added"), ("-", "removed")) if ch[f"{kind}_{side}"]]
        assert [r for r in rows[f] if r[0][0] in "+-"] == want
        assert len([r for r in rows[f] if r[0][0] == "~"]) == len(ch["basis_changed"])
    assert ("~ switch", "profiling: switchable, on by default -> switchable, off by default") \
        in rows["mistore.data_combination_profiling"]
    assert ("~ basis", "app_version: contract; legitimate_interest in eea -> contract; "
            "legitimate_interest in eea, uk, ch") in rows["mistore.legitimate_interest_processing"]
    assert re.search(r"^  mistore\.registration_login\s+field email\s+"
                     r"for account_authentication, service_notices$", out, re.M)


def test_policy_diff_defaults_and_errors(daemon):
    assert ok(daemon, "policy", "diff", "mipay", "2024-04-25") == \
        "mipay 2024-04-25 -> 2024-04-25\nno differences\n"
    assert reply(daemon, "policy", "diff", "mistore", "2021-07-22")["to"] == "2025-05-20"
    assert "bad_request" in exits(daemon, 3, "policy", "diff", "mistore", "1999").stderr


# decisions, stats, reload, verify, purge, raw

def test_decisions(daemon, subject):
    exits(daemon, 1, "check", FINGERPRINT[0], subject, *FINGERPRINT[1:])
    exits(daemon, 2, "check", PHONE[0], subject, *PHONE[1:])
    out = ok(daemon, "decisions", "--subject", subject).splitlines()
    cols = column_starts(out[0])
    assert list(cols) == ["AT", "ID", "UID", "PRODUCT", "SUBJECT", "FEATURE",
                          "FIELD/PERMISSION", "DECISION", "REASONS"]
    assert [(cell(line, cols["FIELD/PERMISSION"]), cell(line, cols["DECISION"]),
             cell(line, cols["REASONS"])) for line in out[1:]] == [
        ("phone_number", "prompt", "policy_not_accepted"),
        ("fingerprint_template", "deny", "never_collect")]
    assert all(cell(line, cols["SUBJECT"]) == subject for line in out[1:])
    j = reply(daemon, "decisions", "--subject", subject, "--limit", "1")
    assert len(j["decisions"]) == 1 and j["decisions"][0]["field"] == "phone_number"
    assert ok(daemon, "decisions", "--subject", subject + "-none") == "no decisions\n"


def test_stats(daemon):
    out = ok(daemon, "stats")
    j = reply(daemon, "stats")
    keys = [line.split()[0] for line in out.splitlines() if not line.startswith(" ")]
    assert keys == [k for k in j if k != "ok"]
    assert re.search(r"^connections  current \d+, total \d+, refused \d+$", out, re.M)
    assert re.search(r"^  by_op      hello \d+, check \d+, ", out, re.M)
    assert "ledger" in j and "latency_us" in j


def test_reload_and_a_refused_reload(tmp_path):
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    d = Daemon(policy_dir=str(policies)).start()
    try:
        out = ok(d, "reload").splitlines()
        assert out[0] == "reloaded 5 policy tables" and "  mistore@2025-05-20" in out
        assert len(reply(d, "reload")["policies"]) == 5
        (policies / "mipay@2024-04-25.json").write_text("{")
        r = exits(d, 3, "reload")
        assert r.stderr.startswith("consentctl: bad_request: ")
        assert len(r.stderr.splitlines()) >= 2 and r.stderr.splitlines()[1].startswith("  ")
        assert ok(d, "policy").count("\n") == 6  # the old set still serves
    finally:
        d.cleanup()


def test_verify_and_purge(daemon):
    assert re.match(r"^chain holds: \d+ records, head seq \d+ hash [0-9a-f]{64}\n$",
                    ok(daemon, "verify"))
    j = reply(daemon, "verify")
    assert j["head"]["seq"] == j["records"]
    assert "forbidden" in ctl(daemon, "verify", uid=APP_UID).stderr
    assert reply(daemon, "purge", "--dry-run")["seq"] is None


def test_raw(daemon):
    out = ok(daemon, "raw", '{"op": "hello"}')
    assert json.loads(out)["server"] == "consentd" and "\n  " in out  # indented for people
    assert json.loads(ok(daemon, "--json", "raw", '{"op": "hello", "id": 7}'))["id"] == 7
    r = exits(daemon, 3, "raw", '{"op": "frobnicate"}')
    assert r.stderr == 'consentctl: unknown_op: unknown op "frobnicate"\n'
