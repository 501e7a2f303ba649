#!/usr/bin/python3
"""consentd's benchmark: throughput and latency beside reference servers, in one run.

`make bench` builds the C helpers of tests/bench into $(BUILD)/bench and runs this. It starts,
in a fresh temporary directory:

  consentd      build/consentd --foreground on a private socket and state directory, with the
                bundled policies (config/policies)
  echo ref      refserver --mode echo: answers each line with a fixed line as long as a check
                reply (in fact consentd's own reply), the transport's ceiling
  json ref      refserver --mode json: json_loadb of each line, json_dumps of a small reply
                object shaped like a check reply, the JSON library's cost

and drives them with loadgen (C, epoll): a warm `check` (mipay, a subject that accepted the
policy, mipay.real_name_account / id_number: allow) in closed loop over 1, 8 and 64
connections, then 64 requests in flight on one connection; then durable `grant`s (a new
subject each, scope policy: every one a ledger write) from 1, 8 and 64 closed-loop writers,
each beside fsyncloop (append ~200 bytes + fsync, on the state directory's file system).

It prints the figures, the ratios and the targets (met / not met); it never asserts a timing
and exits 0 unless something crashed. Every process it started is stopped and the temporary
directory removed, also on Ctrl-C, SIGTERM or error.

Check scenarios run in interleaved rounds (consentd, echo ref, json ref, then again) and report
medians, since this kind of machine is noisy; the fsync loop runs right after each grant row.

Options: --duration S (2), --warmup S (0.5), --rounds N (3), --build DIR (build),
--keep (keep the temp dir).
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
POLICIES = os.path.join(ROOT, "config", "policies")

CHECK = {"op": "check", "id": 1, "product": "mipay", "subject": "bench-warm",
         "feature": "mipay.real_name_account", "field": "id_number"}
CHECK_SCENARIOS = [  # label, connections, requests in flight per connection
    ("closed loop, 1 conn", 1, 1),
    ("closed loop, 8 conns", 8, 1),
    ("closed loop, 64 conns", 64, 1),
    ("pipelined, 64 in flight on 1 conn", 1, 64),
]
GRANT_WRITERS = [1, 8, 64]
FSYNC_RECORD_BYTES = 200

TARGETS = [  # key, text, wanted ratio
    ("pipelined", "pipelined check >= 1.0x the json ref", 1.0),
    ("closed64", "closed loop, 64 conns >= 0.9x the echo ref", 0.9),
    ("grants64", "durable grants, 64 writers >= 20x the fsync rate", 20.0),
]


class Stop(Exception):
    """SIGTERM or SIGHUP: clean up and leave."""


class Crash(Exception):
    """Something the bench started failed: clean up, say what, exit 1."""


def on_signal(signum, frame):
    raise Stop(signal.Signals(signum).name)


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.join(ROOT, args.build) if not os.path.isabs(args.build) \
            else args.build
        self.bin = os.path.join(self.build, "bench")
        self.tmp = None
        self.procs = []      # (name, Popen), in start order
        self.logs = {}
        self.notes = []

    # ----- processes -----

    def start(self, name, argv, sock):
        log = open(os.path.join(self.tmp, name.replace(" ", "-") + ".log"), "w+")
        self.logs[name] = log
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append((name, p))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise Crash(f"{name} exited with {p.returncode} at start:\n{self.output(name)}")
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(sock)
                return p
            except OSError:
                time.sleep(0.02)
        raise Crash(f"{name} did not listen on {sock} within 30 s")

    def output(self, name):
        log = self.logs[name]
        log.flush()
        log.seek(0)
        return log.read()[-4000:]

    def alive(self):
        for name, p in self.procs:
            if p.poll() is not None:
                raise Crash(f"{name} died (exit {p.returncode}):\n{self.output(name)}")

    def stop_all(self):
        for name, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        for log in self.logs.values():
            log.close()

    def run_tool(self, argv, timeout):
        """Run a helper to completion (tracked, so that Ctrl-C stops it too); its stdout JSON."""
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append((os.path.basename(argv[0]), p))
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            raise Crash(f"{os.path.basename(argv[0])} did not finish within {timeout} s")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            self.procs = [(n, q) for n, q in self.procs if q is not p]
        try:
            res = json.loads(out)
        except ValueError:
            res = None
        if p.returncode != 0 or res is None:
            raise Crash(f"{' '.join(argv[:1])} failed (exit {p.returncode}): "
                        f"{(res or {}).get('fatal') or err.decode(errors='replace').strip()}")
        return res

    # ----- talking to consentd -----

    def call(self, msg):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(self.consentd_sock)
            s.sendall(json.dumps(msg).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    raise Crash(f"consentd closed the connection on {msg['op']}")
                buf += chunk
        return buf[:-1]

    def stats(self):
        return json.loads(self.call({"op": "stats", "id": "bench"}))

    # ----- set-up -----

    def check_config(self):
        consentd = os.path.join(self.build, "consentd")
        r = subprocess.run([consentd, "--check-config", "--policy-dir", POLICIES],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Crash("consentd refuses the bundled configuration:\n" + r.stderr)

    def fs_of(self, path):
        st = os.stat(path)
        dev = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
        try:
            with open("/proc/self/mountinfo") as f:
                for line in f:
                    parts = line.split()
                    if parts[2] == dev:
                        sep = parts.index("-")
                        return f"{parts[sep + 1]} on {parts[sep + 2]} (mount {parts[4]})"
        except OSError:
            pass
        return f"device {dev}"

    # ----- the run -----

    def loadgen(self, sock, pid, request, conns, depth, expect, extra=()):
        """One loadgen run; extra: more loadgen options (scale.py's --range)."""
        a = self.args
        return self.run_tool(
            [os.path.join(self.bin, "loadgen"), "--socket", sock, "--request", request,
             "--conns", str(conns), "--depth", str(depth), "--duration", str(a.duration),
             "--warmup", str(a.warmup), "--drain", "10", "--expect", expect,
             "--server-pid", str(pid), *extra],
            timeout=a.warmup + a.duration + 60)

    def grant_rows(self, pid, state):
        """Durable grants from GRANT_WRITERS closed-loop writers, each beside fsyncloop in state."""
        a = self.args
        grants = []
        for n in GRANT_WRITERS:
            print(f"  grant, {n} writer{'s' if n > 1 else ''}", flush=True)
            s0 = self.stats()["ledger"]
            req = json.dumps({"op": "grant", "id": 1, "product": "mipay",
                              "subject": f"bench-w{n}-%N", "scope": "policy",
                              "source": "bench"}, separators=(",", ":"))
            res = self.loadgen(self.consentd_sock, pid, req, n, 1, '"ok":true')
            self.alive()
            s1 = self.stats()["ledger"]
            commits = s1["commits"] - s0["commits"]
            res["per_commit"] = (s1["batched_writes"] - s0["batched_writes"]) / commits \
                if commits else 0.0
            # The disk's fsync rate drifts by minutes: measure it right beside each run.
            print("  fsync loop", flush=True)
            res["fsync"] = self.run_tool([os.path.join(self.bin, "fsyncloop"),
                                          os.path.join(state, "fsyncloop.dat"),
                                          str(a.duration), str(FSYNC_RECORD_BYTES)],
                                         timeout=a.duration + 60)
            grants.append((n, res))
        return grants

    def run(self):
        a = self.args
        for b in ["loadgen", "refserver", "fsyncloop"]:
            if not os.access(os.path.join(self.bin, b), os.X_OK):
                raise Crash(f"{self.bin}/{b} is missing: run `make bench`")
        self.tmp = tempfile.mkdtemp(prefix="consentd-bench-")
        state = os.path.join(self.tmp, "state")
        self.consentd_sock = os.path.join(self.tmp, "consentd.sock")
        echo_sock = os.path.join(self.tmp, "echo.sock")
        json_sock = os.path.join(self.tmp, "json.sock")

        self.check_config()
        consentd = self.start("consentd", [
            os.path.join(self.build, "consentd"), "--foreground", "--socket",
            self.consentd_sock, "--state-dir", state, "--policy-dir", POLICIES],
            self.consentd_sock)

        # The warm subject: policy accepted, so the check is an allow read from the ledger.
        grant = json.loads(self.call({"op": "grant", "id": 1, "product": "mipay",
                                      "subject": "bench-warm", "scope": "policy",
                                      "source": "bench"}))
        if not grant.get("ok"):
            raise Crash(f"the set-up grant failed: {grant}")
        check_reply = self.call(CHECK)
        if json.loads(check_reply).get("decision") != "allow":
            raise Crash(f"the warm check is not an allow: {check_reply.decode()}")
        check_line = json.dumps(CHECK, separators=(",", ":"))

        echo = self.start("echo ref", [os.path.join(self.bin, "refserver"), "--mode", "echo",
                                       "--socket", echo_sock, "--reply",
                                       check_reply.decode()], echo_sock)
        jref = self.start("json ref", [os.path.join(self.bin, "refserver"), "--mode",
                                       "json", "--socket", json_sock], json_sock)
        servers = [("consentd", self.consentd_sock, consentd.pid),
                   ("echo ref", echo_sock, echo.pid), ("json ref", json_sock, jref.pid)]

        total = len(CHECK_SCENARIOS) * 3 * a.rounds + len(GRANT_WRITERS) * 2
        eta = total * (a.warmup + a.duration + 0.3)
        print(f"consentd bench: {total} runs of {a.warmup:g} s warm-up + {a.duration:g} s, "
              f"about {eta:.0f} s", flush=True)
        stats0 = self.stats()
        checks = []
        for label, conns, depth in CHECK_SCENARIOS:
            row = {"label": label, "conns": conns, "depth": depth}
            runs = {name: [] for name, _, _ in servers}
            # Interleaved rounds: a noisy minute hits consentd and its references alike.
            for rnd in range(a.rounds):
                for name, sock, pid in servers:
                    print(f"  check, {label}: {name} ({rnd + 1}/{a.rounds})", flush=True)
                    runs[name].append(self.loadgen(sock, pid, check_line, conns, depth,
                                                   '"decision":"allow"'))
                    self.alive()
            for name in runs:
                row[name] = median_run(runs[name])
            row["vs"] = {ref: median([c["rps"] / r["rps"] if r["rps"] else 0.0 for c, r in
                                      zip(runs["consentd"], runs[ref])])
                         for ref in ("echo ref", "json ref")}
            checks.append(row)
        stats1 = self.stats()

        grants = self.grant_rows(consentd.pid, state)
        fs = self.fs_of(state)
        self.alive()
        self.report(checks, grants, fs, stats0, stats1)

    # ----- the table -----

    def report(self, checks, grants, fs, stats0, stats1):
        a = self.args
        w = sys.stdout.write
        cpus = os.cpu_count()
        try:
            load = "%.2f %.2f %.2f" % os.getloadavg()
        except OSError:
            load = "?"
        w("\n")
        w(f"consentd bench  ({cpus} CPUs, load {load}; {a.duration:g} s measured after "
          f"{a.warmup:g} s warm-up per run; AF_UNIX stream sockets)\n")
        w(f"checks: the median of {a.rounds} interleaved rounds; a ratio is the median of "
          "the rounds' ratios\n")
        w("\nCHECK  mipay / bench-warm / mipay.real_name_account / id_number -> allow\n")
        hdr = (f"  {'':<10}{'req/s':>11}{'p50 us':>10}{'p99 us':>10}{'srv CPU':>9}"
               f"{'cli CPU':>9}   {'consentd / this':>15}\n")
        warnings = []
        ratio = {}
        for row in checks:
            w(f"\n  {row['label']}\n")
            w(hdr)
            cd = row["consentd"]
            for name in ["consentd", "echo ref", "json ref"]:
                r = row[name]
                rel = ""
                if name != "consentd":
                    rel = f"{row['vs'][name]:.2f}x"
                w(f"  {name:<10}{r['rps']:>11,.0f}{r['p50_us']:>10.0f}{r['p99_us']:>10.0f}"
                  f"{pct(r['server_cpu']):>9}{pct(r['client_cpu']):>9}   {rel:>15}\n")
                if r["errors"]:
                    warnings.append(f"{name}, {row['label']}: {r['errors']} replies were not "
                                    f"an allow, e.g. {r['first_error']}")
                if r["owed_after_drain"]:
                    warnings.append(f"{name}, {row['label']}: {r['owed_after_drain']} "
                                    "replies never came")
            key = "pipelined" if row["depth"] > 1 else f"closed{row['conns']}"
            ratio[key] = row["vs"]

        lat0, lat1 = stats0.get("latency_us", {}), stats1.get("latency_us", {})
        w(f"\n  consentd's own handling time of check (stats, power-of-two buckets): "
          f"p50 <= {lat1.get('p50', '?')} us, p99 <= {lat1.get('p99', '?')} us\n")

        w(f"\nDURABLE GRANTS  scope policy, a new subject each; state dir on {fs}\n")
        w(f"  fsync loop: a {FSYNC_RECORD_BYTES}-byte append + fsync per write, run right "
          "after each row\n")
        w(f"  {'writers':<10}{'grants/s':>11}{'p50 us':>10}{'p99 us':>10}{'srv CPU':>9}"
          f"{'per commit':>12}{'fsyncs/s':>10}   {'vs fsync loop':>13}\n")
        for n, r in grants:
            rate = r["fsync"]["writes_per_s"]
            r["vs_fsync"] = r["rps"] / rate if rate else 0.0
            w(f"  {n:<10}{r['rps']:>11,.0f}{r['p50_us']:>10.0f}{r['p99_us']:>10.0f}"
              f"{pct(r['server_cpu']):>9}{r['per_commit']:>12.1f}{rate:>10,.0f}   "
              f"{r['vs_fsync']:>12.1f}x\n")
            if r["errors"]:
                warnings.append(f"grants, {n} writers: {r['errors']} replies were not ok, "
                                f"e.g. {r['first_error']}")
            if r["owed_after_drain"]:
                warnings.append(f"grants, {n} writers: {r['owed_after_drain']} replies "
                                "never came")
        g64 = dict(grants).get(64)
        echo64 = next((row["echo ref"]["rps"] for row in checks
                       if row["conns"] == 64 and row["depth"] == 1), None)
        if g64 and echo64:
            # A closed-loop writer cannot go faster than a server that only answers.
            want = 20 * g64["fsync"]["writes_per_s"]
            w(f"  the ceiling: 20x the fsync loop at 64 writers is {want:,.0f} grants/s; the "
              f"echo ref answers {echo64:,.0f} req/s on 64 connections ({want / echo64:.2f}x "
              "of it)\n")

        w("\nTARGETS\n")
        got = {
            "pipelined": ratio["pipelined"]["json ref"],
            "closed64": ratio["closed64"]["echo ref"],
            "grants64": dict(grants).get(64, {}).get("vs_fsync", 0.0),
        }
        for key, text, want in TARGETS:
            met = got[key] >= want
            w(f"  {text:<52}{got[key]:>8.2f}x   {'met' if met else 'NOT MET'}\n")
        for n in self.notes:
            w(f"\nnote: {n}\n")
        for m in warnings:
            w(f"\nwarning: {m}\n")
        sys.stdout.flush()


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] + xs[(n - 1) // 2]) / 2 if n else 0.0


def median_run(runs):
    """The run whose throughput is the median (the lower middle one for an even count)."""
    return sorted(runs, key=lambda r: r["rps"])[(len(runs) - 1) // 2]


def pct(x):
    return "-" if x is None else f"{100 * x:.0f}%"


def main():
    ap = argparse.ArgumentParser(description="consentd's benchmark")
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds of each check scenario (median reported)")
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--build", default=os.environ.get("BUILD", "build"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    b = Bench(args)
    rc = 0
    try:
        b.run()
    except KeyboardInterrupt:
        print("\nbench: interrupted; stopping", file=sys.stderr)
        rc = 130
    except Stop as e:
        print(f"\nbench: {e}; stopping", file=sys.stderr)
        rc = 143
    except Crash as e:
        print(f"\nbench: {e}", file=sys.stderr)
        rc = 1
    finally:
        # A second Ctrl-C must not leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        b.stop_all()
        if b.tmp and not args.keep:
            shutil.rmtree(b.tmp, ignore_errors=True)
        elif b.tmp:
            print(f"bench: kept {b.tmp}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
