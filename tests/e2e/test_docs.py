"""The example exchanges of proto/PROTOCOL.md are what this build of consentd answers."""
import os
import subprocess
import sys

from conftest import BUILD, ROOT


def test_protocol_examples_match_the_daemon():
    run = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen-protocol"),
                          "--check", "--build", BUILD], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr + \
        "\nrun scripts/gen-protocol to refresh the examples"
