# fieldsync — build, test, install.
#
#   make            build build/fieldsyncd, build/fieldsync, build/fieldsync-sim
#   make demo       install missing packages, build, run the walk-through
#   make check      install missing packages, build, run every test
#   make check-asan the same tests under AddressSanitizer + UBSan
#   make bench      micro-benchmarks and load figures (never part of check)
#   make install    programs, man pages, completion, systemd user unit, docs
#                   under $(DESTDIR)$(PREFIX) (default /usr/local); uninstall
#   make deb        build/fieldsync{,-sim}_VERSION_ARCH.deb (dpkg-deb; lintian-clean)
#
# Objects and programs go under $(BUILD) (default build/).  Sanitizer builds
# use their own tree (build/asan) so the two never mix objects.

BUILD   ?= build
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
MANDIR  ?= $(DATADIR)/man
DOCDIR  ?= $(DATADIR)/doc/fieldsync
BASHCOMPDIR    ?= $(DATADIR)/bash-completion/completions
SYSTEMDUSERDIR ?= $(PREFIX)/lib/systemd/user
CC      ?= cc
PKGS    := sqlite3 libcurl libcjson zlib libmicrohttpd
VERSION := 0.1.0

WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wpointer-arith \
           -Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS  ?= -O2 -g
ifeq ($(SAN),1)
CFLAGS  := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
           -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
TEST_LIBS  = $(shell pkg-config --libs cmocka)
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DFIELDSYNC_VERSION='"$(VERSION)"' \
             -I. $(WARN) $(CFLAGS) $(PKG_CFLAGS) -MMD -MP
LIBS       = $(PKG_LIBS) -lpthread -lm

# Sources by module.  Each module directory is one library; the programs'
# main() files are kept apart from the library code they share.
STORE_SRC  := $(wildcard store/*.c)
SYNC_SRC   := $(wildcard sync/*.c)
# agent/ is the daemon, agent/cli/ the client: two libraries, so neither
# program links the other's code.
AGENT_MAIN := agent/fieldsyncd.c
AGENT_SRC  := $(filter-out $(AGENT_MAIN),$(wildcard agent/*.c))
CLI_MAIN   := agent/cli/fieldsync.c
# What both programs must agree on is compiled into both, as bgpctl
# compiles bgpd's shared files.
SHARED_SRC := agent/paths.c agent/routes.c
CLI_SRC    := $(filter-out $(CLI_MAIN),$(wildcard agent/cli/*.c)) $(SHARED_SRC) store/util.c
SIM_SRC    := $(wildcard tests/sim/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
SYSTEM_SRC := $(wildcard tests/system/test_*.c)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRC  := $(wildcard tests/bench/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

STORE_LIB := $(BUILD)/libstore.a
SYNC_LIB  := $(BUILD)/libsync.a
AGENT_LIB := $(BUILD)/libagent.a
CLI_LIB   := $(BUILD)/libcli.a
# Link order follows the dependency direction agent -> sync -> store.  The
# client needs none of them; tests link everything.
MODULE_LIBS := $(if $(AGENT_SRC),$(AGENT_LIB)) $(if $(SYNC_SRC),$(SYNC_LIB)) \
               $(if $(STORE_SRC),$(STORE_LIB))
TEST_MODULE_LIBS := $(if $(CLI_SRC),$(CLI_LIB)) $(MODULE_LIBS)

PROGRAMS := $(if $(wildcard agent/fieldsyncd.c),$(BUILD)/fieldsyncd) \
            $(if $(wildcard $(CLI_MAIN)),$(BUILD)/fieldsync) \
            $(if $(SIM_SRC),$(BUILD)/fieldsync-sim)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
SYSTEM_BINS := $(patsubst tests/system/%.c,$(BUILD)/tests/%,$(SYSTEM_SRC))
# The fuzz targets built with cc and tests/fuzz/replay.c's main() instead of
# libFuzzer: make check replays their corpora (make fuzz fuzzes, with clang).
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/tests/%,$(FUZZ_SRC))
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.PHONY: all deps check test-run check-asan asan bench demo install uninstall deb clean tests fuzz soak \
        completion

all: $(PROGRAMS) $(BENCH_BINS)

# An object reached only through a pattern rule (a test's, a bench tool's)
# is intermediate: make would delete it after the link, and the next make,
# finding it named by its .d file, would build and link it again.  Keep them.
.SECONDARY:

tests: all $(UNIT_BINS) $(SYSTEM_BINS) $(FUZZ_BINS) $(BUILD)/gen-completion

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(STORE_LIB): $(call obj,$(STORE_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
$(SYNC_LIB): $(call obj,$(SYNC_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^
# Rebuilt from scratch, so an object whose source moved away leaves no stale
# member behind.
$(AGENT_LIB): $(call obj,$(AGENT_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^
$(CLI_LIB): $(call obj,$(CLI_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/fieldsyncd: $(call obj,agent/fieldsyncd.c) $(MODULE_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/fieldsync: $(call obj,$(CLI_MAIN)) $(CLI_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/fieldsync-sim: $(call obj,$(SIM_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lz

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TEST_MODULE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)
# Static pattern rules: a program of tests/system/ (or a fuzz target) is never
# taken for one of tests/unit/ by the rule above (a stale .d can name an old
# object of that name).
$(SYSTEM_BINS): $(BUILD)/tests/%: $(BUILD)/obj/tests/system/%.o $(MODULE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)
$(FUZZ_BINS): $(BUILD)/tests/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay.o $(MODULE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(MODULE_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Installs the Debian packages the build and tests need, when missing.
deps:
	@sh packaging/deps.sh test

# Every test, by tests/run_tests.py (suites in parallel): C unit and system
# tests (cmocka), the fuzz corpora replayed through the fuzz targets, and
# integration tests that run the real programs.  Ends with one line
# "check: N passed, M failed" (", K skipped" when some were).
check: deps
	@$(MAKE) --no-print-directory test-run

test-run: tests
	@python3 tests/run_tests.py --build $(BUILD)

check-asan asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 test-run

bench:
	@sh packaging/deps.sh bench
	@$(MAKE) --no-print-directory all
	@sh tests/bench/run.sh $(BUILD)

# Fuzz each libFuzzer target for a set time (clang); see docs/RELIABILITY.md.
fuzz:
	@sh packaging/deps.sh fuzz
	@sh tests/fuzz/run.sh

# The long reliability runs: crash loop and randomized histories.
soak:
	@sh packaging/deps.sh test
	@$(MAKE) --no-print-directory all
	@sh tests/reliability/soak.sh $(BUILD)

demo:
	@sh packaging/deps.sh demo
	@$(MAKE) --no-print-directory all
	@bash tests/demo.sh $(BUILD)

# Installed files other than the programs; man pages and the unit are
# filled in (@VERSION@, @BINDIR@, ...) as they are installed.
MAN1 := packaging/man/fieldsync.1 packaging/man/fieldsync-sim.1
MAN8 := packaging/man/fieldsyncd.8
INSTALLED_DOCS := README.md docs/SIM.md
SUBST = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
            -e 's|@DOCDIR@|$(DOCDIR)|g' -e 's|@SYSTEMDUSERDIR@|$(SYSTEMDUSERDIR)|g' \
            -e 's|@COMPLETIONSDIR@|$(BASHCOMPDIR)|g'
GEN := $(BUILD)/packaging

# The bash completion's words (commands, subcommands, options) come from the
# CLI's command table: gen-completion fills them into the script.  `make
# completion` rewrites the copy in the tree (test_cli_routes.py checks it
# is current); install uses the one made from the programs it installs.
$(BUILD)/gen-completion: $(call obj,packaging/completion/gen_completion.c) $(CLI_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(GEN)/fieldsync.bash: $(BUILD)/gen-completion packaging/completion/fieldsync.bash
	@mkdir -p $(dir $@)
	$(BUILD)/gen-completion packaging/completion/fieldsync.bash >$@.tmp && mv $@.tmp $@
completion: $(GEN)/fieldsync.bash
	cp $(GEN)/fieldsync.bash packaging/completion/fieldsync.bash

install: $(PROGRAMS) $(GEN)/fieldsync.bash
	@mkdir -p $(GEN)
	$(SUBST) packaging/systemd/fieldsyncd.service.in >$(GEN)/fieldsyncd.service
	for m in $(MAN1) $(MAN8); do $(SUBST) $$m >$(GEN)/$${m##*/} || exit 1; done
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(SYSTEMDUSERDIR) $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(addprefix $(GEN)/,$(notdir $(MAN1))) $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 $(addprefix $(GEN)/,$(notdir $(MAN8))) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(GEN)/fieldsync.bash $(DESTDIR)$(BASHCOMPDIR)/fieldsync
	install -m 0644 $(GEN)/fieldsyncd.service $(DESTDIR)$(SYSTEMDUSERDIR)/
	install -m 0644 $(INSTALLED_DOCS) $(DESTDIR)$(DOCDIR)/
	install -m 0644 packaging/fieldsync.conf.example $(DESTDIR)$(DOCDIR)/examples/

# Removes what install put, and the doc directories it made; never the
# shared directories (bin, man1, ...).
uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(PROGRAMS))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1))) \
	    $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(MAN8))) \
	    $(DESTDIR)$(BASHCOMPDIR)/fieldsync $(DESTDIR)$(SYSTEMDUSERDIR)/fieldsyncd.service \
	    $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(INSTALLED_DOCS))) \
	    $(DESTDIR)$(DOCDIR)/examples/fieldsync.conf.example
	rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null || true

# The Debian packages fieldsync and fieldsync-sim: their own build with
# Debian's hardening flags, installed with PREFIX=/usr into a staging root,
# then split, stripped, compressed and packed by packaging/debian/build-deb.sh
# (dpkg-shlibdeps, dpkg-gencontrol, dpkg-deb --root-owner-group).
DEB_WORK  := $(BUILD)/deb
DEB_FLAGS  = DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get
deb:
	@sh packaging/deps.sh deb
	rm -rf $(DEB_WORK)/debian
	$(MAKE) --no-print-directory BUILD=$(DEB_WORK)/build SAN= \
	    CFLAGS="$$($(DEB_FLAGS) CFLAGS) $$($(DEB_FLAGS) CPPFLAGS)" \
	    LDFLAGS="$$($(DEB_FLAGS) LDFLAGS)" \
	    PREFIX=/usr BINDIR=/usr/bin DATADIR=/usr/share MANDIR=/usr/share/man \
	    DOCDIR=/usr/share/doc/fieldsync BASHCOMPDIR=/usr/share/bash-completion/completions \
	    SYSTEMDUSERDIR=/usr/lib/systemd/user \
	    DESTDIR=$(abspath $(DEB_WORK))/debian/tmp install
	sh packaging/debian/build-deb.sh $(DEB_WORK) $(VERSION) $(BUILD)

clean:
	rm -rf $(BUILD) build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
