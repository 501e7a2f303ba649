"""A real systemctl run: scripts/nspawn-test boots a minimal Debian 12 under systemd-nspawn,
installs consentd there with make install, and drives it with systemctl, consentctl and
journalctl (socket activation, reload, the journal, stop, poweroff), leaving nothing on the host.

Once, against the plain build: make install installs CONSENTD_BUILD's binaries, and the
container has no sanitizer runtime for build/asan's. The first run debootstraps the tree it caches
(a minute or more); later runs take seconds.
"""
import os
import signal
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT

SCRIPT = os.path.join(ROOT, "scripts", "nspawn-test")
SKIP = 77
TIMEOUT = 1800      # seconds: a cold run debootstraps from the mirror


def tell(capsys, text):
    """Print past pytest's capture: -q shows neither skip reasons nor a passing test's output."""
    with capsys.disabled():
        sys.stdout.write("\n" + text.rstrip("\n") + "\n")
        sys.stdout.flush()


def test_systemctl_run_in_a_booted_container(capsys):
    if "asan" in os.path.relpath(BUILD, ROOT).split(os.sep):
        why = ("nspawn-test: skipped under the ASan build: the systemctl run installs the plain "
               "build only (the container has no sanitizer runtime)")
        tell(capsys, why)
        pytest.skip(why)
    p = subprocess.Popen([sys.executable, SCRIPT, "--build", BUILD], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         errors="replace")
    try:
        out, _ = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        # SIGTERM: the script powers the container off and cleans up before it exits.
        p.send_signal(signal.SIGTERM)
        try:
            out, _ = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        pytest.fail(f"scripts/nspawn-test took over {TIMEOUT} s:\n{out}", pytrace=False)
    last = out.rstrip("\n").split("\n")[-1]
    if p.returncode == SKIP:
        tell(capsys, last)
        pytest.skip(last)
    if p.returncode != 0:
        pytest.fail(f"scripts/nspawn-test exited {p.returncode}:\n{out}", pytrace=False)
    tell(capsys, last)
