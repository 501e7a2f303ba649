"""What consentd logs: each consent write (seq, product, scope, state and the subject id, never
the source text or the attributes), exceptions used, ledger failures; and, when its stderr is
the journal, the same events with their MESSAGE_ID and CONSENTD_* fields, sent to a stand-in
journal socket in a mount namespace of their own."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, Daemon, POLICIES, TEST_CONF, Client

CONSENT_WRITE = "65f6e213ef734b819f9bc070fe1647f0"
EXCEPTION_USED = "849c4b38c10e4e1dac2be9d06a42ca6c"
START, RELOAD, STOP = ("94742d5f00c04e6ebdd38e656a434381", "38109c70a2a1410ba8cf4adf2f270e6d",
                       "ef7ed71464f9422d9950e1d04fa10241")


def test_each_consent_write_is_logged_without_personal_text(fresh_daemon, subject):
    d = fresh_daemon
    r = d.call({"op": "grant", "product": "mipay", "subject": subject, "scope": "policy",
                "source": "张三 13800000000"})
    assert d.call({"op": "set_subject", "subject": subject, "age_band": "minor",
                   "region": "hk"})["ok"]
    d.stop()
    out = d.output()
    assert f"consent seq {r['seq']}: grant mipay policy granted for {subject}" in out
    assert f"consent seq {r['seq'] + 1}: set_subject (every product) - - for {subject}" in out
    assert "13800000000" not in out and "minor" not in out and "age_band" not in out


def test_an_exception_is_logged_with_who_used_it(fresh_daemon, subject):
    d = fresh_daemon
    r = d.call({"op": "check", "product": "mipay", "subject": subject,
                "feature": "mipay.real_name_account", "field": "id_number",
                "exception": "ce_legal_obligation"})
    assert r["ok"], r
    d.stop()
    assert f"exception ce_legal_obligation used by uid 0: mipay mipay.real_name_account " \
           f"id_number for {subject}" in d.output()


@pytest.fixture
def journal(tmp_path):
    """A datagram socket standing in for journald's, and the directory it lives in."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "socket"))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.settimeout(10)
    yield tmp_path, sock
    sock.close()


def entries(sock):
    out = []
    sock.settimeout(0.5)
    try:
        while True:
            data = sock.recv(1 << 16).decode()
            out.append(dict(line.split("=", 1) for line in data.split("\n") if "=" in line))
    except socket.timeout:
        return out


def test_events_reach_the_journal_with_their_ids(journal, tmp_path):
    jdir, sock = journal
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    state, sockpath = tmp_path / "state", tmp_path / "consentd.sock"
    conf = tmp_path / "consentd.conf"
    conf.write_text(TEST_CONF)
    log = open(tmp_path / "stderr", "w+")
    st = os.fstat(log.fileno())
    # journald's socket is at a fixed path: give the daemon a /run of its own holding ours.
    script = ('mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && '
              f'mount --bind {jdir} /run/systemd/journal && exec "$@"')
    proc = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
         os.path.join(BUILD, "consentd"), "--foreground", "--config", str(conf),
         "--socket", str(sockpath), "--state-dir", str(state), "--policy-dir", POLICIES],
        stdout=log, stderr=log, env=dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}"))
    try:
        for _ in range(300):
            if proc.poll() is not None:
                log.seek(0)
                pytest.skip("cannot make a mount namespace here: " + log.read()[-300:])
            try:
                c = Client(str(sockpath))
                break
            except OSError:
                time.sleep(0.02)
        r = c.call({"op": "grant", "product": "mipay", "subject": "j-1", "scope": "policy"})
        c.call({"op": "check", "product": "mipay", "subject": "j-1",
                "feature": "mipay.real_name_account", "field": "id_number",
                "exception": "ce_legal_obligation"})
        c.close()
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
    got = entries(sock)
    ids = [e.get("MESSAGE_ID") for e in got if e.get("MESSAGE_ID") in (START, RELOAD, STOP)]
    assert ids == [START, RELOAD, STOP], got
    assert "mipay@2024-04-25" in got[0]["CONSENTD_POLICIES"].split()
    write = [e for e in got if e.get("MESSAGE_ID") == CONSENT_WRITE]
    assert len(write) == 1, got
    assert {k: write[0][k] for k in ("CONSENTD_SEQ", "CONSENTD_OP", "CONSENTD_PRODUCT",
                                     "CONSENTD_SCOPE", "CONSENTD_STATE", "CONSENTD_SUBJECT",
                                     "PRIORITY", "SYSLOG_IDENTIFIER")} == {
        "CONSENTD_SEQ": str(r["seq"]), "CONSENTD_OP": "grant", "CONSENTD_PRODUCT": "mipay",
        "CONSENTD_SCOPE": "policy", "CONSENTD_STATE": "granted", "CONSENTD_SUBJECT": "j-1",
        "PRIORITY": "6", "SYSLOG_IDENTIFIER": "consentd"}
    [exc] = [e for e in got if e.get("MESSAGE_ID") == EXCEPTION_USED]
    assert exc["CONSENTD_EXCEPTION"] == "ce_legal_obligation" and exc["CONSENTD_PEER_UID"] == "0"
