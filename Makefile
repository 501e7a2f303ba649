# consentd: a consent and permission enforcement daemon.
#
#   make            build build/consentd and build/consentctl
#   make run        install missing Debian packages, build, serve ./var/consentd.sock
#   make test       install missing packages, build, run every test (also under ASan+UBSan)
#   make bench      throughput and latency figures beside reference servers
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
CTL_SRC    = daemon/ctl/consentctl.c $(PROTO_SRC)
UNIT_SRC   = tests/unit/test_policy.c tests/unit/test_decide.c tests/unit/test_proto.c \
             tests/unit/test_cache.c tests/unit/test_chain.c

HEADERS    = $(wildcard daemon/*.h proto/*.h tests/unit/*.h)

.PHONY: all run test unit e2e asan bench check-config deps clean
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

bench: deps all
	@mkdir -p $(BUILD)/bench
	for t in loadgen refserver fsyncloop; do \
	    $(CC) $(ALL_CFLAGS) $(PKGCFLAGS) -o $(BUILD)/bench/$$t tests/bench/$$t.c $(LIBS) || exit 1; \
	done
	$(PYTHON) tests/bench/bench.py --build $(BUILD)

clean:
	rm -rf build

# Regenerate config/coverage/<seed>.md, the map of which seed paragraphs the tables cite.
.PHONY: coverage
coverage:
	$(PYTHON) scripts/gen-coverage
