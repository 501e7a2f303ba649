"""The policy tables match the seed texts they encode, and every rule-bearing paragraph of those
texts is cited, exempt with a reason, or a listed gap."""
import os
import subprocess
import sys

from conftest import ROOT


def run(script, *args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "scripts", script), *args],
                          capture_output=True, text=True, timeout=60)


def test_citations_match_the_seed_texts():
    r = run("check-citations")
    assert r.returncode == 0, r.stdout + r.stderr


def test_coverage_maps_are_complete_and_current():
    r = run("gen-coverage", "--check")
    assert r.returncode == 0, r.stdout + r.stderr + \
        "\nrun scripts/gen-coverage, and cite, exempt or list each paragraph it names"
