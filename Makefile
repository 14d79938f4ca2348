# kiln: build, test and run the data environment.
#
#   make            build build/kiln
#   make test       install what is missing, build, run every test through prove
#   make asan       the same suite under AddressSanitizer + UBSan
#   make deps       install the Debian packages kiln needs (idempotent)
#   make ml-build   build the data environment (dataenv/) with kiln

PKGS    := libarchive libcurl jansson libcrypto libzstd zlib libseccomp libcap
BUILD   ?= build
CC      ?= cc
OPT     ?= -O2
SAN_FLAGS :=
ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) -Isrc $(PKG_CFLAGS) $(SAN_FLAGS) -MMD -MP
LDFLAGS += $(SAN_FLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread

LIB_SRCS  := $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI_SRCS  := $(sort $(wildcard src/cli/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
KILN      := $(BUILD)/kiln

.PHONY: all deps test test-run asan check-style clean fuzz
all: $(KILN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/libkiln.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(KILN): $(CLI_OBJS) $(BUILD)/libkiln.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libkiln.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkiln.a tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libkiln.a $(LDLIBS)

deps:
	@scripts/deps.sh

# Everything a test needs is built first; prove runs unit binaries and bats files alike.
test: deps
	@$(MAKE) --no-print-directory test-run

test-run: $(KILN) $(UNIT_BINS) check-style
	KILN=$(abspath $(KILN)) KILN_TEST_BUILD=$(abspath $(BUILD)) \
	  prove $(PROVE_FLAGS) --exec tests/tap-exec $(UNIT_BINS) $(sort $(wildcard tests/e2e/*.bats))

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 test-run

# git's banned.h as a check: no strcpy, strcat, sprintf, vsprintf, strtok, gets.
check-style:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|gets)\(' $(LIB_SRCS) $(CLI_SRCS) \
	  | grep -vE '\b(sn|vsn|as|vas)printf\(' || { echo "banned function used (see STYLE.md)"; exit 1; }

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)
