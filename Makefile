# vdpa-migrate top-level Makefile (GNU make).
#
# Objects go out of tree under $(BUILD).  Each of protocol/ and dirtylog/
# builds into one static library, and so does each folder of agent/:
# common/ (config, log), datapath/ (guest memory, virtqueues, frames,
# endpoints: shared with vdpa-simd), daemon/ (vdpa-agentd) and cli/
# (vdpa-migrate), each with its program's main beside it.
# New source files are picked up by wildcard, so adding a module or a test
# needs no edit here: tests/unit/test_*.c, tests/fuzz/fuzz_*.c and
# tests/bench/bench_*.c each become one program.

BUILD      ?= build
PREFIX     ?= /usr/local
DESTDIR    ?=
CC         ?= gcc
CLANG      ?= clang
PKG_CONFIG ?= pkg-config
FUZZ_SECONDS ?= 60
# CFLAGS, CPPFLAGS and LDFLAGS are the builder's (dpkg-buildflags puts
# hardening there) and come last, so that they win; AR is make's (ar).

SBINDIR = $(PREFIX)/sbin
BINDIR  = $(PREFIX)/bin
MANDIR  = $(PREFIX)/share/man
LIBEXECDIR = $(PREFIX)/libexec
# Where libvirtd looks for hooks, whatever PREFIX is.
HOOKDIR ?= /etc/libvirt/hooks/qemu.d
# Debian keeps units in /lib/systemd/system when PREFIX=/usr.
UNITDIR = $(DESTDIR)$(if $(filter /usr,$(PREFIX)),,$(PREFIX))/lib/systemd/system

WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wcast-qual -Wformat=2 -Wundef -Wvla
ifeq ($(CI),true)
WARN += -Werror
endif

OPT      ?= -O2 -g
SANFLAGS ?=
BASE_CFLAGS = -std=gnu11 $(OPT) $(WARN) -D_GNU_SOURCE -fno-strict-aliasing \
	      -I. -MMD -MP $(SANFLAGS) $(CFLAGS_EXT)
ALL_CFLAGS  = $(BASE_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(ALL_CFLAGS) $(LDFLAGS)
# libvirt and libxml2: vdpa-migrate's libvirt mode and hook (agent/cli/domxml.c).
# Asked once per make run (":="), not once per object.
EXT_PKGS    = json-c libsystemd zlib libvirt libxml-2.0
CFLAGS_EXT := $(shell $(PKG_CONFIG) --cflags $(EXT_PKGS) 2>/dev/null || echo -I/usr/include/libxml2)
LIBS_EXT   := -Wl,--as-needed $(shell $(PKG_CONFIG) --libs $(EXT_PKGS) 2>/dev/null || echo -ljson-c -lsystemd -lz -lvirt -lxml2) -lpthread

ifeq ($(V),1)
Q =
say =
else
Q = @
say = @printf '  %-7s %s\n' $(1) $(2);
endif

PROTOCOL_SRCS = $(sort $(wildcard protocol/*.c))
DIRTYLOG_SRCS = $(sort $(wildcard dirtylog/*.c))
# agent/: one library per folder; the two mains stay out of them.  A
# folder includes only from the folders below it: common <- datapath <-
# daemon, common <- cli (docs/architecture.md).
AGENTD_MAIN   = agent/daemon/vdpa_agentd.c
CLIENT_MAIN   = agent/cli/vdpa_migrate.c
COMMON_SRCS   = $(sort $(wildcard agent/common/*.c))
DATAPATH_SRCS = $(sort $(wildcard agent/datapath/*.c))
DAEMON_SRCS   = $(filter-out $(AGENTD_MAIN),$(sort $(wildcard agent/daemon/*.c)))
CLI_SRCS      = $(filter-out $(CLIENT_MAIN),$(sort $(wildcard agent/cli/*.c)))
AGENT_SRCS    = $(COMMON_SRCS) $(DATAPATH_SRCS) $(DAEMON_SRCS) $(CLI_SRCS)
# The simulated accelerator (a vfio-user server), built beside the agent.
SIMD_SRCS     = $(sort $(wildcard contrib/vdpa-simd/*.c))
UNIT_SRCS     = $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRCS     = $(sort $(wildcard tests/fuzz/fuzz_*.c))
BENCH_SRCS    = $(sort $(wildcard tests/bench/bench_*.c))
HELPER_SRCS   = $(sort $(wildcard tests/helpers/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIBCOMMON   = $(BUILD)/libcommon.a
LIBDATAPATH = $(BUILD)/libdatapath.a
LIBDAEMON   = $(BUILD)/libdaemon.a
LIBCLI      = $(BUILD)/libcli.a
LIBPROTOCOL = $(BUILD)/libprotocol.a
LIBDIRTYLOG = $(BUILD)/libdirtylog.a
# Order matters for static linking: a library before those it uses.
LIBS_AGENTD = $(LIBDAEMON) $(LIBDATAPATH) $(LIBCOMMON) $(LIBPROTOCOL) $(LIBDIRTYLOG)
LIBS_CLIENT = $(LIBCLI) $(LIBCOMMON) $(LIBPROTOCOL) $(LIBDIRTYLOG)
LIBS_SIMD   = $(LIBDATAPATH) $(LIBCOMMON) $(LIBPROTOCOL) $(LIBDIRTYLOG)
LIBS_OWN    = $(LIBDAEMON) $(LIBCLI) $(LIBDATAPATH) $(LIBCOMMON) $(LIBPROTOCOL) $(LIBDIRTYLOG)

AGENTD  = $(BUILD)/vdpa-agentd
CLIENT  = $(BUILD)/vdpa-migrate
UNIT_BINS  = $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))
BENCH_BINS = $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))
FUZZ_BINS  = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

SIMD    = $(BUILD)/vdpa-simd
PROGRAMS = $(AGENTD) $(CLIENT) $(if $(SIMD_SRCS),$(SIMD))

.PHONY: all programs deps check check-unit check-asan check-man check-layers check-debian check-kernel fuzz bench install deb demo clean
.DEFAULT_GOAL := all
# Keep objects of test programs: they are not intermediate for us.
.SECONDARY:

all: $(LIBS_OWN) $(PROGRAMS) $(UNIT_BINS) $(BENCH_BINS)

# What "make install" installs, and nothing else (no tests, no benchmarks).
programs: $(PROGRAMS)

deps:
	$(Q)contrib/install-deps.sh

$(BUILD)/obj/%.o: %.c
	$(call say,CC,$<)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIBPROTOCOL): $(call obj,$(PROTOCOL_SRCS))
$(LIBDIRTYLOG): $(call obj,$(DIRTYLOG_SRCS))
$(LIBCOMMON): $(call obj,$(COMMON_SRCS))
$(LIBDATAPATH): $(call obj,$(DATAPATH_SRCS))
$(LIBDAEMON): $(call obj,$(DAEMON_SRCS))
$(LIBCLI): $(call obj,$(CLI_SRCS))
$(LIBS_OWN):
	$(call say,AR,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(AGENTD): $(call obj,$(AGENTD_MAIN)) $(LIBS_AGENTD)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_EXT)

$(CLIENT): $(call obj,$(CLIENT_MAIN)) $(LIBS_CLIENT)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_EXT)

$(SIMD): $(call obj,$(SIMD_SRCS)) $(LIBS_SIMD)
	$(call say,LINK,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_EXT)

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(call obj,$(HELPER_SRCS)) $(LIBS_OWN)
	$(call say,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(LIBS_EXT)

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(LIBS_OWN)
	$(call say,LINK,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_EXT)

# ---- tests -------------------------------------------------------------

# The test command of the README: installs what is missing, builds, runs
# every unit test, then the integration tests as they arrive.
check: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)$(MAKE) --no-print-directory check-unit check-man check-layers
	$(Q)if [ -x tests/integration/run.sh ]; then tests/integration/run.sh $(BUILD); fi

check-unit: $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(UNIT_BINS)

check-man:
	$(Q)tests/check-man.sh man

# The folders' include rules (docs/architecture.md).
check-layers:
	$(Q)tests/check-layers.sh

# ASan + UBSan, halt on the first error, in a build tree of its own: the
# unit tests, then the integration tests driving the sanitized agent.
ASAN_MAKE = $(MAKE) --no-print-directory BUILD=$(BUILD)/asan OPT="-O1 -g" \
	SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
check-asan: deps
	$(Q)$(ASAN_MAKE) all
	$(Q)$(ASAN_MAKE) check-unit
	$(Q)if [ -x tests/integration/run.sh ]; then tests/integration/run.sh $(BUILD)/asan; fi

# libFuzzer targets, built with clang, each run for FUZZ_SECONDS.
FUZZ_CFLAGS = -std=gnu11 -O1 -g -D_GNU_SOURCE -I. -fno-strict-aliasing \
	      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all $(CFLAGS_EXT)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(PROTOCOL_SRCS) $(DIRTYLOG_SRCS) $(AGENT_SRCS)
	$(call say,CLANG,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $^ $(LIBS_EXT)

fuzz: deps $(FUZZ_BINS)
	$(Q)tests/run-fuzz.sh $(FUZZ_SECONDS) $(BUILD) $(FUZZ_BINS)

bench: $(BENCH_BINS) $(PROGRAMS)
	$(Q)mkdir -p $(BUILD)/bench
	$(Q)tests/run-bench.sh $(BUILD) $(BENCH_BINS)

# ---- install -----------------------------------------------------------

# Builds only the programs it installs.  vdpa-simd goes to bin, not sbin: a
# test device anyone may run (its null and loop wires need no privilege),
# not part of the host's service.
install: programs
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(AGENTD) $(DESTDIR)$(SBINDIR)/vdpa-agentd
	install -m 0755 $(CLIENT) $(DESTDIR)$(BINDIR)/vdpa-migrate
	$(if $(SIMD_SRCS),install -m 0755 $(SIMD) $(DESTDIR)$(BINDIR)/vdpa-simd)
	for m in man/*.[0-9]; do \
		[ -e "$$m" ] || continue; \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; \
	done
	# systemd: ExecStart= names the agent where this install puts it.
	# tmpfiles.d creates /etc/vdpa-agentd.conf when missing; the Debian
	# package leaves that snippet out and ships the file as a conffile.
	install -d $(UNITDIR) $(DESTDIR)$(PREFIX)/lib/tmpfiles.d $(DESTDIR)$(PREFIX)/lib/sysusers.d
	sed 's|^ExecStart=/usr/sbin/|ExecStart=$(SBINDIR)/|' systemd/vdpa-agentd.service \
		>$(UNITDIR)/vdpa-agentd.service
	chmod 0644 $(UNITDIR)/vdpa-agentd.service
	install -m 0644 systemd/vdpa-agentd.socket $(UNITDIR)/
	install -m 0644 systemd/vdpa-agentd.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/vdpa-agentd.conf
	install -m 0644 systemd/vdpa-agentd.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/vdpa-agentd.conf
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/doc/vdpa-migrate
	install -m 0644 contrib/bash-completion/vdpa-migrate \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/vdpa-migrate
	install -m 0644 contrib/vdpa-agentd.conf $(DESTDIR)$(PREFIX)/share/doc/vdpa-migrate/vdpa-agentd.conf
	# The libvirt hook must be in /etc (whatever PREFIX is), where libvirtd
	# looks; it is a link to the script in libexec, so that the script is
	# replaced with the program it calls and goes when they go: a copy left
	# in /etc would fail every domain start once vdpa-migrate is removed.
	# Its configuration is the operator's: only the example is installed.
	install -d $(DESTDIR)$(LIBEXECDIR)/vdpa-migrate $(DESTDIR)$(HOOKDIR)
	install -m 0755 contrib/libvirt/qemu.d/50-vdpa-migrate $(DESTDIR)$(LIBEXECDIR)/vdpa-migrate/libvirt-hook
	ln -sf $(LIBEXECDIR)/vdpa-migrate/libvirt-hook $(DESTDIR)$(HOOKDIR)/50-vdpa-migrate
	install -m 0644 contrib/libvirt/vdpa-migrate-hook.conf \
		$(DESTDIR)$(PREFIX)/share/doc/vdpa-migrate/vdpa-migrate-hook.conf

# Debian packages (contrib/debian/) into $(BUILD)/deb, built with
# dpkg-buildpackage in a temporary copy of the tree, checked by lintian and
# by tests/check-deb.sh; installs the packaging tools and build
# dependencies that are missing.
deb:
	$(Q)contrib/debian/make-deb.sh $(BUILD)/deb
	$(Q)tests/check-deb.sh $(BUILD)/deb

# The packages on a real Debian 12 booted with systemd as PID 1 (a cached
# mmdebstrap image under QEMU): install, the service, permissions, libvirtd
# and the hook, purge.  tests/debian/test_debian.sh says what it checks.
check-debian: deps deb
	$(Q)tests/debian/test_debian.sh $(BUILD)/deb

# The vhost-vdpa testbed (issue 11): Debian's 6.12 kernel under QEMU with the
# kernel's vdpa_sim_net built out of tree; /dev/vhost-vdpa-0 must answer.
check-kernel: deps programs
	$(Q)tests/kernel/boot-vdpa-sim.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)contrib/demo.sh $(BUILD)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
