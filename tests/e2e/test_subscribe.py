"""subscribe: an app hears of a consent change the moment it is committed, and a subscriber
that does not read costs the daemon a bounded queue, then its connection."""
import array
import os
import socket
import time

from conftest import APP_UID, READER_UID, Client
from test_protocol import run_as


def connect_as(uid, path):
    """A Client whose connection was made by a process of uid (SO_PEERCRED is taken at
    connect): a child connects and hands the socket back."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(uid)
            os.setuid(uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            socket.send_fds(child, [b"x"], [s.fileno()])
        finally:
            os._exit(0)
    _, fds, _, _ = socket.recv_fds(parent, 1, 1)
    os.waitpid(pid, 0)
    parent.close()
    child.close()
    c = Client.__new__(Client)
    c.sock = socket.socket(fileno=fds[0])
    c.sock.settimeout(30)
    c.buf = b""
    return c


def write(d, op, product, subject, scope):
    r = d.call({"op": op, "product": product, "subject": subject, "scope": scope})
    assert r["ok"], r
    return r["seq"]


def test_events_follow_each_committed_change(daemon, subject):
    sub = daemon.client()
    assert sub.call({"op": "subscribe", "id": 1}) == {"id": 1, "ok": True, "product": None}
    only_tianxing = daemon.client()
    assert only_tianxing.call({"op": "subscribe", "product": "tianxing"})["ok"]
    seqs = [write(daemon, "grant", "mipay", subject, "policy"),
            write(daemon, "withdraw", "mipay", subject, "policy"),
            write(daemon, "refuse", "tianxing", subject, "purpose:marketing")]
    got = [sub.recv() for _ in seqs]
    assert got == [
        {"event": "consent_changed", "product": "mipay", "subject": subject,
         "scope": "policy", "state": "granted", "seq": seqs[0]},
        {"event": "consent_changed", "product": "mipay", "subject": subject,
         "scope": "policy", "state": "withdrawn", "seq": seqs[1]},
        {"event": "consent_changed", "product": "tianxing", "subject": subject,
         "scope": "purpose:marketing", "state": "refused", "seq": seqs[2]}]
    assert only_tianxing.recv()["seq"] == seqs[2]
    # set_subject changes no consent: no event; the subscriber still answers requests.
    assert daemon.call({"op": "set_subject", "subject": subject, "age_band": "adult"})["ok"]
    assert sub.call({"op": "hello", "id": 2})["id"] == 2
    sub.close()
    only_tianxing.close()


def test_cancel_tells_every_scope_it_withdrew(daemon, subject):
    for scope in ["policy", "purpose:marketing"]:
        write(daemon, "grant", "tianxing", subject, scope)
    sub = daemon.client()
    assert sub.call({"op": "subscribe", "product": "tianxing"})["ok"]
    r = daemon.call({"op": "cancel", "product": "tianxing", "subject": subject})
    events = [sub.recv(), sub.recv()]
    assert sorted(e["scope"] for e in events) == ["policy", "purpose:marketing"]
    assert all(e["state"] == "withdrawn" and e["seq"] == r["seq"] for e in events)
    sub.close()


def test_an_app_hears_of_its_own_products_only(daemon, subject):
    app = connect_as(APP_UID, daemon.socket)
    assert app.call({"op": "subscribe"})["ok"]
    write(daemon, "grant", "tianxing", subject, "policy")
    seq = write(daemon, "grant", "mipay", subject, "policy")
    assert app.recv()["seq"] == seq
    assert app.call({"op": "subscribe", "product": "tianxing"})["error"]["code"] == "forbidden"
    app.close()
    assert run_as(READER_UID, daemon.socket, {"op": "subscribe"})["error"]["code"] == \
        "forbidden"


def test_a_subscriber_that_never_reads_is_cut_off(fresh_daemon):
    d = fresh_daemon
    stuck = d.client()
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    assert stuck.call({"op": "subscribe"})["ok"]
    writer = d.client()
    n, batch, start = 0, 500, time.time()
    # Events of ~170 bytes: 12,000 of them overflow a 1 MiB queue and the socket's buffers.
    while n < 12000:
        for i in range(batch):
            writer.send({"op": "grant", "product": "mipay", "subject": f"w-{n + i}",
                         "scope": "policy"})
        assert all(writer.recv()["ok"] for _ in range(batch))
        n += batch
    # The writer was never held up by the subscriber (it would have hung, not slowed).
    assert time.time() - start < 60
    lines = []
    try:
        while True:
            lines.append(stuck.recv())
    except ConnectionError:
        pass
    assert lines[-1]["event"] == "overflow", lines[-1]
    assert all(e["event"] == "consent_changed" for e in lines[:-1])
    assert [e["seq"] for e in lines[:-1]] == list(range(1, len(lines)))
    assert len(lines) < n
    # Everyone else is served as before.
    assert writer.call({"op": "hello"})["ok"]
    writer.close()
