"""SIGKILL consentd while several connections write at full speed, restart it on the same state
directory, and check the ledger against what the clients were told: no acknowledged write is
lost, an unacknowledged one is either wholly there (record and state) or wholly absent, nothing
appears that no client sent, and the chain verifies without gaps. Repeated over many cycles.

CONSENTD_CRASH_SEED replays a run: it fixes which writes are sent and when each kill lands
(the exact interleaving with the daemon still varies)."""
import os
import random
import signal
import socket
import threading
import time

from conftest import Daemon

ASAN = os.environ.get("CONSENTD_BUILD", "").rstrip("/").endswith("asan")
CYCLES = 12 if ASAN else 20
THREADS = 4
SUBJECTS_PER_THREAD = 3
SCOPES = ["policy", "purpose:marketing", "permission:android.permission.CAMERA"]
# Replies outstanding per connection: with several in the daemon at once, a kill can land
# between a commit and its reply, which is the case an unacknowledged write must survive.
DEPTH = 4
KILL_AFTER_MS = (50, 400)
FULL_EVERY = 5
STATE = {"grant": "granted", "withdraw": "withdrawn"}
FLIP = {"granted": "withdraw", "withdrawn": "grant", None: "grant"}


class Write:
    __slots__ = ("n", "tag", "key", "op", "state", "seq")

    def __init__(self, n, tag, key, op):
        self.n, self.tag, self.key, self.op = n, tag, key, op
        self.state, self.seq = STATE[op], None


class Writer(threading.Thread):
    """One connection writing to its own keys until consentd dies under it.

    At most one write per key is unacknowledged at a time, so after a kill each key has one
    candidate state besides its last acknowledged one."""

    def __init__(self, client, cycle, tid, keys, state, rng):
        super().__init__(daemon=True)
        self.client, self.cycle, self.tid, self.keys, self.rng = client, cycle, tid, keys, rng
        self.state = dict(state)    # key -> the state the writes sent so far leave it in
        self.acked = []             # Writes answered ok, in reply order
        self.inflight = []          # Writes sent (or being sent) without a reply at the kill
        self.error = None

    def next_write(self, n, busy):
        key = self.rng.choice([k for k in self.keys if k not in busy])
        # Mostly flip the state, so a lost or phantom write shows in status as well as history.
        op = FLIP[self.state[key]] if self.rng.random() < 0.8 else self.rng.choice(list(STATE))
        self.state[key] = STATE[op]
        return Write(n, f"crash c{self.cycle} t{self.tid} n{n}", key, op)

    def run(self):
        c, outstanding, n = self.client, [], 0
        try:
            while True:
                while len(outstanding) < DEPTH:
                    w = self.next_write(n, {o.key for o in outstanding})
                    outstanding.append(w)
                    c.send({"op": w.op, "id": n, "product": "mipay", "subject": w.key[0],
                            "scope": w.key[1], "source": w.tag})
                    n += 1
                r = c.recv()
                w = outstanding[0]
                if r.get("id") != w.n or not r.get("ok") or not isinstance(r.get("seq"), int):
                    self.error = f"t{self.tid}: {w.tag} answered {r}"
                    return
                w.seq = r["seq"]
                self.acked.append(outstanding.pop(0))
        except socket.timeout:
            self.error = f"t{self.tid}: consentd stopped answering"
        except (ConnectionError, OSError):
            pass  # the kill
        except Exception as e:  # the main thread reports it
            self.error = f"t{self.tid}: {e!r}"
        finally:
            self.inflight = outstanding
            c.close()


def history(c, subject, since):
    events = []
    while True:
        r = c.call({"op": "history", "subject": subject, "since": since, "limit": 1000})
        assert r.get("ok"), r
        events += r["events"]
        if r["next"] is None:
            return events
        assert r["next"] > since, r
        since = r["next"]


def test_acknowledged_writes_survive_sigkill():
    seed = int(os.environ.get("CONSENTD_CRASH_SEED") or random.SystemRandom().randrange(1 << 32))
    rng = random.Random(seed)
    ctx = f"seed {seed} (CONSENTD_CRASH_SEED={seed} replays it)"
    subjects = [[f"crash-t{t}-s{i}" for i in range(SUBJECTS_PER_THREAD)] for t in range(THREADS)]
    keys = [[(s, sc) for s in subs for sc in SCOPES] for subs in subjects]
    every_key = [k for ks in keys for k in ks]

    known = {}                                  # tag -> Write, every record the ledger must hold
    durable = {k: None for k in every_key}      # key -> the Write that last set it durably
    d = Daemon().start()
    started = time.monotonic()
    acked_total = inflight_total = landed_total = checked = 0
    try:
        for cycle in range(CYCLES):
            where = f"{ctx}, cycle {cycle}"
            state = {k: durable[k].state if durable[k] else None for k in every_key}
            writers = [Writer(d.client(), cycle, t, keys[t], {k: state[k] for k in keys[t]},
                              random.Random(rng.getrandbits(64))) for t in range(THREADS)]
            delay = rng.uniform(*KILL_AFTER_MS) / 1000
            for w in writers:
                w.start()
            time.sleep(delay)
            code = d.stop(signal.SIGKILL)
            assert code == -signal.SIGKILL, f"{where}: consentd exited {code} before the " \
                f"kill:\n{d.output()}"
            for w in writers:
                w.join(30)
                assert not w.is_alive(), f"{where}: t{w.tid} still running after the kill"
                assert w.error is None, f"{where}: {w.error}"
            d.start()

            # Reading every record back after each kill costs time quadratic in the cycles, so
            # most cycles read only what was written since the last check and leave the older
            # records to verify, whose walk would break on any of them missing or changed;
            # every FULL_EVERY cycles, and after the last, everything is read again.
            full = cycle % FULL_EVERY == FULL_EVERY - 1 or cycle == CYCLES - 1
            since = 0 if full else checked
            c = d.client()
            try:
                ledger = {s: history(c, s, since) for subs in subjects for s in subs}
                status = {s: c.call({"op": "status", "product": "mipay", "subject": s})
                          for subs in subjects for s in subs}
                verify = c.call({"op": "verify"})
            finally:
                c.close()

            acked = [w for t in writers for w in t.acked]
            inflight = {w.tag: w for t in writers for w in t.inflight}
            acked_total += len(acked)
            inflight_total += len(inflight)
            for w in acked:
                assert w.seq > checked, f"{where}: {w.tag} was acknowledged as seq {w.seq}, " \
                    f"which the ledger held before this cycle ({checked} records)"
                known[w.tag] = w

            # Every record is one a client sent, once, as it sent it.
            records, seen = [], {}
            for s, events in ledger.items():
                for e in events:
                    tag = e["source"]
                    w = known.get(tag) or inflight.get(tag)
                    assert w is not None, f"{where}: record {e['seq']} was never sent: {e}"
                    assert tag not in seen, f"{where}: {tag} recorded twice: seq {seen[tag]} " \
                        f"and {e['seq']}"
                    assert w.seq is None or w.seq == e["seq"], f"{where}: {tag} was " \
                        f"acknowledged as seq {w.seq} but the ledger has it at {e['seq']}"
                    seen[tag] = e["seq"]
                    assert (e["subject"], e["scope"], e["op"], e["state"], e["product"]) == \
                        (s, w.key[1], w.op, w.state, "mipay") and s == w.key[0], \
                        f"{where}: record {e['seq']} is not {tag} as sent ({w.op} {w.key}): {e}"
                    records.append(e["seq"])

            # Nothing acknowledged is lost.
            for w in known.values() if full else acked:
                assert w.tag in seen, f"{where}: acknowledged {w.tag} ({w.op} {w.key}, seq " \
                    f"{w.seq}) is lost"

            # An unacknowledged write either landed after the key's last acknowledged one or
            # did not land at all; from now on it is held to the same standard as the rest.
            landed = []
            for t in writers:
                for w in t.inflight:
                    if w.tag not in seen:
                        continue
                    w.seq = seen[w.tag]
                    last = max((a.seq for a in t.acked if a.key == w.key), default=checked)
                    assert w.seq > last, f"{where}: unacknowledged {w.tag} landed at seq " \
                        f"{w.seq}, before the key's acknowledged seq {last}"
                    known[w.tag] = w
                    landed.append(w)
            landed_total += len(landed)
            for w in sorted(acked + landed, key=lambda w: w.seq):
                durable[w.key] = w

            # The state served is the state of the last write that landed, for every key:
            # an unacknowledged write is never half applied (a record without its state, or
            # the reverse).
            for s, r in status.items():
                assert r.get("ok"), f"{where}: {r}"
                served = {x["scope"]: x["state"] for x in r["scopes"]}
                want = {k[1]: w.state for k, w in durable.items() if k[0] == s and w}
                assert served == want, f"{where}: {s} status {served}, expected {want} " \
                    f"(last durable writes: " + ", ".join(
                        f"{k[1]}={w.tag}@{w.seq}" for k, w in durable.items()
                        if k[0] == s and w) + ")"

            # Gapless, and the chain over all of it holds.
            records.sort()
            top = records[-1] if records else since
            assert records == list(range(since + 1, top + 1)), \
                f"{where}: seqs after {since} have gaps or repeats: missing " + \
                str(sorted(set(range(since + 1, top + 1)) - set(records))[:20])
            assert top >= checked, f"{where}: the ledger ends at {top}, before {checked}"
            assert verify.get("ok") and verify["records"] == top and \
                verify["head"]["seq"] == top, f"{where}: verify {verify}, ledger ends at {top}"
            checked = top
        elapsed = time.monotonic() - started
        print(f"{ctx}: {CYCLES} kills, {acked_total} acknowledged writes, {inflight_total} "
              f"unacknowledged of which {landed_total} landed, {elapsed:.1f} s")
        assert acked_total > CYCLES, f"{ctx}: too few writes to test anything"
    finally:
        code = d.stop()
        out = d.output()
        d.cleanup()
    assert code == 0, f"{ctx}: consentd exited {code} on SIGTERM:\n{out}"
    assert "ERROR: AddressSanitizer" not in out and "runtime error" not in out, f"{ctx}:\n{out}"
