# consentd: a consent and permission enforcement daemon.
#
#   make            build build/consentd and build/consentctl
#   make run        install missing Debian packages, build, serve ./var/consentd.sock
#   make test       install missing packages, build, run every test (also under ASan+UBSan)
#   make bench      throughput and latency figures beside reference servers, then as the
#                   ledger grows (1k, 1M, 10M records); make bench-scale: only the latter
#   make check-config  validate the bundled policy tables

CC       ?= cc
CFLAGS   ?= -O2 -g
# What the build needs whatever CFLAGS a caller passes (the sanitizer build passes its own).
WFLAGS    = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wno-missing-field-initializers -Iproto -Idaemon
ALL_CFLAGS = $(CFLAGS) $(WFLAGS)
PKGS      = libevent jansson sqlite3 libsystemd libcrypto
LIBS      = $(shell pkg-config --libs $(PKGS)) -lpthread
PKGCFLAGS = $(shell pkg-config --cflags $(PKGS))
PYTHON   ?= /usr/bin/python3

BUILD    ?= build
# The sanitizer build lives beside the plain one and runs the same tests.
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

PROTO_SRC  = proto/proto.c
CORE_SRC   = daemon/policy.c daemon/policy-diff.c daemon/decide.c daemon/lint.c
DAEMON_SRC = daemon/main.c daemon/server.c daemon/cache.c daemon/client.c daemon/ops.c daemon/op-check.c \
             daemon/op-consent.c daemon/op-ledger.c daemon/op-server.c daemon/config.c \
             daemon/ledger.c daemon/ledger-read.c daemon/ledger-purge.c daemon/chain.c \
             daemon/retention.c daemon/clock.c daemon/log.c $(CORE_SRC) $(PROTO_SRC)
CTL_SRC    = daemon/ctl/consentctl.c daemon/ctl/args.c daemon/ctl/conn.c daemon/ctl/table.c \
             daemon/ctl/print.c daemon/ctl/print-policy.c $(PROTO_SRC)
UNIT_SRC   = tests/unit/test_policy.c tests/unit/test_decide.c tests/unit/test_proto.c \
             tests/unit/test_cache.c tests/unit/test_chain.c

HEADERS    = $(wildcard daemon/*.h daemon/ctl/*.h proto/*.h tests/unit/*.h)

.PHONY: all run test unit e2e asan bench bench-tools bench-scale check-config deps clean
# Keep the unit tests' objects: make would delete them as intermediates after the summary line.
.SECONDARY:

all: $(BUILD)/consentd $(BUILD)/consentctl

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKGCFLAGS) -c -o $@ $<

$(BUILD)/consentd: $(DAEMON_SRC:%.c=$(BUILD)/%.o)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

# The same daemon with a clock the tests can move (clock.h); never installed or run in service.
$(BUILD)/daemon/clock-test.o: daemon/clock.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKGCFLAGS) -DCONSENTD_TEST_CLOCK -c -o $@ $<

$(BUILD)/consentd-testclock: $(filter-out $(BUILD)/daemon/clock.o,$(DAEMON_SRC:%.c=$(BUILD)/%.o)) \
    $(BUILD)/daemon/clock-test.o
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/consentctl: $(CTL_SRC:%.c=$(BUILD)/%.o)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(shell pkg-config --libs jansson)

# One cmocka binary per test file, each linked with the pure modules it tests.
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(CORE_SRC:%.c=$(BUILD)/%.o) $(PROTO_SRC:%.c=$(BUILD)/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LIBS) -lcmocka

UNIT_BINS = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

# The cache is tested in front of a real ledger.
LEDGER_OBJS = $(addprefix $(BUILD)/daemon/,ledger.o ledger-read.o ledger-purge.o chain.o clock.o log.o)
$(BUILD)/tests/test_cache: $(BUILD)/daemon/cache.o $(LEDGER_OBJS)
$(BUILD)/tests/test_chain: $(BUILD)/daemon/chain.o

deps:
	@scripts/install-deps

run: deps all
	@mkdir -p var
	$(BUILD)/consentd --foreground --config config/consentd.conf \
	    --socket var/consentd.sock --state-dir var --policy-dir config/policies

check-config: all
	$(BUILD)/consentd --check-config --policy-dir config/policies

unit: $(UNIT_BINS)
	@scripts/run-unit $(UNIT_BINS)

e2e: all
	$(PYTHON) -m pytest -q tests/e2e

# The same tests against binaries built with AddressSanitizer and UBSan.
asan:
	$(MAKE) BUILD=build/asan CFLAGS="$(SAN_FLAGS)" all build/asan/consentd-testclock \
	    $(UNIT_BINS:build/%=build/asan/%)

test: deps all $(BUILD)/consentd-testclock $(UNIT_BINS) asan
	@CONSENTD_BUILD=$(BUILD) scripts/run-tests

# The bench's C helpers; mkledger hashes records with the daemon's own chain.o.
bench-tools: deps all
	@mkdir -p $(BUILD)/bench
	for t in loadgen refserver fsyncloop; do \
	    $(CC) $(ALL_CFLAGS) $(PKGCFLAGS) -o $(BUILD)/bench/$$t tests/bench/$$t.c $(LIBS) || exit 1; \
	done
	$(CC) $(ALL_CFLAGS) $(PKGCFLAGS) -o $(BUILD)/bench/mkledger tests/bench/mkledger.c \
	    $(BUILD)/daemon/chain.o $(LIBS)

# SCALE_ARGS: options of scale.py, e.g. SCALE_ARGS="--sizes 1000,100000" for a quick run.
bench: bench-tools
	$(PYTHON) tests/bench/bench.py --build $(BUILD)
	$(PYTHON) tests/bench/scale.py --build $(BUILD) $(SCALE_ARGS)

# Only the ledger-scale part: ledgers of 1k, 1M and 10M records (cached in $(BUILD)/bench/ledgers).
bench-scale: bench-tools
	$(PYTHON) tests/bench/scale.py --build $(BUILD) $(SCALE_ARGS)

clean:
	rm -rf build

# Regenerate config/coverage/<seed>.md, the map of which seed paragraphs the tables cite.
.PHONY: coverage
coverage:
	$(PYTHON) scripts/gen-coverage

# make install [PREFIX=/usr] [DESTDIR=...]: consentd, consentctl, the tables, the systemd units,
# sysusers.d and tmpfiles.d entries, the journal catalog and the man pages. It builds nothing (run
# `make` first): it installs what $(BUILD) holds, so an install never races a build. The paths
# compiled into consentd (DEFAULT_* in daemon/main.c) and the units' ExecStart are PREFIX=/usr's.
# The config goes to /etc/consentd only if none is there. make uninstall removes what install put
# but leaves /etc/consentd/consentd.conf and the state directory /var/lib/consentd.
PREFIX      ?= /usr
SYSCONFDIR  ?= /etc
BINDIR       = $(PREFIX)/bin
SBINDIR      = $(PREFIX)/sbin
DATADIR      = $(PREFIX)/share/consentd
MANDIR       = $(PREFIX)/share/man
UNITDIR      = $(PREFIX)/lib/systemd/system
SYSUSERSDIR  = $(PREFIX)/lib/sysusers.d
TMPFILESDIR  = $(PREFIX)/lib/tmpfiles.d
CATALOGDIR   = $(PREFIX)/lib/systemd/catalog
INSTALL     ?= install

POLICY_FILES = $(notdir $(wildcard config/policies/*.json))
# Each installed when present in scripts/.
UNIT_FILES   = $(notdir $(wildcard scripts/consentd.socket scripts/consentd.service))
SYSUSERS_SRC = $(wildcard scripts/consentd.sysusers)
TMPFILES_SRC = $(wildcard scripts/consentd.tmpfiles)
CONF_DEST    = $(DESTDIR)$(SYSCONFDIR)/consentd/consentd.conf

.PHONY: install uninstall
install:
	@for f in $(BUILD)/consentd $(BUILD)/consentctl; do \
	    [ -x $$f ] || { echo "make install: no $$f; run make first" >&2; exit 1; }; \
	done
	$(INSTALL) -D -m 0755 $(BUILD)/consentd $(DESTDIR)$(SBINDIR)/consentd
	$(INSTALL) -D -m 0755 $(BUILD)/consentctl $(DESTDIR)$(BINDIR)/consentctl
	$(INSTALL) -D -m 0644 -t $(DESTDIR)$(DATADIR)/policies $(addprefix config/policies/,$(POLICY_FILES))
	$(INSTALL) -D -m 0644 -t $(DESTDIR)$(DATADIR) config/registry.json config/necessary-pi.json
	@if [ -e $(CONF_DEST) ] || [ -L $(CONF_DEST) ]; then \
	    echo "make install: keeping $(CONF_DEST)"; \
	else \
	    echo "$(INSTALL) -D -m 0644 config/consentd.conf $(CONF_DEST)"; \
	    $(INSTALL) -D -m 0644 config/consentd.conf $(CONF_DEST); \
	fi
	$(if $(UNIT_FILES),$(INSTALL) -D -m 0644 -t $(DESTDIR)$(UNITDIR) $(addprefix scripts/,$(UNIT_FILES)))
	$(if $(SYSUSERS_SRC),$(INSTALL) -D -m 0644 $(SYSUSERS_SRC) $(DESTDIR)$(SYSUSERSDIR)/consentd.conf)
	$(if $(TMPFILES_SRC),$(INSTALL) -D -m 0644 $(TMPFILES_SRC) $(DESTDIR)$(TMPFILESDIR)/consentd.conf)
	$(INSTALL) -D -m 0644 scripts/consentd.catalog $(DESTDIR)$(CATALOGDIR)/consentd.catalog
	$(INSTALL) -D -m 0644 -t $(DESTDIR)$(MANDIR)/man1 daemon/man/consentctl.1
	$(INSTALL) -D -m 0644 -t $(DESTDIR)$(MANDIR)/man5 daemon/man/consentd.conf.5 daemon/man/consentd-policy.5
	$(INSTALL) -D -m 0644 -t $(DESTDIR)$(MANDIR)/man8 daemon/man/consentd.8
	@[ "$(PREFIX)" = /usr ] || echo "make install: consentd looks for its tables in" \
	    "/usr/share/consentd and the units start /usr/sbin/consentd; with PREFIX=$(PREFIX) set" \
	    "policy-dir and registry in consentd.conf and ExecStart in a drop-in" >&2

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/consentd $(DESTDIR)$(BINDIR)/consentctl
	rm -f $(addprefix $(DESTDIR)$(DATADIR)/policies/,$(POLICY_FILES))
	rm -f $(DESTDIR)$(DATADIR)/registry.json $(DESTDIR)$(DATADIR)/necessary-pi.json
	for d in $(DESTDIR)$(DATADIR)/policies $(DESTDIR)$(DATADIR); do \
	    [ ! -d $$d ] || rmdir --ignore-fail-on-non-empty $$d || exit 1; \
	done
	rm -f $(DESTDIR)$(UNITDIR)/consentd.socket $(DESTDIR)$(UNITDIR)/consentd.service
	rm -f $(DESTDIR)$(SYSUSERSDIR)/consentd.conf $(DESTDIR)$(TMPFILESDIR)/consentd.conf
	rm -f $(DESTDIR)$(CATALOGDIR)/consentd.catalog
	rm -f $(DESTDIR)$(MANDIR)/man1/consentctl.1 $(DESTDIR)$(MANDIR)/man5/consentd.conf.5 \
	    $(DESTDIR)$(MANDIR)/man5/consentd-policy.5 $(DESTDIR)$(MANDIR)/man8/consentd.8
