#!/usr/bin/python3
"""consentd's ledger-scale benchmark: start-up, checks, memory and durable grants as the ledger
grows, each beside a reference run in the same run.

`make bench` runs it after bench.py; `make bench-scale` runs it alone. For each ledger size
(1k, 1M and 10M records; --sizes), in turn:

  ledger    tests/bench/mkledger writes it once into $(BUILD)/bench/ledgers/<N>/ (checked with
            consentd --verify) and later runs reuse it while its summary, schema version and
            head still match (--regen writes it again). consentd serves that directory itself:
            what a run adds (the grants below, subjects bench-w*) is deleted again before and
            after each size, and the head file rewritten. A copy per run would cost a 3-4 GB
            write, whose write-back would then run beside the fsync figures.
  start-up  consentd --foreground with NOTIFY_SOCKET on a datagram socket bound here: the time
            from spawn to READY=1, and to the first reply on its socket. Once "cold" (the
            ledger's pages dropped from the page cache with posix_fadvise first), then warm
            (the median of 3; the ledger file read through before them).
  checks    loadgen: check mipay / bench-<random subject of the ledger> /
            mipay.real_name_account / id_number (an allow for every subject mkledger writes),
            closed loop on 1 and 64 connections, and 64 in flight on one connection; refserver
            --mode json (bench.py's json ref) gets the same pipelined load in interleaved
            rounds. The daemon's cache of recently asked subjects is filled first, so that a
            ledger with more subjects than it holds shows its misses, which read sqlite. The
            daemon of the smallest ledger stays up as the reference of the closed loops: each
            larger one's rounds alternate with it, so that their p50s compare in the same
            minutes. During the checks the servers are pinned to CPU 0 and loadgen to CPU 1
            (and, for one more closed loop, to CPU 0 too): left to the scheduler, a closed
            loop's latency flips with where it puts the two.
  memory    VmRSS and VmHWM of the daemon (/proc/PID/status) after the checks.
  grants    as bench.py: durable grants of new subjects from 1, 8 and 64 closed-loop writers,
            each beside fsyncloop in the ledger's directory (the one-fsync-per-write rate).

It prints a table per aspect, one row per size, then the targets (met / not met); it never
asserts a timing and exits 0 unless something failed. Every process it started is stopped and
its temporary directory removed, also on Ctrl-C, SIGTERM or error; a ledger left with a run's
grants by an interruption is restored by the next run.
"""
import argparse
import json
import os
import queue
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (beside this file)
from bench import Crash, Stop, median, median_run  # noqa: E402

DEFAULT_SIZES = "1000,1000000,10000000"
LEDGER_SCHEMA = 2            # PRAGMA user_version of the daemon's schema (daemon/ledger.h)
LEDGER_FORMAT = 1            # bump when mkledger's mix changes: cached ledgers are rewritten
SUMMARY = "mkledger.json"    # mkledger's summary, written last: the ledger is complete
ADDED_SUBJECTS = "bench-w%"  # the grant rows' subjects (bench.grant_rows); mkledger has none
CHECK = dict(bench.CHECK, subject="bench-%N")
# Servers run on SERVER_CPU during the checks; loadgen on another CPU ("apart"), or on the same
# one. Left to the scheduler, a closed loop's p50 flips between the two placements (on this
# kind of VM about 15 us on one CPU, 40-55 us across two: the wake-up of an idle vCPU).
SERVER_CPU, CLIENT_CPU = 0, 1
# Which subjects a scenario asks about: any of the ledger's ("all": the worst case for the
# cache, every check of a large ledger a likely miss), or RECENT_SUBJECTS of them, the people
# using their apps now, whom the cache is there to hold.
RECENT_SUBJECTS = 50000
SCENARIOS = [  # key, label, connections, in flight per conn, beside it, loadgen's CPU, spread
    ("closed1", "closed loop, 1 conn", 1, 1, "smallest", CLIENT_CPU, "all"),
    ("closed1same", "1 conn, on one CPU", 1, 1, "smallest", SERVER_CPU, "all"),
    ("closed64", "closed loop, 64 conns", 64, 1, "smallest", CLIENT_CPU, "all"),
    ("pipelined", "pipelined, 64 on 1 conn", 1, 64, "json ref", CLIENT_CPU, "all"),
    ("closed1recent", "1 conn, 50k recent subjects", 1, 1, "smallest", CLIENT_CPU, "recent"),
    ("pipelinedrecent", "pipelined, 50k recent subjects", 1, 64, "json ref", CLIENT_CPU,
     "recent"),
]
WARM_STARTS = 3
FILL_ROUNDS = 20             # cache-filling loadgen runs at most
MIB = 1024 * 1024
ALL_CPUS = os.sched_getaffinity(0)
TWO_CPUS = {SERVER_CPU, CLIENT_CPU} <= ALL_CPUS

TARGETS = [  # key, text, wanted, lower is better
    ("p50", "check p50, closed loop 1 conn, within 1.5x of the smallest's", 1.5, True),
    ("p50recent", "  the same over 50k recent subjects", 1.5, True),
    ("startup", "start-up to READY, cold page cache, under 1 s", 1.0, True),
    ("hwm", "VmHWM after the checks under 64 MiB", 64.0, True),
    ("pipelined", "pipelined check >= 1.0x the json ref", 1.0, False),
    ("pipelinedrecent", "  the same over 50k recent subjects", 1.0, False),
]


class Stale(Exception):
    """A cached ledger that cannot be used as it is: it is written again."""


def spread_of(spread, subjects):
    """How many subjects a scenario of this spread asks about, of the ledger's subjects."""
    return subjects if spread == "all" else min(RECENT_SUBJECTS, subjects)


def size_name(n):
    for unit, div in (("M", 1000000), ("k", 1000)):
        if n >= div and n % (div // 10) == 0:
            return f"{n / div:g}{unit}"
    return str(n)


def parse_sizes(text):
    try:
        sizes = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected record counts such as 1000,100000")
    return sorted(set(sizes))


def head_file_text(seq, digest):
    """The chain head file as chain_head_write writes it (115 bytes, PROTOCOL.md)."""
    return f"consentd chain head\nseq {seq:020d}\nhash {digest}\n".encode()


class pinned:
    """Run a thread (0: this one, so the children it starts) on cpus, then on every CPU again."""

    def __init__(self, tid, cpus):
        self.tid, self.cpus = tid, cpus if TWO_CPUS else ALL_CPUS

    def __enter__(self):
        os.sched_setaffinity(self.tid, self.cpus)

    def __exit__(self, *exc):
        try:
            os.sched_setaffinity(self.tid, ALL_CPUS)
        except ProcessLookupError:
            pass


class pinned_servers:
    """Every thread of the server processes on SERVER_CPU, then on every CPU again."""

    def __init__(self, pids):
        self.tids = [int(t) for pid in pids for t in os.listdir(f"/proc/{pid}/task")]

    def __enter__(self):
        for tid in self.tids:
            pinned(tid, {SERVER_CPU}).__enter__()

    def __exit__(self, *exc):
        for tid in self.tids:
            pinned(tid, ALL_CPUS).__exit__()


def proc_status(pid):
    """VmRSS and VmHWM of pid in MiB."""
    got = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                got[key] = int(value.split()[0]) / 1024
    return got


class Scale(bench.Bench):
    def __init__(self, args):
        super().__init__(args)
        self.ledgers = args.ledgers or os.path.join(self.build, "bench", "ledgers")
        self.notify = None
        self.notified = queue.Queue()      # (arrival, datagram) from read_notify
        self.notify_done = threading.Event()
        self.rows = []
        self.smallest = None     # (socket, pid, subjects) of the smallest ledger's daemon
        self.free_mib = {}       # free pages in each ledger file, left by earlier runs' grants

    # ----- the cached ledgers -----

    def ledger_dir(self, n):
        return os.path.join(self.ledgers, str(n))

    def ledger(self, n):
        """The ledger of n records, ready to serve: reused and restored, or written anew."""
        d = self.ledger_dir(n)
        if not self.args.regen:
            try:
                meta = self.restore(d, n)
                meta["cached"] = True
                return d, meta
            except Stale as e:
                print(f"  ledger {size_name(n)}: {e}; writing it again", flush=True)
        meta = self.generate(n)
        meta["cached"] = False
        return d, meta

    def generate(self, n):
        d, part = self.ledger_dir(n), self.ledger_dir(n) + ".partial"
        for old in (d, part):
            shutil.rmtree(old, ignore_errors=True)
        os.makedirs(self.ledgers, exist_ok=True)
        print(f"  ledger {size_name(n)}: writing {n:,} records with mkledger", flush=True)
        t0 = time.monotonic()
        meta = self.run_logged([os.path.join(self.bin, "mkledger"), "--records", str(n),
                                "--dir", part], timeout=3600)
        meta["seconds"] = time.monotonic() - t0
        print(f"  ledger {size_name(n)}: consentd --verify", flush=True)
        t0 = time.monotonic()
        r = subprocess.run([self.consentd_bin, "--verify", "--state-dir",
                            part, "--policy-dir", bench.POLICIES], capture_output=True,
                           text=True, timeout=3600)
        if r.returncode != 0:
            raise Crash(f"the ledger mkledger wrote in {part} does not verify:\n"
                        f"{r.stdout}{r.stderr}")
        meta.update(verify_seconds=time.monotonic() - t0, format=LEDGER_FORMAT,
                    schema=LEDGER_SCHEMA, verify=r.stdout.strip())
        with open(os.path.join(part, SUMMARY), "w") as f:
            json.dump(meta, f)
        os.rename(part, d)
        return self.restore(d, n)

    def run_logged(self, argv, timeout):
        """A helper whose progress (stderr) shows as it runs; its stdout JSON."""
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                             start_new_session=True)
        self.procs.append((os.path.basename(argv[0]), p))
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise Crash(f"{os.path.basename(argv[0])} did not finish within {timeout} s")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            self.procs = [(name, q) for name, q in self.procs if q is not p]
        if p.returncode != 0:
            raise Crash(f"{' '.join(argv)} failed (exit {p.returncode})")
        return json.loads(out)

    def restore(self, d, n):
        """
        Bring the ledger in d back to the n records mkledger wrote: delete what a bench run
        added after them (only grants of new bench-w subjects, so deleting their records and
        consent rows undoes them exactly), and rewrite the head file. Stale if it cannot be.
        """
        try:
            with open(os.path.join(d, SUMMARY)) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            raise Stale("not written yet")
        if (meta.get("records"), meta.get("format"), meta.get("schema")) != \
                (n, LEDGER_FORMAT, LEDGER_SCHEMA):
            raise Stale("written by another version of mkledger")
        try:
            digest = self.undo_added(os.path.join(d, "ledger.db"), n)
        except sqlite3.Error as e:
            raise Stale(f"unreadable ({e})")
        if digest != meta["head_hash"]:
            raise Stale(f"record {n} is not the one mkledger wrote")
        with open(os.path.join(d, "chain-head"), "wb") as f:
            f.write(head_file_text(n, digest))
            os.fsync(f.fileno())
        try:
            os.unlink(os.path.join(d, "fsyncloop.dat"))
        except FileNotFoundError:
            pass
        return meta

    def undo_added(self, path, n):
        """Delete the records after n and their consent rows; the hash of record n."""
        if not os.path.exists(path):
            raise Stale("no ledger.db")
        db = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != LEDGER_SCHEMA:
                raise Stale(f"schema version {version}, not {LEDGER_SCHEMA}")
            last = db.execute("SELECT max(seq) FROM records").fetchone()[0] or 0
            if last < n:
                raise Stale(f"{last} records, not {n}")
            foreign = db.execute("SELECT count(*) FROM records WHERE seq > ? AND NOT "
                                 "(op = 'grant' AND subject LIKE ?)",
                                 (n, ADDED_SUBJECTS)).fetchone()[0]
            if foreign:
                raise Stale(f"{foreign} records after {n} are not the bench's grants")
            if last > n:
                db.execute("BEGIN IMMEDIATE")
                db.execute("DELETE FROM consent WHERE (product, subject, scope) IN (SELECT "
                           "product, subject, scope FROM records WHERE seq > ?) AND seq > ?",
                           (n, n))
                db.execute("DELETE FROM records WHERE seq > ?", (n,))
                db.execute("COMMIT")
            row = db.execute("SELECT hash FROM records WHERE seq = ?", (n,)).fetchone()
            self.compact(db)
            # Leave no WAL behind: every start-up then opens the same files.
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.free_mib[n] = db.execute("PRAGMA freelist_count").fetchone()[0] * \
                db.execute("PRAGMA page_size").fetchone()[0] / MIB
            return row[0] if row else None
        finally:
            db.close()

    def compact(self, db):
        """
        VACUUM a ledger that the deleted grants left mostly free pages (a small one): it is
        then the size mkledger wrote. A large one keeps them; sqlite reuses them, and a VACUUM
        of gigabytes would take minutes.
        """
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        if free > pages - free:
            db.execute("VACUUM")

    def drop_cache(self, d):
        """Drop the ledger's pages from the page cache (clean after restore's checkpoint)."""
        fd = os.open(os.path.join(d, "ledger.db"), os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)

    def read_through(self, d):
        """Read the whole ledger file, so that what follows runs on a warm page cache."""
        buf = bytearray(8 * MIB)
        with open(os.path.join(d, "ledger.db"), "rb", buffering=0) as f:
            while f.readinto(buf):
                pass

    # ----- consentd -----

    def notify_socket(self):
        """The NOTIFY_SOCKET of every consentd started here, read all along by a thread."""
        path = os.path.join(self.tmp, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(path)
        self.notify.settimeout(0.1)
        threading.Thread(target=self.read_notify, daemon=True).start()
        return path

    def read_notify(self):
        """
        Receive every notification, as systemd does, stamped on arrival. Left unread, they
        would fill the socket's queue (net.unix.max_dgram_qlen, often 10), and a daemon
        sending STATUS= every few seconds would block in sd_notify.
        """
        while not self.notify_done.is_set():
            try:
                msg = self.notify.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.notified.put((time.monotonic(), msg.decode(errors="replace")))

    def start_consentd(self, state, n, tag):
        """Spawn consentd on state; (Popen, seconds to READY=1, seconds to the first reply)."""
        # A socket per ledger: the smallest one's daemon stays up beside the others.
        self.consentd_sock = os.path.join(self.tmp, f"consentd-{n}.sock")
        log = open(os.path.join(self.tmp, f"consentd-{n}-{tag}.log"), "w+")
        self.logs["consentd"] = log
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        t0 = time.monotonic()
        p = subprocess.Popen([self.consentd_bin, "--foreground",
                              "--socket", self.consentd_sock, "--state-dir", state,
                              "--policy-dir", bench.POLICIES, "--config", self.conf],
                             stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             start_new_session=True, env=env)
        self.procs.append(("consentd", p))
        ready = self.wait_ready(p, t0, t0 + 120) - t0
        hello = json.loads(self.call({"op": "hello", "id": "scale"}))
        if not hello.get("ok"):
            raise Crash(f"consentd answered hello with {hello}")
        return p, ready, time.monotonic() - t0

    def wait_ready(self, p, t0, deadline):
        """When READY=1 arrived after t0 (other daemons' notifications, and older ones, pass)."""
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise Crash(f"consentd exited with {p.returncode} at start:\n"
                            f"{self.output('consentd')}")
            try:
                at, msg = self.notified.get(timeout=0.05)
            except queue.Empty:
                continue
            if at >= t0 and "READY=1" in msg.split("\n"):
                return at
        raise Crash("consentd sent no READY=1 within 120 s:\n" + self.output("consentd"))

    def stop_consentd(self, name="consentd"):
        """SIGTERM, and wait: it commits what it holds and checkpoints on the way out."""
        for pname, p in self.procs:
            if pname != name:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise Crash(f"{name} did not stop within 60 s of SIGTERM")
            if rc != 0:
                raise Crash(f"{name} stopped with exit {rc}:\n{self.output(name)}")
        self.procs = [(pname, p) for pname, p in self.procs if pname != name]
        log = self.logs.pop(name, None)
        if log:
            log.close()

    # ----- one size -----

    def startups(self, d, n):
        """A cold start, then WARM_STARTS warm ones; the last stays up for the rest."""
        self.drop_cache(d)
        print("  start-up, cold", flush=True)
        _, cold_ready, cold_reply = self.start_consentd(d, n, "cold")
        self.stop_consentd()
        self.read_through(d)
        warm = []
        for i in range(WARM_STARTS):
            print(f"  start-up, warm ({i + 1}/{WARM_STARTS})", flush=True)
            p, ready, reply = self.start_consentd(d, n, f"warm{i + 1}")
            warm.append((ready, reply))
            if i + 1 < WARM_STARTS:
                self.stop_consentd()
        return p, {"cold_ready": cold_ready, "cold_reply": cold_reply,
                   "warm_ready": median([r for r, _ in warm]),
                   "warm_reply": median([r for _, r in warm])}

    def check_line(self, meta):
        line = json.dumps(CHECK, separators=(",", ":"))
        for subject in sorted({0, meta["subjects"] // 2, meta["subjects"] - 1}):
            req = json.loads(line.replace("%N", str(subject)))
            reply = json.loads(self.call(req))
            if reply.get("decision") != "allow":
                raise Crash(f"check of bench-{subject} is not an allow: {reply}")
        return line

    def fill_cache(self, pid, line, subjects):
        """Ask until the daemon's cache holds as many subjects as it can (or all there are)."""
        cache = self.stats()["cache"]
        want = min(cache["max_entries"], subjects)
        for _ in range(FILL_ROUNDS):
            if cache["entries"] >= 0.99 * want:
                break
            print(f"  filling the cache: {cache['entries']:,} of {want:,} subjects", flush=True)
            self.loadgen(self.consentd_sock, pid, line, 1, 64, '"decision":"allow"',
                         ("--range", str(subjects)))
            cache = self.stats()["cache"]
        return cache

    def beside(self, ref, jref):
        """The server a scenario alternates with: (name, socket, pid, subjects), or None."""
        if ref == "json ref":
            return ("json ref", jref[0], jref[1], None)
        if ref == "smallest" and self.smallest is not None:
            return ("smallest",) + self.smallest
        return None

    def check_rounds(self, servers, scenario, line):
        """Interleaved rounds over servers; each server's runs and consentd's cache hit rate."""
        a = self.args
        _, label, conns, depth, _, cpu, spread = scenario
        runs = {name: [] for name, _, _, _ in servers}
        hits = misses = 0
        for rnd in range(a.rounds):
            for name, sock, pid, subjects in servers:
                print(f"  check, {label}: {name} ({rnd + 1}/{a.rounds})", flush=True)
                c0 = self.stats()["cache"]
                with pinned(0, {cpu}):
                    runs[name].append(self.loadgen(sock, pid, line, conns, depth,
                                                   '"decision":"allow"',
                                                   ("--range", str(spread_of(spread,
                                                                             subjects)))))
                c1 = self.stats()["cache"]
                if name == "consentd":
                    hits += c1["hits"] - c0["hits"]
                    misses += c1["misses"] - c0["misses"]
                self.alive()
        return runs, hits / (hits + misses) if hits + misses else 0.0

    def checks(self, pid, jref, line, subjects):
        servers = [pid, jref[1]] + ([self.smallest[1]] if self.smallest else [])
        out = {}
        with pinned_servers(servers):
            for sc in SCENARIOS:
                if sc[6] == "recent" and "warm" not in out:
                    out["warm"] = self.warm_recent(pid, line, spread_of("recent", subjects))
                out[sc[0]] = self.check_scenario(sc, pid, jref, line, subjects)
        del out["warm"]
        return out

    def warm_recent(self, pid, line, recent):
        """Ask about the recent subjects until nearly every check of them hits the cache."""
        for _ in range(FILL_ROUNDS):
            c0 = self.stats()["cache"]
            self.loadgen(self.consentd_sock, pid, line, 1, 64, '"decision":"allow"',
                         ("--range", str(recent)))
            c1 = self.stats()["cache"]
            hits, misses = c1["hits"] - c0["hits"], c1["misses"] - c0["misses"]
            print(f"  warming {recent:,} recent subjects: {hits / max(1, hits + misses):.1%} "
                  "hits", flush=True)
            if hits >= 0.99 * (hits + misses):
                return True
        return False

    def check_scenario(self, scenario, pid, jref, line, subjects):
        servers = [("consentd", self.consentd_sock, pid, subjects)]
        other = self.beside(scenario[4], jref)
        if other is not None:
            # The json ref answers any subject: it gets the same spread as consentd.
            servers.append(other[:3] + (other[3] or subjects,))
        runs, hit_rate = self.check_rounds(servers, scenario, line)
        row = {name: median_run(runs[name]) for name in runs}
        row["hit_rate"] = hit_rate
        if other is not None:
            row["vs"] = {"name": other[0]}
            for k in ("rps", "p50_us"):
                row["vs"][k] = median([c[k] / r[k] if r[k] else 0.0 for c, r in
                                       zip(runs["consentd"], runs[other[0]])])
        return row

    def one_size(self, n, jref):
        print(f"\nledger of {n:,} records", flush=True)
        d, meta = self.ledger(n)
        row = {"n": n, "meta": meta, "mib": os.path.getsize(os.path.join(d, "ledger.db")) / MIB,
               "free_mib": self.free_mib[n]}
        p, row["startup"] = self.startups(d, n)
        line = self.check_line(meta)
        row["cache"] = self.fill_cache(p.pid, line, meta["subjects"])
        row["checks"] = self.checks(p.pid, jref, line, meta["subjects"])
        row["mem"] = proc_status(p.pid)
        row["grants"] = self.grant_rows(p.pid, d)
        row["fs"] = self.fs_of(d)
        self.alive()
        self.rows.append(row)
        if self.smallest is None and n < self.args.sizes[-1]:
            self.keep_as_smallest(p, meta["subjects"])
            return
        self.stop_consentd()
        self.restore(d, n)

    def keep_as_smallest(self, p, subjects):
        """Keep the smallest ledger's daemon up, as the closed loops' reference."""
        self.procs = [("smallest", q) if q is p else (name, q) for name, q in self.procs]
        self.logs["smallest"] = self.logs.pop("consentd")
        self.smallest = (self.consentd_sock, p.pid, subjects)

    def run(self):
        for b in ["loadgen", "refserver", "fsyncloop", "mkledger"]:
            if not os.access(os.path.join(self.bin, b), os.X_OK):
                raise Crash(f"{self.bin}/{b} is missing: run `make bench-scale`")
        self.tmp = tempfile.mkdtemp(prefix="consentd-scale-")
        # One binary for the whole run, even if the tree is rebuilt meanwhile.
        self.consentd_bin = os.path.join(self.tmp, "consentd")
        shutil.copy2(os.path.join(self.build, "consentd"), self.consentd_bin)
        self.notify_path = self.notify_socket()
        self.conf = os.path.join(self.tmp, "consentd.conf")
        with open(self.conf, "w") as f:
            f.write("# the bench's: root (the bench) is admin; nobody else connects\n"
                    "socket-mode 0600\n")
        self.check_config()
        json_sock = os.path.join(self.tmp, "json.sock")
        jref = self.start("json ref", [os.path.join(self.bin, "refserver"), "--mode", "json",
                                       "--socket", json_sock], json_sock)
        sizes = ", ".join(map(size_name, self.args.sizes))
        print(f"consentd ledger-scale bench: ledgers of {sizes} records, in {self.ledgers}",
              flush=True)
        for n in self.args.sizes:
            self.one_size(n, (json_sock, jref.pid))
        if self.smallest is not None:
            self.stop_consentd("smallest")
            self.restore(self.ledger_dir(self.args.sizes[0]), self.args.sizes[0])
        self.report()

    # ----- the tables -----

    def report(self):
        a, w = self.args, sys.stdout.write
        try:
            load = "%.2f %.2f %.2f" % os.getloadavg()
        except OSError:
            load = "?"
        w(f"\nconsentd ledger-scale bench  ({os.cpu_count()} CPUs, load {load}; {a.duration:g} s "
          f"measured after {a.warmup:g} s warm-up per run; checks: the median of {a.rounds} "
          "rounds)\n")
        for part in (self.report_ledgers, self.report_startup, self.report_checks,
                     self.report_memory, self.report_grants, self.report_targets,
                     self.report_warnings):
            part(w)
        sys.stdout.flush()

    def report_ledgers(self, w):
        w(f"\nLEDGERS  written by mkledger, cached in {self.ledgers}; consentd serves them "
          f"there ({self.rows[0]['fs']})\n")
        w(f"  {'records':>11}{'subjects':>10}{'file MiB':>10}{'free MiB':>10}{'written s':>11}"
          f"{'verify s':>10}  cache\n")
        for r in self.rows:
            m = r["meta"]
            w(f"  {r['n']:>11,}{m['subjects']:>10,}{r['mib']:>10,.1f}{r['free_mib']:>10,.1f}"
              f"{m['seconds']:>11.1f}{m['verify_seconds']:>10.1f}  "
              f"{'reused' if m['cached'] else 'written now'}\n")
        w("  free: pages that earlier runs' grants used, deleted again; sqlite reuses them\n")

    def report_startup(self, w):
        w("\nSTART-UP  spawn to READY=1 (sd_notify), and to the first reply (hello); cold: the "
          "ledger's pages\n  dropped from the page cache first; warm: the median of "
          f"{WARM_STARTS}\n")
        w(f"  {'records':>11}{'cold READY':>12}{'reply':>9}{'warm READY':>13}{'reply':>9}\n")
        for r in self.rows:
            s = r["startup"]
            w(f"  {r['n']:>11,}{ms(s['cold_ready']):>12}{ms(s['cold_reply']):>9}"
              f"{ms(s['warm_ready']):>13}{ms(s['warm_reply']):>9}\n")

    def report_checks(self, w):
        small = size_name(self.rows[0]["n"])
        w("\nCHECK  mipay / bench-<a random one of the ledger's subjects> / "
          "mipay.real_name_account / id_number -> allow;\n  the daemon's cache of "
          f"{self.rows[0]['cache']['max_entries']:,} subjects filled first; servers on CPU "
          f"{SERVER_CPU}, loadgen on CPU {CLIENT_CPU} (\"on one CPU\": on {SERVER_CPU} too);\n"
          f"  vs {small}: p50 over that of the {small} ledger's daemon in alternate rounds "
          "(the median of the rounds' ratios)\n")
        closed = [sc for sc in SCENARIOS if sc[4] == "smallest"]
        w(f"  {'':>11}  " + "".join(f"{sc[1]:<35}" for sc in closed) + f"{'cache':>6}\n")
        cols = f"{'req/s':>9}{'p50 us':>8}{'p99 us':>8}{'vs ' + small:>9} "
        w(f"  {'records':>11}  " + cols * len(closed) + f"{'hits':>6}\n")
        for r in self.rows:
            c = r["checks"]
            w(f"  {r['n']:>11,}  ")
            for sc in closed:
                x, vs = c[sc[0]]["consentd"], c[sc[0]].get("vs")
                w(f"{x['rps']:>9,.0f}{x['p50_us']:>8.0f}{x['p99_us']:>8.0f}")
                w(f"{vs['p50_us']:>8.2f}x " if vs else f"{'-':>9} ")
            hits = median([c[key]["hit_rate"] for key in c])
            w(f"{100 * hits:>5.0f}%\n")
        w("\n  pipelined, 64 in flight on 1 conn, beside the json ref (refserver --mode json) "
          "in alternate rounds\n")
        w(f"  {'records':>11}  {'req/s':>9}{'p50 us':>8}{'p99 us':>8}{'json ref':>11}"
          f"{'consentd / json':>17}{'srv CPU':>9}\n")
        for key, what in (("pipelined", "any subject"), ("pipelinedrecent", "50k recent")):
            for r in self.rows:
                c = r["checks"][key]
                x = c["consentd"]
                w(f"  {r['n']:>11,}  {x['rps']:>9,.0f}{x['p50_us']:>8.0f}{x['p99_us']:>8.0f}"
                  f"{c['json ref']['rps']:>11,.0f}{c['vs']['rps']:>16.2f}x"
                  f"{bench.pct(x['server_cpu']):>9}   {what}, {100 * c['hit_rate']:.0f}% hits\n")

    def report_memory(self, w):
        w("\nMEMORY  consentd's /proc/PID/status after the checks\n")
        w(f"  {'records':>11}{'VmRSS MiB':>11}{'VmHWM MiB':>11}{'cache entries':>15}\n")
        for r in self.rows:
            w(f"  {r['n']:>11,}{r['mem']['VmRSS']:>11.1f}{r['mem']['VmHWM']:>11.1f}"
              f"{r['cache']['entries']:>15,}\n")

    def report_grants(self, w):
        w("\nDURABLE GRANTS  scope policy, a new subject each, closed-loop writers; vs fsync: "
          f"over a fsync loop ({bench.FSYNC_RECORD_BYTES}-byte\n  append + fsync per write) run "
          "in the ledger's directory right after each; fsyncs/s: the median of the three\n")
        groups = "".join(f"{str(n) + (' writers' if n > 1 else ' writer'):<29}"
                         for n in bench.GRANT_WRITERS)
        w(f"  {'':>11}  {groups}{'fsyncs/s':>10}{'per commit':>12}\n")
        cols = f"{'grants/s':>10}{'p50 us':>8}{'vs fsync':>10} "
        w(f"  {'records':>11}  " + cols * len(bench.GRANT_WRITERS) + f"{'':>10}{'(64)':>12}\n")
        for r in self.rows:
            g = dict(r["grants"])
            w(f"  {r['n']:>11,}  ")
            for n in bench.GRANT_WRITERS:
                rate = g[n]["fsync"]["writes_per_s"]
                w(f"{g[n]['rps']:>10,.0f}{g[n]['p50_us']:>8.0f}"
                  f"{g[n]['rps'] / rate if rate else 0.0:>9.1f}x ")
            rate = median([x["fsync"]["writes_per_s"] for x in g.values()])
            w(f"{rate:>10,.0f}{g[bench.GRANT_WRITERS[-1]]['per_commit']:>12.1f}\n")

    def target_values(self):
        large = self.rows[-1]
        c = large["checks"]
        return {
            "p50": c["closed1"].get("vs", {}).get("p50_us"),
            "p50recent": c["closed1recent"].get("vs", {}).get("p50_us"),
            "pipelinedrecent": c["pipelinedrecent"]["vs"]["rps"],
            "p50_64": c["closed64"].get("vs", {}).get("p50_us"),
            "p50_same": c["closed1same"].get("vs", {}).get("p50_us"),
            "startup": large["startup"]["cold_ready"],
            "hwm": large["mem"]["VmHWM"],
            "pipelined": c["pipelined"]["vs"]["rps"],
        }

    def report_targets(self, w):
        small, large = self.rows[0], self.rows[-1]
        got = self.target_values()
        units = {"p50": "x", "p50recent": "x", "startup": " s", "hwm": " MiB",
                 "pipelined": "x", "pipelinedrecent": "x"}
        w(f"\nTARGETS  at the largest ledger ({size_name(large['n'])} records); p50 against the "
          f"smallest ({size_name(small['n'])}), in alternate rounds\n")
        for key, text, want, lower in TARGETS:
            value = got[key]
            if value is None:
                w(f"  {text:<64}{'n/a':>14}   (one size only)\n")
                continue
            met = value <= want if lower else value >= want
            w(f"  {text:<64}{f'{value:.2f}{units[key]}':>14}   {'met' if met else 'NOT MET'}\n")
        if got["p50_64"] is not None:
            w(f"  {'  the same on 64 conns, for comparison':<64}{got['p50_64']:>13.2f}x\n")
            label = "  the same on 1 conn, loadgen on the daemon's CPU"
            w(f"  {label:<64}{got['p50_same']:>13.2f}x\n")
            p50 = [r["checks"]["closed1"]["consentd"]["p50_us"] for r in (small, large)]
            w(f"  {'  p50 on 1 conn in the size runs themselves, minutes apart':<64}"
              f"{p50[1] / p50[0] if p50[0] else 0.0:>13.2f}x   ({p50[1]:.0f} us / "
              f"{p50[0]:.0f} us)\n")
        w(f"  {'  warm start-up to READY at the largest':<64}"
          f"{large['startup']['warm_ready']:>12.2f} s\n")

    def report_warnings(self, w):
        for r in self.rows:
            runs = [(f"check, {key}", x) for key, c in r["checks"].items()
                    for name, x in c.items() if isinstance(x, dict)]
            runs += [(f"grants, {n} writers", x) for n, x in r["grants"]]
            for what, x in runs:
                if x.get("errors"):
                    w(f"\nwarning: {size_name(r['n'])}, {what}: {x['errors']} replies were "
                      f"not as expected, e.g. {x['first_error']}\n")
                if x.get("owed_after_drain"):
                    w(f"\nwarning: {size_name(r['n'])}, {what}: {x['owed_after_drain']} "
                      "replies never came\n")


def ms(seconds):
    return f"{1000 * seconds:.0f} ms"


def parse_args():
    ap = argparse.ArgumentParser(
        description="consentd's ledger-scale benchmark: start-up, checks, memory and durable "
        "grants on ledgers of growing size, beside the json ref and the fsync rate.")
    ap.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES),
                    help=f"ledger sizes in records, comma-separated (default {DEFAULT_SIZES})")
    ap.add_argument("--regen", action="store_true",
                    help="write the ledgers again even where a cached one matches")
    ap.add_argument("--ledgers", help="where ledgers are cached (default BUILD/bench/ledgers)")
    ap.add_argument("--duration", type=float, default=2.0, help="seconds measured per run (2)")
    ap.add_argument("--warmup", type=float, default=0.5, help="seconds before measuring (0.5)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds of each check scenario, median reported (3)")
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"),
                    help="the build directory (default build)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return ap.parse_args()


def main():
    args = parse_args()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, bench.on_signal)
    s = Scale(args)
    rc = 0
    try:
        s.run()
    except KeyboardInterrupt:
        print("\nscale: interrupted; stopping", file=sys.stderr)
        rc = 130
    except Stop as e:
        print(f"\nscale: {e}; stopping", file=sys.stderr)
        rc = 143
    except Crash as e:
        print(f"\nscale: {e}", file=sys.stderr)
        rc = 1
    except (OSError, sqlite3.Error) as e:
        # A daemon that stops answering (a socket timeout), a disk that fills up...
        print(f"\nscale: {type(e).__name__}: {e}", file=sys.stderr)
        rc = 1
    finally:
        # A second Ctrl-C must not leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        s.stop_all()
        s.notify_done.set()
        if s.notify:
            s.notify.close()
        if s.tmp and not args.keep:
            shutil.rmtree(s.tmp, ignore_errors=True)
        elif s.tmp:
            print(f"scale: kept {s.tmp}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
