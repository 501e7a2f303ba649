"""consentctl's ledger subcommands against the real consentd: history, export, cancel, purge
and subscribe, each in human and --json output, and how each one fails."""
import json
import os
import re
import select
import signal
import subprocess
import threading
import time

from conftest import APP_UID, BUILD

CTL = os.path.join(BUILD, "consentctl")
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
QUICK = "feature:mipay.quick_payment"


def ctl(d, *args, uid=None):
    cmd = [CTL, "--socket", d.socket, *args]
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def ok(d, *args):
    r = ctl(d, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def fails(d, code, *args):
    r = ctl(d, *args)
    assert r.returncode == code, (r.stdout, r.stderr)
    return r.stderr


def reply(d, *args):
    r = json.loads(ok(d, "--json", *args))
    assert r["ok"] is True
    return r


def life(d, subject):
    """Four records: two mipay grants, the subject's defaults, a mistore grant."""
    ok(d, "grant", "mipay", subject, "policy", "--source", "first-run dialog")
    ok(d, "grant", "mipay", subject, QUICK)
    ok(d, "set-subject", subject, "--age-band", "adult", "--region", "cn")
    ok(d, "grant", "mistore", subject, "policy")


def record_lines(out):
    """(seq, op, product, scope, state, erased) of each record line of history's output."""
    pat = re.compile(rf"^\s*(\d+)  {ISO}  (\S+)\s+(\S+)\s+(\S+)\s+(\S+)(  \(erased\))?$")
    rows = []
    for line in out.splitlines():
        m = pat.match(line)
        if m:
            rows.append((int(m[1]), m[2], m[3], m[4], m[5], bool(m[6])))
    return rows


# history

def test_history_human_one_line_per_record(daemon, subject):
    life(daemon, subject)
    out = ok(daemon, "history", subject)
    rows = record_lines(out)
    assert len(rows) == 4 == len(out.splitlines()), out
    assert [r[1:] for r in rows] == [
        ("grant", "mipay", "policy", "granted", False),
        ("grant", "mipay", QUICK, "granted", False),
        ("set_subject", "-", '{"age_band":"adult","region":"cn"}', "-", False),
        ("grant", "mistore", "policy", "granted", False)]
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert "no records" in ok(daemon, "history", subject + "-nobody")


def test_history_json_is_the_reply_and_names_the_next_page(daemon, subject):
    life(daemon, subject)
    r = reply(daemon, "history", subject, "--limit", "2")
    assert [e["scope"] for e in r["events"]] == ["policy", QUICK]
    assert r["next"] == r["events"][-1]["seq"]
    assert set(r["events"][0]) >= {"seq", "at", "op", "product", "subject", "hash",
                                   "prev_hash", "erased_by"}
    rest = reply(daemon, "history", subject, "--since", str(r["next"]))
    assert [e["product"] for e in rest["events"]] == [None, "mistore"]
    assert rest["next"] is None
    assert f"more after seq {r['next']}: --since {r['next']}" in \
        ok(daemon, "history", subject, "--limit", "2")


def test_history_all_follows_next(daemon, subject):
    life(daemon, subject)
    assert len(record_lines(ok(daemon, "history", subject, "--limit", "1", "--all"))) == 4
    pages = [json.loads(line) for line in
             ok(daemon, "--json", "history", subject, "--limit", "1", "--all").splitlines()]
    assert [len(p["events"]) for p in pages] == [1, 1, 1, 1]
    assert [p["next"] for p in pages[:-1]] == [p["events"][0]["seq"] for p in pages[:-1]]
    assert pages[-1]["next"] is None
    mistore = record_lines(ok(daemon, "history", subject, "--product", "mistore", "--all"))
    assert {r[2] for r in mistore} == {"mistore", "-"}  # the defaults hold for every product


def test_history_errors(daemon, subject):
    assert "missing subject" in fails(daemon, 4, "history")
    assert 'whole number, not "abc"' in fails(daemon, 4, "history", subject, "--limit", "abc")
    assert 'whole number, not "5x"' in fails(daemon, 4, "history", subject, "--since", "5x")
    assert "no value" in fails(daemon, 4, "history", subject, "--since")
    assert "unknown option" in fails(daemon, 4, "history", subject, "--dry-run")
    assert "bad_request" in fails(daemon, 3, "history", subject, "--limit", "0")
    assert "bad_request" in fails(daemon, 3, "history", subject, "--limit", "1001")


# export

def test_export_human_summary(daemon, subject):
    life(daemon, subject)
    ok(daemon, "set-subject", subject, "--product", "mipay", "--hold", "outstanding_loan")
    out = ok(daemon, "export", subject).splitlines()
    assert out[0] == f"subject {subject}"
    assert out[1] == "attributes: age band adult, region cn, holds none"
    assert out[2] == "mipay"
    assert out[3] == "  attributes: age band -, region -, holds outstanding_loan"
    assert re.match(rf"^  {re.escape(QUICK)}\s+granted\s+2024-04-25 {ISO}$", out[4])
    assert re.match(rf"^  policy\s+granted\s+2024-04-25 {ISO}$", out[5])
    assert out[6] == "mistore"
    assert out[-1] == "5 ledger records"


def test_export_json_is_the_whole_document(daemon, subject):
    life(daemon, subject)
    doc = reply(daemon, "export", subject)
    assert doc["subject"] == subject and doc["truncated"] is False
    assert doc["attributes"] == {"age_band": "adult", "region": "cn", "holds": []}
    assert set(doc["products"]) == {"mipay", "mistore"}
    assert {s["scope"]: s["state"] for s in doc["products"]["mipay"]["scopes"]} == \
        {"policy": "granted", QUICK: "granted"}
    assert doc["records"] == reply(daemon, "history", subject)["events"]


def test_export_errors(daemon, subject):
    assert "missing subject" in fails(daemon, 4, "export")
    assert "unexpected argument" in fails(daemon, 4, "export", subject, "mipay")
    assert "bad_request" in fails(daemon, 3, "export", "x" * 200)


# cancel

def test_cancel_blocked_by_a_hold_then_done(daemon, subject):
    life(daemon, subject)
    ok(daemon, "set-subject", subject, "--product", "mipay", "--hold", "outstanding_loan")
    err = fails(daemon, 3, "cancel", "mipay", subject)
    assert err.startswith("consentctl: cancel_blocked: ") and "outstanding_loan" in err
    ok(daemon, "raw", json.dumps({"op": "set_subject", "subject": subject,
                                  "product": "mipay", "holds": []}))
    out = ok(daemon, "cancel", "mipay", subject, "--source", "account page").splitlines()
    assert out[0] == f"withdrawn: {QUICK}, policy"
    assert re.match(rf"^cancelled as seq \d+ at {ISO}$", out[1])
    r = reply(daemon, "cancel", "mistore", subject)
    assert r["withdrawn"] == ["policy"] and r["seq"] > 0 and r["at"] > 0
    assert ok(daemon, "cancel", "mistore", subject).startswith("withdrawn: none\n")
    assert re.search(rf"^mipay: cancelled {ISO}$", ok(daemon, "export", subject), re.M)


def test_cancel_errors(daemon, subject):
    assert "missing subject" in fails(daemon, 4, "cancel", "mipay")
    assert "unknown_product" in fails(daemon, 3, "cancel", "nosuch", subject)


# purge: on a daemon of its own, since it erases what every test left behind

def test_purge_dry_run_then_purge(fresh_daemon, subject):
    d = fresh_daemon
    assert ok(d, "purge", "--dry-run") == "nothing is past retention; no purge record\n"
    ok(d, "grant", "mistore", subject, "policy")
    ok(d, "cancel", "mistore", subject)  # mistore keeps nothing after a cancel
    dry = reply(d, "purge", "--dry-run")
    assert dry["seq"] is None and dry["purged"] > 0
    n = dry["purged"]
    assert ok(d, "purge", "--dry-run") == \
        f"would purge {n} records past retention (dry run: nothing erased)\n"
    out = ok(d, "purge")
    m = re.match(rf"^purged {n} records past retention; purge record seq (\d+)\n$", out)
    assert m, out
    assert ok(d, "verify").startswith(f"chain holds: {m[1]} records, head seq {m[1]} ")
    assert reply(d, "purge") == {"ok": True, "seq": None, "purged": 0, "more": False}
    assert reply(d, "history", subject)["events"] == []


def test_purge_errors(fresh_daemon):
    assert "unexpected argument" in fails(fresh_daemon, 4, "purge", "--dry-run", "yes")
    assert "unknown option" in fails(fresh_daemon, 4, "purge", "--force")
    r = ctl(fresh_daemon, "purge", uid=APP_UID)
    assert r.returncode == 3 and "forbidden" in r.stderr


# subscribe

class Subscriber:
    """consentctl subscribe in the background, its output read line by line."""

    def __init__(self, d, *args):
        self.proc = subprocess.Popen([CTL, "--socket", d.socket, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.bufs = {self.proc.stdout: b"", self.proc.stderr: b""}

    def line(self, stream=None, timeout=30):
        f = stream or self.proc.stdout
        deadline = time.time() + timeout
        while b"\n" not in self.bufs[f]:
            left = deadline - time.time()
            assert left > 0 and select.select([f], [], [], left)[0], "no line from consentctl"
            chunk = os.read(f.fileno(), 65536)
            assert chunk, "consentctl subscribe ended"
            self.bufs[f] += chunk
        line, self.bufs[f] = self.bufs[f].split(b"\n", 1)
        return line.decode()

    def err_line(self):
        return self.line(self.proc.stderr)

    def end(self, sig=None):
        """Its exit code and what it printed that was not read yet."""
        if sig:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=60)
        return (self.proc.returncode, (self.bufs[self.proc.stdout] + out).decode(),
                (self.bufs[self.proc.stderr] + err).decode())


def test_subscribe_human_prints_each_event_and_exits_0_on_interrupt(daemon, subject):
    s = Subscriber(daemon, "subscribe", "mipay")
    try:
        assert s.err_line() == "consentctl: subscribed to mipay; interrupt to stop"
        ok(daemon, "grant", "mipay", subject, "policy")
        ok(daemon, "grant", "mistore", subject, "policy")  # another product: not shown
        ok(daemon, "withdraw", "mipay", subject, "policy")
        rows = [s.line().split() for _ in range(2)]
        assert [r[1:] for r in rows] == [["mipay", subject, "policy", "granted"],
                                         ["mipay", subject, "policy", "withdrawn"]]
        assert int(rows[0][0]) < int(rows[1][0])
    finally:
        code, out, err = s.end(signal.SIGINT)
    assert code == 0 and out == "", err


def test_subscribe_json_prints_the_raw_lines(daemon, subject):
    s = Subscriber(daemon, "--json", "subscribe")
    try:
        assert json.loads(s.line()) == {"ok": True, "product": None}
        seq = reply(daemon, "grant", "mistore", subject, "policy")["seq"]
        assert json.loads(s.line()) == {"event": "consent_changed", "product": "mistore",
                                        "subject": subject, "scope": "policy",
                                        "state": "granted", "seq": seq}
    finally:
        code, _, err = s.end(signal.SIGTERM)
    assert code == 0 and err == ""


def test_subscribe_errors(daemon):
    assert "unknown_product" in fails(daemon, 3, "subscribe", "nosuch")
    assert "unexpected argument" in fails(daemon, 4, "subscribe", "mipay", "mistore")


def test_subscribe_ends_non_zero_when_the_daemon_goes(fresh_daemon):
    s = Subscriber(fresh_daemon, "subscribe")
    assert "subscribed to every product" in s.err_line()
    fresh_daemon.stop()
    code, _, err = s.end()
    assert code == 5 and "the daemon closed the connection" in err


def test_subscribe_overflow_is_told_on_stderr(fresh_daemon, subject):
    d = fresh_daemon
    s = Subscriber(d, "subscribe", "mipay")
    assert "subscribed" in s.err_line()
    s.proc.send_signal(signal.SIGSTOP)  # a reader that falls behind
    try:
        # Past the MiB the daemon queues and what the socket holds, yet few enough to be sent
        # well within the seconds the daemon lingers for the overflow notice to go out.
        n = 16000
        c = d.client()
        sender = threading.Thread(target=c.send_raw, args=(b"".join(
            json.dumps({"op": "grant", "id": i, "product": "mipay", "subject": subject,
                        "scope": "policy"}).encode() + b"\n" for i in range(n)),))
        sender.start()
        for _ in range(n):
            assert c.recv()["ok"]
        sender.join()
        c.close()
    finally:
        s.proc.send_signal(signal.SIGCONT)
    code, out, err = s.end()
    assert code == 3, err
    assert "events came faster than this connection read them" in err
    assert 0 < len(out.splitlines()) < n
