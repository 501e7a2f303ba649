"""make install and make uninstall into a staging DESTDIR; the man pages and the journal catalog.

make install builds nothing: it copies what BUILD (this run's CONSENTD_BUILD) already holds, so
these tests never race the build that make test ran before them.
"""
import filecmp
import os
import re
import subprocess

import pytest

from conftest import BUILD, ROOT

MAN_PAGES = {"consentctl.1": "man1", "consentd.conf.5": "man5", "consentd-policy.5": "man5",
             "consentd.8": "man8"}
CONF = "etc/consentd/consentd.conf"


def make(*args, timeout=120):
    """make in the source tree, with none of an outer make's flags or a caller's paths."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PREFIX",
                        "DESTDIR", "SYSCONFDIR", "INSTALL")}
    run = subprocess.run(["make", "-s", "-C", ROOT, f"BUILD={BUILD}", *args], env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, f"make {' '.join(args)}:\n{run.stdout}{run.stderr}"
    return run


def installed_files(dest):
    """Every file under dest, as a path relative to it."""
    found = set()
    for top, _dirs, files in os.walk(dest):
        for f in files:
            found.add(os.path.relpath(os.path.join(top, f), dest))
    return found


def expected_files():
    """What make install must put, relative to DESTDIR: {path: (source, mode)}."""
    want = {
        "usr/sbin/consentd": (os.path.join(BUILD, "consentd"), 0o755),
        "usr/bin/consentctl": (os.path.join(BUILD, "consentctl"), 0o755),
        "usr/share/consentd/registry.json": ("config/registry.json", 0o644),
        "usr/share/consentd/necessary-pi.json": ("config/necessary-pi.json", 0o644),
        CONF: ("config/consentd.conf", 0o644),
        "usr/lib/systemd/catalog/consentd.catalog": ("scripts/consentd.catalog", 0o644),
    }
    for name in sorted(os.listdir(os.path.join(ROOT, "config", "policies"))):
        if name.endswith(".json"):
            want[f"usr/share/consentd/policies/{name}"] = (f"config/policies/{name}", 0o644)
    for page, section in MAN_PAGES.items():
        want[f"usr/share/man/{section}/{page}"] = (f"daemon/man/{page}", 0o644)
    # Installed when scripts/ has them.
    optional = {"usr/lib/systemd/system/consentd.socket": "scripts/consentd.socket",
                "usr/lib/systemd/system/consentd.service": "scripts/consentd.service",
                "usr/lib/sysusers.d/consentd.conf": "scripts/consentd.sysusers",
                "usr/lib/tmpfiles.d/consentd.conf": "scripts/consentd.tmpfiles"}
    for path, source in optional.items():
        if os.path.exists(os.path.join(ROOT, source)):
            want[path] = (source, 0o644)
    return want


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    dest = str(tmp_path_factory.mktemp("stage"))
    make("install", f"DESTDIR={dest}")
    return dest


def test_install_puts_every_file_with_its_mode(staged):
    want = expected_files()
    assert installed_files(staged) == set(want)
    for path, (source, mode) in want.items():
        st = os.stat(os.path.join(staged, path))
        assert st.st_mode & 0o7777 == mode, f"{path}: mode {st.st_mode & 0o7777:o}"
        assert filecmp.cmp(os.path.join(ROOT, source), os.path.join(staged, path),
                           shallow=False), f"{path} differs from {source}"


def test_installed_daemon_finds_its_registry_beside_the_tables(staged):
    # Without --registry: registry.json in the policy directory's parent, where install put it.
    run = subprocess.run([os.path.join(staged, "usr/sbin/consentd"), "--check-config",
                          "--config", os.path.join(staged, CONF),
                          "--policy-dir", os.path.join(staged, "usr/share/consentd/policies")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.startswith("configuration OK")


def test_dry_run_writes_nothing(tmp_path):
    dest = tmp_path / "stage"
    run = make("-n", "install", f"DESTDIR={dest}")
    assert "consentd.catalog" in run.stdout
    assert not dest.exists()


def test_install_never_overwrites_an_operators_config(tmp_path):
    dest = str(tmp_path)
    conf = os.path.join(dest, CONF)
    os.makedirs(os.path.dirname(conf))
    with open(conf, "w") as f:
        f.write("reader uid=4242\n")
    os.chmod(conf, 0o600)
    run = make("install", f"DESTDIR={dest}")
    assert "keeping" in run.stdout
    with open(conf) as f:
        assert f.read() == "reader uid=4242\n"
    assert os.stat(conf).st_mode & 0o7777 == 0o600


def test_uninstall_leaves_only_the_config(tmp_path):
    dest = str(tmp_path)
    make("install", f"DESTDIR={dest}")
    make("uninstall", f"DESTDIR={dest}")
    assert installed_files(dest) == {CONF}
    assert not os.path.exists(os.path.join(dest, "usr/share/consentd"))
    # Again, with nothing left to remove.
    make("uninstall", f"DESTDIR={dest}")
    assert installed_files(dest) == {CONF}


@pytest.mark.parametrize("page", sorted(MAN_PAGES))
def test_man_page_is_clean(staged, page):
    path = os.path.join(staged, "usr/share/man", MAN_PAGES[page], page)
    run = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", path],
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, MANWIDTH="80"))
    assert run.returncode == 0 and run.stderr == "", run.stderr
    assert len(run.stdout.splitlines()) > 20
    run = subprocess.run(["groff", "-ww", "-z", "-man", path], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0 and run.stderr == "", run.stderr


def help_text(binary, *words):
    run = subprocess.run([os.path.join(BUILD, binary), *words, "--help"], capture_output=True,
                         text=True, timeout=30)
    assert run.returncode == 0, run.stderr
    return run.stdout


def page_tags(page):
    """The first word of each .TP tag of a man page: the options, commands or directives it
    describes."""
    with open(os.path.join(ROOT, "daemon", "man", page)) as f:
        lines = f.read().replace("\\-", "-").splitlines()
    tags = set()
    for prev, line in zip(lines, lines[1:]):
        if prev == ".TP":
            words = re.sub(r"^\.(B|BI|BR|I|IR)\s+", "", line).replace("\\fB", "").split()
            if words:
                tags.add(words[0].strip('"').split("\\")[0])
    return tags


def test_consentd_page_names_every_option():
    options = set(re.findall(r"^\s+(--[a-z-]+)", help_text("consentd"), re.M))
    assert "--policy-dir" in options
    missing = sorted(options - page_tags("consentd.8"))
    assert not missing, f"consentd --help lists {missing}; document them in daemon/man/consentd.8"


def test_consentctl_page_names_every_command_and_option():
    text = help_text("consentctl")
    commands = set(re.findall(r"^  ([a-z][a-z-]*)", text, re.M))
    assert {"check", "grant", "history"} <= commands
    # Each command's own --help lists its options; policy's, its sub-words.
    for c in commands:
        text += help_text("consentctl", c)
    subs = set(re.findall(r"^  (?:consentctl )?(policy [a-z]+)", text, re.M))
    options = set(re.findall(r"(--[a-z][a-z-]*)", text))
    with open(os.path.join(ROOT, "daemon", "man", "consentctl.1")) as f:
        page = re.sub(r"\\f[BIRP]|\"", "", f.read().replace("\\-", "-"))
    named = page_tags("consentctl.1") | set(re.findall(r"^\.B (\S+)$", page, re.M))
    missing = sorted(commands - named)
    missing += sorted(w for w in subs | options if w not in page)
    assert not missing, \
        f"consentctl --help lists {missing}; document them in daemon/man/consentctl.1"


def test_consentd_conf_page_names_every_directive():
    with open(os.path.join(ROOT, "daemon", "config.c")) as f:
        directives = set(re.findall(r'strcmp\(words\[0\], "([a-z-]+)"\)', f.read()))
    assert {"socket", "admin", "app"} <= directives
    tags = page_tags("consentd.conf.5")
    missing = sorted(d for d in directives if d not in tags)
    assert not missing, f"config.c reads {missing}; document them in daemon/man/consentd.conf.5"


def test_catalog_lists_every_message_id(tmp_path):
    # journalctl --root reads the catalog where install put it, under the staged /usr/lib.
    dest = str(tmp_path)
    make("install", f"DESTDIR={dest}")
    run = subprocess.run(["journalctl", "--root", dest, "--update-catalog"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == "", run.stderr
    run = subprocess.run(["journalctl", "--root", dest, "--list-catalog"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    listed = dict(line.split(" ", 1) for line in run.stdout.splitlines() if line)
    with open(os.path.join(ROOT, "daemon", "log.h")) as f:
        ids = dict(re.findall(r'#define (MSGID_[A-Z_]+)\s+"([0-9a-f]{32})"', f.read()))
    assert len(ids) >= 9
    missing = {name: i for name, i in ids.items() if i not in listed}
    assert not missing, f"daemon/log.h ids not in scripts/consentd.catalog: {missing}"
    assert set(listed) == set(ids.values())
    for i in ids.values():
        assert listed[i].startswith("consentd: "), listed[i]
        run = subprocess.run(["journalctl", "--root", dest, "--dump-catalog", i],
                             capture_output=True, text=True, timeout=60)
        assert "Documentation: man:consentd(8)" in run.stdout, run.stdout
