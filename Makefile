# codegate - code-execution gateway. Plain make + pkg-config.
#
#   make            build build/gateway, build/executor, build/launcher
#   make run        install what is missing, build, start the gateway (best runtime available)
#   make test       install what is missing, build, run every test (also under ASan+UBSan
#                   and ThreadSanitizer)
#   make SANITIZE=address,undefined   sanitizer build (goes to build/san/)
#   make SANITIZE=thread               ThreadSanitizer build (goes to build/tsan/)
#   make bench      benchmark (not part of make test)
#   make images     Docker images: the three executors and the gateway, tagged :latest
#                   (scripts/images.sh; deploy/compose.yaml runs them)
#   make format / format-check

CC ?= cc
SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD ?= build
else ifeq ($(SANITIZE),thread)
BUILD ?= build/tsan
else
BUILD ?= build/san
endif

# libcrypto: common/sha256.c (image tags, compile-cache keys). The launcher links none of these.
PKGS_COMMON := libcjson libcrypto
PKGS_EXEC   := libwebsockets libuv libcjson libcrypto libssl
PKGS_SERVER := libulfius libmicrohttpd libyder liborcania libwebsockets libuv libcjson libcurl libarchive libcrypto hiredis

# -Wno-format-truncation: every snprintf here bounds on purpose; truncation is the intent.
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
        -Wundef -Wwrite-strings -Wno-format-nonliteral -Wno-format-truncation
CFLAGS ?= -g -O2
CFLAGS += -std=c11 -D_GNU_SOURCE $(WARN) -fstack-protector-strong -Iinclude -pthread
ifeq ($(SANITIZE),)
CFLAGS += -D_FORTIFY_SOURCE=2
# The launcher starts once per compile and per run: linked statically it skips the dynamic
# loader (about 2 ms of every run on the 2-core VMs here; docs/PERFORMANCE.md). Sanitizer
# runtimes cannot be linked statically, so the sanitizer build keeps it dynamic.
LAUNCHER_LDFLAGS := -static-pie
else
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif
LDFLAGS += -pthread

# pkg-config is only asked when building (not for help/clean) and only once per make run.
pc_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pc_libs   = $(shell pkg-config --libs $(1) 2>/dev/null)

COMMON_SRC := $(sort $(wildcard common/*.c))
EXEC_SRC   := $(filter-out executors/launcher%.c executors/main.c,$(sort $(wildcard executors/*.c)))
SERVER_SRC := $(filter-out server/main.c,$(sort $(wildcard server/*.c)))
# build/launcher-py: the launcher with the Python zygote (executors/launcher_zygote.c), linked
# with Debian's libpython (dynamically: the interpreter the runs' python3 is). Built when
# python3-config --embed works (python3-dev); without it Python runs start python3.
# Not in the ThreadSanitizer build: a run would be a forked TSan process (its runtime thread
# makes every fork "multi-threaded" and warns in the program's stderr when it starts threads);
# the launcher is single-threaded, so TSan has nothing to check there: its runs exec python3.
PYTHON_CONFIG ?= /usr/bin/python3-config
ifneq ($(SANITIZE),thread)
HAVE_PY_EMBED := $(shell $(PYTHON_CONFIG) --embed --ldflags >/dev/null 2>&1 && echo 1)
endif

UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
ifneq ($(HAVE_PY_EMBED),1)
UNIT_SRC   := $(filter-out tests/unit/test_launcher_zygote.c,$(UNIT_SRC)) # needs build/launcher-py
endif
HELPER_SRC := $(sort $(wildcard tests/helpers/*.c))

COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
EXEC_OBJ   := $(EXEC_SRC:%.c=$(BUILD)/obj/%.o)
SERVER_OBJ := $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/tests/helpers/%)

BINS := $(BUILD)/gateway $(BUILD)/executor $(BUILD)/launcher

ifeq ($(HAVE_PY_EMBED),1)
BINS += $(BUILD)/launcher-py
endif

.PHONY: all deps run test test-unit test-integration test-docker test-sanitize bench clean \
        format format-check images
# The precompiled header of C++ compiles for the local runtime (executors/cxxfast.h): one
# place for every build flavour (the executor looks beside and above its binary); only where
# g++ is installed.
PCH := $(if $(shell command -v g++ 2>/dev/null),build/pch/codegate-pch.h)
all: $(BINS) $(PCH)

build/pch/codegate-pch.h: executors/pch/codegate-pch.h executors/pch/build-pch.sh
	sh executors/pch/build-pch.sh build/pch
pch: build/pch/codegate-pch.h
.PHONY: pch

$(BUILD)/obj/common/%.o: common/%.c $(wildcard include/*.h) | $(BUILD)/obj/common
	$(CC) $(CFLAGS) $(call pc_cflags,$(PKGS_COMMON)) -c $< -o $@
$(BUILD)/obj/executors/%.o: executors/%.c $(wildcard include/*.h executors/*.h) | $(BUILD)/obj/executors
	$(CC) $(CFLAGS) $(call pc_cflags,$(PKGS_EXEC)) -c $< -o $@
$(BUILD)/obj/server/%.o: server/%.c $(wildcard include/*.h server/*.h) | $(BUILD)/obj/server
	$(CC) $(CFLAGS) $(call pc_cflags,$(PKGS_SERVER)) -c $< -o $@

$(BUILD)/libcg_common.a: $(COMMON_OBJ)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libcg_exec.a: $(EXEC_OBJ)
	rm -f $@ && ar rcs $@ $^
$(BUILD)/libcg_server.a: $(SERVER_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/gateway: $(BUILD)/obj/server/main.o $(BUILD)/libcg_server.a $(BUILD)/libcg_common.a
	$(CC) $(LDFLAGS) $^ -o $@ $(call pc_libs,$(PKGS_SERVER))
$(BUILD)/executor: $(BUILD)/obj/executors/main.o $(BUILD)/libcg_exec.a $(BUILD)/libcg_common.a
	$(CC) $(LDFLAGS) $^ -o $@ $(call pc_libs,$(PKGS_EXEC))
# The launcher links nothing but libc and the shared helpers: it runs before every user program.
# runreq.c (the request and report it shares with the runner) goes into both.
LAUNCHER_ZY  := executors/launcher_zygote.c executors/launcher_nozygote.c
LAUNCHER_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out $(LAUNCHER_ZY),$(wildcard executors/launcher*.c)) \
                executors/workdir.c executors/seccomp.c executors/slotns.c executors/slotcg_run.c \
                executors/runreq.c)
$(BUILD)/launcher: $(LAUNCHER_OBJ) $(BUILD)/obj/executors/launcher_nozygote.o $(BUILD)/libcg_common.a
	$(CC) $(LDFLAGS) $(LAUNCHER_LDFLAGS) $^ -o $@
$(BUILD)/obj/executors/launcher_zygote.o: CFLAGS += $(patsubst -I%,-isystem %,$(shell $(PYTHON_CONFIG) --includes))
$(BUILD)/launcher-py: $(LAUNCHER_OBJ) $(BUILD)/obj/executors/launcher_zygote.o $(BUILD)/libcg_common.a
	$(CC) $(LDFLAGS) $^ -o $@ $(shell $(PYTHON_CONFIG) --embed --ldflags)

# Unit tests: one binary per tests/unit/test_<module>.c. A test may #include the .c under test;
# the archives then only supply what it does not define itself.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcg_server.a $(BUILD)/libcg_exec.a $(BUILD)/libcg_common.a | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/unit -Iserver -Iexecutors $(call pc_cflags,$(PKGS_SERVER) cmocka) \
	    $< -o $@ $(LDFLAGS) $(BUILD)/libcg_server.a $(BUILD)/libcg_exec.a $(BUILD)/libcg_common.a \
	    $(call pc_libs,$(PKGS_SERVER) cmocka) $(shell grep -ho '^// LDWRAP: .*' $< | sed 's#// LDWRAP: ##')
$(BUILD)/tests/helpers/%: tests/helpers/%.c | $(BUILD)/tests/helpers
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS)
# The Docker client against the real daemon (tests/docker/docker_client_check.c); run by hand.
$(BUILD)/docker_client_check: tests/docker/docker_client_check.c $(BUILD)/libcg_server.a $(BUILD)/libcg_common.a
	$(CC) $(CFLAGS) -Iserver $(call pc_cflags,$(PKGS_SERVER)) $< -o $@ $(LDFLAGS) \
	    $(BUILD)/libcg_server.a $(BUILD)/libcg_common.a $(call pc_libs,$(PKGS_SERVER))
# Micro-benchmark of common/sha256.c (docs/PERFORMANCE.md); not part of make test.
$(BUILD)/bench/sha256_bench: tests/bench/sha256_bench.c $(BUILD)/libcg_common.a | $(BUILD)/bench
	$(CC) $(CFLAGS) $< -o $@ $(LDFLAGS) $(BUILD)/libcg_common.a $(call pc_libs,libcrypto)

$(BUILD)/obj/common $(BUILD)/obj/executors $(BUILD)/obj/server $(BUILD)/tests $(BUILD)/tests/helpers $(BUILD)/bench:
	mkdir -p $@

deps:
	@scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	exec scripts/run.sh

test:
	@scripts/install-deps.sh --test
	@$(MAKE) --no-print-directory all tests-bin
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all tests-bin
	@$(MAKE) --no-print-directory SANITIZE=thread all tests-bin
	scripts/run-tests.sh

tests-bin: $(UNIT_BIN) $(HELPER_BIN)
.PHONY: tests-bin

test-unit: all tests-bin
	scripts/run-tests.sh unit

bench: deps all
	scripts/bench.sh

images:
	scripts/images.sh

format:
	clang-format -i $(wildcard include/*.h common/*.[ch] server/*.[ch] executors/*.[ch] tests/unit/*.[ch] tests/helpers/*.c)
format-check:
	clang-format --dry-run -Werror $(wildcard include/*.h common/*.[ch] server/*.[ch] executors/*.[ch] tests/unit/*.[ch] tests/helpers/*.c)

clean:
	rm -rf build
