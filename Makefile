# SPDX-License-Identifier: GPL-2.0-or-later
# Copyright (C) 2026 The yank authors
# yank: libyank, yankctl, tests.  GNU make; everything is built under build/.
#   make            library, yankctl, examples (no Criterion needed)
#   make test       install what is missing, then run the test suite
#   make check      run the test suite, installing nothing (SANITIZE=1: ASan+UBSan)
#   make demo       live multi-process demonstration
#   make bench      SPEC §8 figures into bench/results.json, plots in build/plots
#   make install    PREFIX=/usr/local DESTDIR=
#   WERROR=0        warnings stay warnings (the default makes them errors)

VERSION     := 0.2.0
SOMAJOR     := 0
PREFIX      ?= /usr/local
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
# Where bash-completion looks (its pkg-config file says), else the usual place.
COMPLETIONSDIR ?= $(or $(shell $(PKG_CONFIG) --variable=completionsdir bash-completion 2>/dev/null),$(PREFIX)/share/bash-completion/completions)
WERROR      ?= 1
SANITIZE    ?=

# V=1 shows full commands.
Q := $(if $(filter 1,$(V)),,@)

ifeq ($(SANITIZE),)
B := build
SAN_FLAGS :=
else
B := build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

# What the build and the tests use (the tests skip, saying so, what is missing
# when make deps could not install it): the libraries, the programs the
# preload tests drive, systemd-analyze for the units.
DEPS_PKGS   := liburcu-dev libmsgpack-dev libcriterion-dev libjansson-dev pkg-config socat curl \
	       python3 qemu-utils nbd-client systemd qemu-system-x86 nbdkit
PKG_CONFIG  ?= pkg-config
MSGPACK_PC  := $(shell $(PKG_CONFIG) --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
LIB_PCS     := liburcu-bp $(MSGPACK_PC)
LIB_CFLAGS  := $(shell $(PKG_CONFIG) --cflags $(LIB_PCS) 2>/dev/null)
LIB_LIBS    := $(shell $(PKG_CONFIG) --libs $(LIB_PCS) 2>/dev/null) -pthread
JSON_LIBS   := $(shell $(PKG_CONFIG) --libs jansson 2>/dev/null)
# yankctl is the operator's command: a static PIE, glibc included, when
# the archives are installed, so that it starts faster than a dynamic
# /bin/true and keeps address randomisation.  It asks getent(1) for user
# and group names (tools/getent.c), since a static glibc cannot load NSS
# modules.  The sanitizers need a dynamic link.
STATIC_ARCHIVES := $(foreach l,urcu-bp urcu-common msgpackc jansson c,$(shell $(CC) -print-file-name=lib$(l).a))
ifeq ($(words $(filter /%,$(STATIC_ARCHIVES)))$(SANITIZE),5)
CTL_LIBS    := -static-pie -lurcu-bp -lurcu-common -lmsgpackc -ljansson -pthread
else
CTL_LIBS    := $(LIB_LIBS) $(JSON_LIBS)
endif
CRIT_CFLAGS := $(shell $(PKG_CONFIG) --cflags criterion 2>/dev/null)
CRIT_LIBS   := $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith \
	-Wvla -Wformat=2 -Wundef -fno-common -Werror=implicit-function-declaration
override CPPFLAGS += -D_GNU_SOURCE -Iinclude -MMD -MP
override CFLAGS   += -std=gnu11 -O2 -g -fvisibility=hidden $(WARN) $(if $(filter 1,$(WERROR)),-Werror) $(SAN_FLAGS)
override LDFLAGS  += $(SAN_FLAGS)

LIB_SRCS  := $(sort $(wildcard libshm/*.c))
LIB_OBJS  := $(LIB_SRCS:libshm/%.c=$(B)/obj/%.o)
LIB_PICS  := $(LIB_SRCS:libshm/%.c=$(B)/obj/%.os)
LIB_TOBJS := $(LIB_SRCS:libshm/%.c=$(B)/obj/%.to)
TOOL_SRCS := $(sort $(wildcard tools/*.c))
TOOL_OBJS := $(TOOL_SRCS:tools/%.c=$(B)/obj/tools/%.o)
QMPD_SRCS := $(sort $(wildcard qmpd/*.c))
QMPD_OBJS := $(QMPD_SRCS:qmpd/%.c=$(B)/obj/qmpd/%.o)
QMPD_BIN  := $(if $(QMPD_SRCS),$(B)/yank-qmpd)
UNIT_TESTS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test-*.c))
INTEG_TESTS := $(patsubst tests/integration/%.c,$(B)/tests/%,$(wildcard tests/integration/test-*.c))
HELPERS     := $(patsubst tests/helpers/%.c,$(B)/tests/helpers/%,$(wildcard tests/helpers/*.c))
EXAMPLES    := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_REPLAY := $(patsubst tests/fuzz/%.c,$(B)/tests/replay-%,$(FUZZ_SRCS))
BENCHES     := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/*.c))
# The preload shim: its own objects, and a private copy of every libyank PIC
# object whose calls to the libc functions the shim interposes are renamed
# to the shim's pass-throughs (so the library never runs through a wrapper).
PRELOAD_SO   := $(B)/libyank-preload.so
PRELOAD_OBJS := $(patsubst preload/%.c,$(B)/obj/preload/%.os,$(wildcard preload/*.c))
PRELOAD_LIB  := $(LIB_SRCS:libshm/%.c=$(B)/obj/preload/lib-%.os)
PRELOAD_RENAME := close connect accept4
PRELOAD_EXPORTS = $(shell sed -n 's/^[[:space:]]*\([a-z_0-9]*\);$$/\1/p' preload/libyank-preload.map)

SOLIB := $(B)/libyank.so.$(VERSION)
PC_SUBST = -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	   -e 's|@VERSION@|$(VERSION)|' -e 's|@REQUIRES@|$(LIB_PCS)|'

.PHONY: all lib tests test check demo bench bench-docs install uninstall clean deps fuzz soak check-symbols
.DELETE_ON_ERROR:

# `make` needs no Criterion: the test programs are built by `make check`.
all: lib $(B)/yankctl $(QMPD_BIN) $(EXAMPLES)
tests: $(UNIT_TESTS) $(INTEG_TESTS) $(HELPERS) $(FUZZ_REPLAY)

lib: $(SOLIB) $(B)/libyank.a $(B)/libyank-test.a $(B)/yank.pc $(PRELOAD_SO)

# Installs what is missing when we are root, otherwise says what to run.
deps:
	@missing=""; for p in $(DEPS_PKGS); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "deps: installing$$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			(apt-get install -y -q $$missing || (apt-get update -q && apt-get install -y -q $$missing)) >/dev/null \
				|| { echo "deps: apt-get install$$missing failed" >&2; exit 1; }; \
		else \
			echo "deps: missing packages; run: sudo apt-get install -y$$missing" >&2; exit 1; \
		fi; \
	fi

$(B)/obj/%.o: libshm/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -MF $@.d $(CFLAGS) $(LIB_CFLAGS) -c -o $@ $<
$(B)/obj/%.os: libshm/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -MF $@.d $(CFLAGS) $(LIB_CFLAGS) -fPIC -c -o $@ $<
# The test build: the same sources with fault-injection points compiled in.
$(B)/obj/%.to: libshm/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -MF $@.d -DYANK_TESTING $(CFLAGS) $(LIB_CFLAGS) -c -o $@ $<

# -Bsymbolic-functions: the library's calls to its own yank_* functions bind
# inside it, even in a host that exports the same names (QEMU does).
$(SOLIB): $(LIB_PICS) libshm/libyank.map
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) -shared -o $@ $(LIB_PICS) -Wl,-soname,libyank.so.$(SOMAJOR) \
		-Wl,--version-script=libshm/libyank.map -Wl,-Bsymbolic-functions -Wl,-z,defs \
		$(LDFLAGS) $(LIB_LIBS)
	$(Q)ln -sf libyank.so.$(VERSION) $(B)/libyank.so.$(SOMAJOR)
	$(Q)ln -sf libyank.so.$(SOMAJOR) $(B)/libyank.so
$(B)/libyank.a: $(LIB_OBJS)
	@$(if $(Q),echo '  AR      $@')
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(B)/libyank-test.a: $(LIB_TOBJS)
	@$(if $(Q),echo '  AR      $@')
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(B)/yank.pc: libshm/yank.pc.in Makefile
	$(Q)sed $(PC_SUBST) $< > $@

$(B)/obj/preload/%.os: preload/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -MF $@.d $(CFLAGS) -fPIC -c -o $@ $<
$(B)/obj/preload/lib-%.os: $(B)/obj/%.os
	@mkdir -p $(@D)
	@$(if $(Q),echo '  OBJCOPY $@')
	$(Q)objcopy $(foreach f,$(PRELOAD_RENAME),--redefine-sym $(f)=yank__pl_sys_$(f)) $< $@
# Only the interposed names are exported (the map): everything of libyank
# inside is bound locally, so a host's own yank_* can never be called by it.
$(PRELOAD_SO): $(PRELOAD_OBJS) $(PRELOAD_LIB) preload/libyank-preload.map
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) -shared -o $@ $(PRELOAD_OBJS) $(PRELOAD_LIB) \
		-Wl,--version-script=preload/libyank-preload.map -Wl,-z,defs $(LDFLAGS) $(LIB_LIBS) -ldl

$(B)/obj/tools/%.o: tools/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -MF $@.d -Itools -Ilibshm $(CFLAGS) -c -o $@ $<
$(B)/yankctl: $(TOOL_OBJS) $(B)/libyank.a
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(LDFLAGS) -o $@ $(TOOL_OBJS) $(B)/libyank.a $(CTL_LIBS)

$(B)/obj/qmpd/%.o: qmpd/%.c
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -MF $@.d -Iqmpd -Ilibshm $(CFLAGS) -c -o $@ $<
$(B)/yank-qmpd: $(QMPD_OBJS) $(B)/libyank.a
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(LDFLAGS) -o $@ $(QMPD_OBJS) $(B)/libyank.a $(LIB_LIBS) $(JSON_LIBS)

# White-box unit tests see libshm/ internals and the fault points.
$(B)/tests/%: tests/unit/%.c $(B)/libyank-test.a tests/unit/testutil.h
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -MF $@.d -DYANK_TESTING -Ilibshm -Itests/unit $(CFLAGS) $(CRIT_CFLAGS) -o $@ $< \
		$(LDFLAGS) $(B)/libyank-test.a $(LIB_LIBS) $(CRIT_LIBS)
# The stall rules are yankctl's (tools/verdict.c): their unit test links its objects.
$(B)/tests/test-verdict: tests/unit/test-verdict.c $(B)/libyankctl-test.a tests/unit/testutil.h
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -MF $@.d -Itools -Ilibshm -Itests/unit $(CFLAGS) $(CRIT_CFLAGS) -o $@ $< \
		$(LDFLAGS) $(B)/libyankctl-test.a $(CRIT_LIBS)
# Black-box integration tests use yank.h only.
$(B)/tests/%: tests/integration/%.c $(B)/libyank-test.a tests/unit/testutil.h
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -MF $@.d -Itests/unit $(CFLAGS) $(CRIT_CFLAGS) -o $@ $< \
		$(LDFLAGS) $(B)/libyank-test.a $(LIB_LIBS) $(CRIT_LIBS)
# Its malloc and free must be the ones the preloaded shim calls.
$(B)/tests/helpers/preload-sigclose: override LDFLAGS += -rdynamic
$(B)/tests/helpers/%: tests/helpers/%.c $(B)/libyank-test.a
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -MF $@.d -DYANK_TESTING -Ilibshm $(CFLAGS) -o $@ $< $(LDFLAGS) $(B)/libyank-test.a $(LIB_LIBS)
$(B)/examples/%: examples/%.c $(B)/libyank.a
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LDFLAGS) $(B)/libyank.a $(LIB_LIBS)
# Benchmarks link the production library; -Ilibshm only for the in-process baseline's needs.
$(B)/bench/%: bench/%.c $(B)/libyank.a
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -Ibench $(CFLAGS) -o $@ $< $(LDFLAGS) $(B)/libyank.a $(LIB_LIBS) -lm

# Fuzz targets double as corpus-replay programs in every test run.
$(B)/tests/replay-%: tests/fuzz/%.c tests/fuzz/replay.c $(B)/libyank-test.a $(B)/libyankctl-test.a
	@mkdir -p $(@D)
	@$(if $(Q),echo '  CC      $@')
	$(Q)$(CC) $(CPPFLAGS) -DYANK_TESTING -Ilibshm -Itools $(CFLAGS) -o $@ $< tests/fuzz/replay.c \
		$(LDFLAGS) $(B)/libyankctl-test.a $(B)/libyank-test.a $(LIB_LIBS) $(JSON_LIBS)
# yankctl's parsers without its commands (main, adopt), for the fuzz targets.
$(B)/libyankctl-test.a: $(filter-out $(B)/obj/tools/yankctl.o $(B)/obj/tools/adopt.o,$(TOOL_OBJS))
	@$(if $(Q),echo '  AR      $@')
	$(Q)rm -f $@ && $(AR) rcs $@ $^

# `make test` installs what is missing first (the README's command on a
# fresh machine); `make check` never installs anything (packaging).
test: deps
	$(MAKE) check
check: all tests
	B=$(B) tests/run-tests.sh

# Everything the tests do, for longer: chaos for minutes instead of seconds.
soak: deps
	$(MAKE) all tests
	B=$(B) YANK_SOAK=1 TIMEOUT=900 tests/run-tests.sh

demo: deps
	$(MAKE) lib $(B)/yankctl $(EXAMPLES)
	B=$(B) examples/demo.sh

bench: deps
	$(MAKE) lib $(B)/yankctl $(QMPD_BIN) $(BENCHES) $(EXAMPLES)
	B=$(B) bench/run.sh

# The plots in docs/ are a committed copy: refreshed on purpose, from a
# run on a quiet machine, never by `make bench` itself.
bench-docs: bench
	cp $(B)/plots/perf-*.svg docs/

FUZZ_SECONDS ?= 60
fuzz: deps
	$(MAKE) lib $(B)/libyankctl-test.a
	B=$(B) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

# Only yank_* may be exported by the shared library; only the interposed libc
# names by the preload shim, whose private libyank must not call them either.
check-symbols: $(SOLIB) $(PRELOAD_SO)
	@bad=$$(nm -D --defined-only $(SOLIB) | awk '$$2 ~ /[TDBR]/ {print $$3}' | grep -v '^yank_' | grep -v '^LIBYANK'); \
	if [ -n "$$bad" ]; then echo "exported non-yank symbols: $$bad" >&2; exit 1; fi
	@got=$$(nm -D --defined-only $(PRELOAD_SO) | awk '$$2 ~ /[TDBRVW]/ {print $$3}' | sort); \
	want=$$(echo $(PRELOAD_EXPORTS) | tr ' ' '\n' | sort); \
	if [ "$$got" != "$$want" ]; then echo "libyank-preload.so exports:" $$got "; expected:" $$want >&2; exit 1; fi
	@bad=$$(nm -u $(PRELOAD_LIB) | awk '{print $$2}' | grep -xF "$$(echo $(PRELOAD_EXPORTS) | tr ' ' '\n')" | sort -u); \
	if [ -n "$$bad" ]; then echo "private libyank calls interposed names (add them to PRELOAD_RENAME): $$bad" >&2; exit 1; fi
	@echo "check-symbols: ok"

install: lib $(B)/yankctl $(QMPD_BIN)
	install -D -m 0755 $(SOLIB) $(DESTDIR)$(LIBDIR)/libyank.so.$(VERSION)
	ln -sf libyank.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libyank.so.$(SOMAJOR)
	ln -sf libyank.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libyank.so
	install -D -m 0644 $(B)/libyank.a $(DESTDIR)$(LIBDIR)/libyank.a
	install -D -m 0644 include/yank.h $(DESTDIR)$(INCLUDEDIR)/yank.h
	@# Made here, not copied from build/: PREFIX may differ from the one it was built with.
	mkdir -p $(DESTDIR)$(PKGCONFIGDIR)
	sed $(PC_SUBST) libshm/yank.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/yank.pc
	install -D -m 0755 $(B)/yankctl $(DESTDIR)$(BINDIR)/yankctl
	$(if $(QMPD_BIN),install -D -m 0755 $(B)/yank-qmpd $(DESTDIR)$(BINDIR)/yank-qmpd)
	install -D -m 0755 $(PRELOAD_SO) $(DESTDIR)$(LIBDIR)/yank/libyank-preload.so
	for m in docs/*.1; do [ -f "$$m" ] && install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man1/$$(basename $$m); done; true
	for m in docs/*.3; do [ -f "$$m" ] && install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man3/$$(basename $$m); done; true
	@# `man 3 yank_close` and the like: every function reaches the page of its family.
	docs/manlinks.sh | while read -r f page; do \
		echo ".so man3/$$page.3" > $(DESTDIR)$(MANDIR)/man3/$$f.3; done
	for m in docs/*.7; do [ -f "$$m" ] && install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man7/$$(basename $$m); done; true
	for m in docs/*.8; do [ -f "$$m" ] && install -D -m 0644 $$m $(DESTDIR)$(MANDIR)/man8/$$(basename $$m); done; true
	install -D -m 0644 completion/yankctl $(DESTDIR)$(COMPLETIONSDIR)/yankctl
	mkdir -p $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in systemd/*.socket systemd/*.service; do \
		sed 's|@BINDIR@|$(BINDIR)|' $$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u); done

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libyank.so* $(DESTDIR)$(LIBDIR)/libyank.a $(DESTDIR)$(INCLUDEDIR)/yank.h \
	      $(DESTDIR)$(PKGCONFIGDIR)/yank.pc $(DESTDIR)$(BINDIR)/yankctl $(DESTDIR)$(BINDIR)/yank-qmpd \
	      $(DESTDIR)$(COMPLETIONSDIR)/yankctl $(DESTDIR)$(LIBDIR)/yank/libyank-preload.so
	-rmdir $(DESTDIR)$(LIBDIR)/yank 2>/dev/null
	for u in systemd/*.socket systemd/*.service; do rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u); done
	for m in docs/*.[1378]; do rm -f $(DESTDIR)$(MANDIR)/man$${m##*.}/$$(basename $$m); done
	docs/manlinks.sh | while read -r f page; do rm -f $(DESTDIR)$(MANDIR)/man3/$$f.3; done

clean:
	rm -rf build bench/results.json

-include $(wildcard $(B)/obj/*.d $(B)/obj/tools/*.d $(B)/obj/qmpd/*.d $(B)/obj/preload/*.d $(B)/tests/*.d $(B)/tests/helpers/*.d $(B)/examples/*.d $(B)/bench/*.d)
