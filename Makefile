# kiln: build, test and run the data environment.
#
#   make            build build/kiln (installs the compiler and -dev libraries first)
#   make test       install what is missing, build, run every test through prove
#   make asan       the same suite under AddressSanitizer + UBSan
#   make deps       install the Debian packages of every target (idempotent);
#                   make deps-build, deps-clang, deps-dataenv, deps-test, deps-bench: one group
#   make ml-build   build the data environment (dataenv/) with kiln
#
# Every target installs the packages it needs first (scripts/deps.sh, by group), and
# only then is the rest of this file read: pkg-config must see the -dev packages
# that deps installs, or a fresh machine links kiln without them. So make runs
# twice: the outer make (KILN_DEPS_DONE unset) runs deps.sh for the goals' groups,
# then make again with KILN_DEPS_DONE=1 and the same goals and flags (-j included).

.DEFAULT_GOAL := all

# Which scripts/deps.sh groups a goal needs; goals not named here need "build",
# goals in DEPS_NONE nothing.
DEPS_NONE := clean check-style deps deps-build deps-clang deps-dataenv deps-test deps-bench
DEPS_test := build clang dataenv test
DEPS_test-run := $(DEPS_test)
DEPS_asan := $(DEPS_test)
DEPS_check-clang := build clang
DEPS_fuzz := build clang
DEPS_ML := ml-base ml-build ml-build-slim ml-build-prod ml-lock ml-test ml-shell ml-jupyter \
  ml-api ml-versions ml-stop ml-scan ml-deploy-manifests ml-build-prometheus ml-up ml-down ml-ps ml-logs
$(foreach g,$(DEPS_ML),$(eval DEPS_$(g) := build dataenv))
DEPS_bench := build dataenv bench
DEPS_bench-quick := $(DEPS_bench)

.PHONY: deps deps-build deps-clang deps-dataenv deps-test deps-bench
deps:
	@scripts/deps.sh all
deps-build deps-clang deps-dataenv deps-test deps-bench:
	@scripts/deps.sh $(@:deps-%=%)

ifndef KILN_DEPS_DONE
GOALS := $(filter-out deps deps-%,$(or $(MAKECMDGOALS),all))
DEPS_GROUPS := $(sort $(foreach g,$(filter-out $(DEPS_NONE),$(GOALS)),$(or $(DEPS_$(g)),build)))
ifneq ($(GOALS),)
.PHONY: $(GOALS) deps-then-make
$(GOALS): deps-then-make
	@:
endif
deps-then-make:
	@$(if $(DEPS_GROUPS),scripts/deps.sh $(DEPS_GROUPS))
	@$(MAKE) --no-print-directory KILN_DEPS_DONE=1 $(filter-out deps deps-%,$(MAKECMDGOALS))
else
PKGS    := libarchive libcurl jansson libcrypto libzstd zlib libdeflate libseccomp libcap yaml-0.1
BUILD   ?= build
CC      ?= cc
OPT     ?= -O2
SAN_FLAGS :=
ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1
endif

# Read after deps.sh has run (see the top). A -dev package missing all the same is an
# error here, not an undefined reference at the link.
ifneq ($(filter-out $(DEPS_NONE),$(or $(MAKECMDGOALS),all)),)
PKG_MISSING := $(strip $(foreach p,$(PKGS),$(if $(shell pkg-config --exists $(p) && echo y),,$(p))))
ifneq ($(PKG_MISSING),)
$(error pkg-config does not find $(PKG_MISSING): run make deps-build (scripts/deps.sh build))
endif
endif
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl, libarchive and libcrypto are loaded on first use (src/util/dynload.h), not
# linked: mapping and binding them (and curl's and archive's ~37 dependencies) cost
# every kiln start ~14 ms. Their headers still come from pkg-config. libseccomp runs at
# build time only (tools/seccomp/gen_filter.c).
PKG_LIBS   := $(shell pkg-config --libs $(filter-out libcurl libarchive libseccomp libcrypto,$(PKGS)) 2>/dev/null)

CFLAGS  += -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -g $(OPT) -Isrc -I$(BUILD)/gen $(PKG_CFLAGS) $(SAN_FLAGS) -MMD -MP
LDFLAGS += $(SAN_FLAGS)
LDLIBS  += $(PKG_LIBS) -lpthread -ldl -lm
# Unit tests that write tar files with libarchive themselves link it directly.
TEST_LIBS  := $(shell pkg-config --libs libarchive 2>/dev/null)

LIB_SRCS  := $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI_SRCS  := $(sort $(wildcard src/cli/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))

LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS  := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
KILN      := $(BUILD)/kiln

.PHONY: all test test-run asan check-style check-clang clean fuzz
all: $(KILN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The container's seccomp filter, compiled once here instead of at every start.
$(BUILD)/gen/seccomp_filter.h: tools/seccomp/gen_filter.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -O1 -o $(BUILD)/gen/gen_filter $< $(shell pkg-config --libs libseccomp)
	$(BUILD)/gen/gen_filter > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/src/runtime/secure.o: $(BUILD)/gen/seccomp_filter.h

$(BUILD)/libkiln.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(KILN): $(CLI_OBJS) $(BUILD)/libkiln.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(BUILD)/libkiln.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkiln.a tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/libkiln.a $(LDLIBS) $(TEST_LIBS)

# test_opt also links the option parser, which lives in cli/ (not in libkiln.a).
$(BUILD)/tests/test_opt: tests/unit/test_opt.c $(BUILD)/obj/src/cli/opt.o $(BUILD)/libkiln.a tests/unit/tap.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(BUILD)/obj/src/cli/opt.o $(BUILD)/libkiln.a $(LDLIBS)

# Everything a test needs is built first; prove runs unit binaries and bats files alike.
test:
	@$(MAKE) --no-print-directory check-clang
	@$(MAKE) --no-print-directory test-run

test-run: $(KILN) $(UNIT_BINS) check-style
	KILN=$(abspath $(KILN)) KILN_TEST_BUILD=$(abspath $(BUILD)) \
	  prove $(PROVE_FLAGS) --exec tests/tap-exec $(UNIT_BINS) $(sort $(wildcard tests/e2e/*.bats))

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SAN=1 test-run

# The rule is gcc and clang clean: kiln built by clang too (-Werror), in
# build-clang/. clang catches what gcc lets by, such as a goto past a
# cleanup variable's initialisation.
check-clang:
	@$(MAKE) --no-print-directory BUILD=build-clang CC=clang build-clang/kiln

# git's banned.h as a check: no strcpy, strcat, sprintf, vsprintf, strtok, gets.
check-style:
	@! grep -nE '\b(strcpy|strcat|sprintf|vsprintf|strtok|gets)\(' $(LIB_SRCS) $(CLI_SRCS) \
	  | grep -vE '\b(sn|vsn|as|vas)printf\(' || { echo "banned function used (see STYLE.md)"; exit 1; }

# libFuzzer targets under ASan/UBSan, each from its committed seed corpus
# (new inputs go to build-fuzz/corpus_NAME), FUZZ_TIME seconds each (default 60):
#   dockerfile  the Dockerfile frontend (parser, expander, .dockerignore)
#   compose     compose files (libyaml reader, interpolation, model, dotenv)
#   kube        Kubernetes manifests (src/kube/ reader and model)
#   versions    kiln scan's version orders (dpkg, PEP 440, semver), CVSS, purls
#   advisories  OSV and tracker JSON -> advisory index -> scan -> reports
#   sbom        dpkg status, METADATA, package.json, copyright parsers; SPDX/CycloneDX writers
#   opt         the command line's option tables (src/cli/opt.c)
#   gotmpl      --format's Go-template subset (src/util/gotmpl.c) and tabwriter
FUZZ_TIME  ?= 60
FUZZERS    := dockerfile compose kube versions advisories sbom opt gotmpl
FUZZ_SRCS  := $(sort $(wildcard src/dockerfile/*.c src/util/*.c))
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CC     = clang -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Isrc $(PKG_CFLAGS) $(FUZZ_FLAGS)

build-fuzz/fuzz_dockerfile: fuzz/fuzz_dockerfile.c $(FUZZ_SRCS) $(wildcard src/dockerfile/*.h src/util/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -o $@ fuzz/fuzz_dockerfile.c $(FUZZ_SRCS) $(PKG_LIBS) -lpthread

# kiln scan's version orders (fuzz_versions) and advisory readers: OSV and
# tracker JSON -> index -> scan, and damaged index files (fuzz_advisories).
FUZZ_SCAN_SRCS := $(addprefix src/sbom/,version_dpkg.c version_pep440.c version_semver.c cvss.c \
  scan_input.c osv.c debtracker.c advisory_db.c scan_db.c scan_match.c scan_report.c) \
  $(sort $(wildcard src/util/*.c))
FUZZ_SCAN_LIBS := $(shell pkg-config --libs libarchive jansson 2>/dev/null) -lm -ldl -lpthread

build-fuzz/fuzz_versions build-fuzz/fuzz_advisories: build-fuzz/%: fuzz/%.c $(FUZZ_SCAN_SRCS) \
  $(wildcard src/sbom/*.h src/util/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -o $@ $< $(FUZZ_SCAN_SRCS) $(FUZZ_SCAN_LIBS)

# The model's files only (reader, interpolation, merge, normal form), not the
# runtime's (up, down, ...), which need the store and the runtime.
COMPOSE_FUZZ_SRCS := $(addprefix src/compose/,emit.c interp.c merge.c project.c service.c service_values.c \
  syntax.c yaml.c) $(sort $(wildcard src/util/*.c))
build-fuzz/fuzz_compose: fuzz/fuzz_compose.c $(COMPOSE_FUZZ_SRCS) $(wildcard src/compose/*.h src/util/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -o $@ fuzz/fuzz_compose.c $(COMPOSE_FUZZ_SRCS) $(PKG_LIBS) -lpthread -ldl

# The Kubernetes manifest reader (src/kube/: libyaml trees, the checked model,
# the emitter's round trip).
FUZZ_KUBE_SRCS := src/kube/yaml.c src/kube/read.c src/kube/pod.c src/kube/model.c $(wildcard src/util/*.c)
build-fuzz/fuzz_kube: fuzz/fuzz_kube.c $(FUZZ_KUBE_SRCS) $(wildcard src/kube/*.h src/util/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -o $@ fuzz/fuzz_kube.c $(FUZZ_KUBE_SRCS) $(PKG_LIBS) -lpthread

# The SBOM parsers (dpkg status, METADATA/PKG-INFO, package.json, copyright,
# os-release) and both writers; seeds in fuzz/corpus_sbom.
SBOM_FUZZ_SRCS := src/sbom/parse.c src/sbom/model.c src/sbom/license.c src/sbom/spdx.c \
  src/sbom/cyclonedx.c $(sort $(wildcard src/util/*.c))
build-fuzz/fuzz_sbom: fuzz/fuzz_sbom.c $(SBOM_FUZZ_SRCS) $(wildcard src/sbom/*.h src/util/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -o $@ fuzz/fuzz_sbom.c $(SBOM_FUZZ_SRCS) $(PKG_LIBS) -lpthread -ldl

# The command line's option-table parser (argv from the input split at NULs).
build-fuzz/fuzz_opt: fuzz/fuzz_opt.c src/cli/opt.c src/cli/opt.h $(wildcard src/util/*.c src/util/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -o $@ fuzz/fuzz_opt.c src/cli/opt.c $(wildcard src/util/*.c) $(PKG_LIBS) -lpthread -ldl

# --format templates: parse, execute, render as a table (src/util/gotmpl.c).
build-fuzz/fuzz_gotmpl: fuzz/fuzz_gotmpl.c $(wildcard src/util/*.c src/util/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -o $@ fuzz/fuzz_gotmpl.c $(wildcard src/util/*.c) $(PKG_LIBS) -lpthread -ldl

# Each fuzzer NAME reads fuzz/corpus_NAME (the Dockerfile's: fuzz/corpus) and
# fuzz/NAME.dict when there is one.
fuzz: $(FUZZERS:%=build-fuzz/fuzz_%)
	@set -e; for f in $(FUZZERS); do \
	  corpus=fuzz/corpus_$$f; [ $$f = dockerfile ] && corpus=fuzz/corpus; \
	  dict=; [ -f fuzz/$$f.dict ] && dict=-dict=fuzz/$$f.dict; \
	  mkdir -p build-fuzz/corpus_$$f; echo "== fuzz $$f ($(FUZZ_TIME) s)"; \
	  build-fuzz/fuzz_$$f -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 \
	    -max_len=8192 $$dict -print_final_stats=1 build-fuzz/corpus_$$f $$corpus; \
	done

clean:
	rm -rf build build-asan build-clang build-fuzz

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d)

# ---------------------------------------------------------------- the data environment
# tools/healthcheck: the images' HEALTHCHECK, static and small (musl when installed).
HEALTHCHECK_BIN := $(BUILD)/healthcheck
MUSL_CC := $(shell command -v musl-gcc 2>/dev/null)
HC_CC   := $(if $(MUSL_CC),$(MUSL_CC),$(CC))
HC_FLAGS := -std=c17 -D_GNU_SOURCE -Wall -Wextra -Werror -Os -static -s -ffunction-sections \
  -fdata-sections -fno-asynchronous-unwind-tables -Wl,--gc-sections -Wl,--build-id=none

.PHONY: healthcheck
healthcheck: $(HEALTHCHECK_BIN)
$(HEALTHCHECK_BIN): tools/healthcheck/healthcheck.c
	@mkdir -p $(dir $@)
	$(HC_CC) $(HC_FLAGS) -o $@ $<
all test-run: $(HEALTHCHECK_BIN)

# The data environment, built and run by kiln (docs/dataenv.md). Variables:
#   ML_NAME (dataenv)  ML_FLAGS (extra scripts/build-ml-container.sh flags)
#   KILN_BIN (the kiln to drive; default the one built here)
#   ML_LOCK_DIR (dataenv/locks: where ml-lock writes)
#   ML_BASE_LOCK ($(ML_LOCK_DIR)/base.lock: the base image's pin, written by ml-base)
#   ML_API_PORT (8000), ML_JUPYTER_PORT (8888): host ports (host network)
ML_NAME    ?= dataenv
ML_FLAGS   ?=
ML_LOCK_DIR ?= dataenv/locks
ML_API_PORT ?= 8000
ML_JUPYTER_PORT ?= 8888
KILN_BIN   ?= $(abspath $(KILN))
ML_IMAGE   := $(ML_NAME):latest
ML_PROD    := $(ML_NAME):latest-prod
ML_BASE    := $(shell sed -n 's/^BASE_IMAGE=//p' dataenv/config/versions.conf)
ML_BASE_EPOCH := $(shell sed -n 's/^BASE_SOURCE_DATE_EPOCH=//p' dataenv/config/versions.conf)
# PLATFORM: target platform(s) of ml-build-prod, ml-test and ml-api (e.g.
# linux/arm64: built and run under QEMU). ML_BASE_PLATFORMS: the platforms
# ml-base makes, one index tag: linux/amd64 and linux/arm64 (issue 16), plus any
# other of PLATFORM's. The foreign base is an mmdebstrap under QEMU (qemu-user-static,
# binfmt-support, arch-test: scripts/deps.sh dataenv): about 20 minutes once on a
# fresh 2-core machine, then cached in /var/tmp/kiln-base (later runs import the
# tar in seconds, or nothing when the store has it). The host's entry is the image
# imported as before, so the builds' cache keys do not move. ML_BASE_PLATFORMS=
# linux/amd64 makes the host's base alone (no QEMU needed).
comma := ,
PLATFORM   ?=
ML_HOST_PLATFORM := linux/$(shell dpkg --print-architecture 2>/dev/null || echo amd64)
ML_BASE_PLATFORMS ?= linux/amd64,linux/arm64$(foreach p,$(filter-out linux/amd64 linux/arm64 linux/arm64/v8,$(subst $(comma), ,$(PLATFORM))),$(comma)$(p))
ML_PLATFORM_FLAG = $(if $(PLATFORM),--platform $(PLATFORM) )
ML_BASE_LOCK ?= $(ML_LOCK_DIR)/base.lock
ML_BUILD   := KILN=$(KILN_BIN) DATAENV_BASE_LOCK=$(ML_BASE_LOCK) scripts/build-ml-container.sh --name $(ML_NAME)
ML_KILN_HAS = $(KILN_BIN) help $(1) >/dev/null 2>&1 || { echo "kiln $(1) is not available yet in $(KILN_BIN)"; exit 1; }

.PHONY: ml-base ml-build ml-build-slim ml-build-prod ml-build-prometheus ml-up ml-down ml-ps ml-logs ml-lock ml-test ml-shell ml-jupyter \
        ml-api ml-versions ml-stop ml-scan ml-sbom bench bench-quick

# debian:bookworm-slim into the store: pulled when a registry is reachable
# (ML_BASE_PULL=REF), else mmdebstrap (cached in /var/tmp/kiln-base) + kiln import,
# skipped when the store's image came from the same tar (named in its history).
# Then its digest is recorded in ML_BASE_LOCK (dataenv/locks/base.lock): the pin the
# build's FROM names (BASE_IMAGE@BASE_DIGEST).
ml-base: $(KILN)
	@$(call ML_KILN_HAS,import)
	@if [ -n "$(ML_BASE_PULL)" ] && $(KILN_BIN) pull $(ML_BASE_PULL) >/dev/null; then \
	  $(KILN_BIN) tag $(ML_BASE_PULL) $(ML_BASE); \
	else \
	  tar=$$(scripts/ml-base.sh) && msg="mmdebstrap bookworm minbase ($${tar##*/})"; \
	  if [ "$$($(KILN_BIN) inspect $(ML_BASE) 2>/dev/null | jq -r '.[0].config.history[-1].comment')" = "$$msg" ]; then \
	    echo "$(ML_BASE): up to date ($${tar##*/})"; \
	  else \
	    SOURCE_DATE_EPOCH=$${BASE_SOURCE_DATE_EPOCH:-$(ML_BASE_EPOCH)} $(KILN_BIN) import "$$tar" -t $(ML_BASE) -c 'CMD ["bash"]' -m "$$msg"; \
	  fi; \
	  host=linux/$$(dpkg --print-architecture); \
	  for p in $$(echo "$(ML_BASE_PLATFORMS)" | tr ',' ' '); do \
	    [ "$$p" = "$$host" ] && continue; a=$${p#linux/}; \
	    tar=$$(scripts/ml-base.sh --arch $$a) && msg="mmdebstrap bookworm minbase ($${tar##*/})" || { \
	      echo "ml-base: the $$p base needs QEMU user emulation (scripts/deps.sh dataenv: qemu-user-static binfmt-support arch-test); ML_BASE_PLATFORMS=$(ML_HOST_PLATFORM) makes the host's alone" >&2; exit 1; }; \
	    if [ "$$($(KILN_BIN) inspect --platform $$p $(ML_BASE) 2>/dev/null | jq -r '.[0].config.history[-1].comment')" = "$$msg" ]; then \
	      echo "$(ML_BASE) $$p: up to date ($${tar##*/})"; continue; fi; \
	    SOURCE_DATE_EPOCH=$${BASE_SOURCE_DATE_EPOCH:-$(ML_BASE_EPOCH)} $(KILN_BIN) import --platform $$p "$$tar" -t $(ML_BASE)-$$a -c 'CMD ["bash"]' -m "$$msg" && \
	    $(KILN_BIN) index $(ML_BASE) $(ML_BASE) $(ML_BASE)-$$a >/dev/null || exit 1; \
	  done; \
	fi
	@set -e; d=$$($(KILN_BIN) inspect $(ML_BASE) | jq -r '.[0].indexDigest // .[0].digest'); lock=$(ML_BASE_LOCK); \
	if ! grep -qx "BASE_DIGEST=$$d" $$lock 2>/dev/null || ! grep -qx "BASE_IMAGE=$(ML_BASE)" $$lock; then \
	  mkdir -p $(dir $(ML_BASE_LOCK)); \
	  { echo "# dataenv base image pin (make ml-base): the manifest digest of BASE_IMAGE in this"; \
	    echo "# machine's store, as kiln inspect reports it; the build's FROM names BASE_IMAGE@BASE_DIGEST."; \
	    echo "BASE_IMAGE=$(ML_BASE)"; echo "BASE_DIGEST=$$d"; } > $$lock.tmp; \
	  mv $$lock.tmp $$lock; echo "pinned $(ML_BASE)@$$d in $$lock"; \
	fi

ml-build: $(KILN) ml-base
	$(ML_BUILD) $(ML_FLAGS)

ml-build-slim: $(KILN) ml-base
	$(ML_BUILD) --slim $(ML_FLAGS)

ml-build-prod: $(KILN) ml-base
	$(ML_BUILD) --target production $(ML_PLATFORM_FLAG)$(ML_FLAGS)

# The stack's monitoring image: Debian's prometheus on the same pinned base
# (dataenv/prometheus/Dockerfile; PROMETHEUS_VERSION in versions.conf).
ML_PROMETHEUS := $(ML_NAME)-prometheus:latest
ML_PROMETHEUS_VERSION := $(shell sed -n 's/^PROMETHEUS_VERSION=//p' dataenv/config/versions.conf)
ml-build-prometheus: $(KILN) $(HEALTHCHECK_BIN) ml-base
	@set -e; st=dataenv/prometheus/.stage; mkdir -p $$st; \
	cp dataenv/bin/apt-install $$st/apt-install; cp $(HEALTHCHECK_BIN) $$st/healthcheck; \
	digest=$$(sed -n 's/^BASE_DIGEST=//p' $(ML_BASE_LOCK) | tail -n 1); \
	SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-$(ML_BASE_EPOCH)} $(KILN_BIN) build -t $(ML_PROMETHEUS) \
	  --build-arg BASE_IMAGE=$(ML_BASE) --build-arg BASE_DIGEST=$$digest \
	  --build-arg PROMETHEUS_VERSION=$(ML_PROMETHEUS_VERSION) dataenv/prometheus

# The stack, dataenv/compose.yaml (docs/dataenv.md): api (production image), jupyter
# (development image, token from a compose secret), prometheus; one kiln pod, ports
# on 127.0.0.1 (API_PORT, JUPYTER_PORT, PROMETHEUS_PORT from the environment or
# dataenv/.env). ml-up builds the images that are missing, writes a random Jupyter
# token when its secret file is absent (JUPYTER_TOKEN_FILE, default
# dataenv/secrets/jupyter_token, mode 0600, git-ignored), starts the stack and
# returns once every service is healthy, printing the URLs.
ML_COMPOSE := $(KILN_BIN) compose -f dataenv/compose.yaml
# the secret file as compose resolves it (environment, then dataenv/.env, then the default)
ML_TOKEN = tok=$${JUPYTER_TOKEN_FILE:-$$(sed -n 's/^JUPYTER_TOKEN_FILE=//p' dataenv/.env 2>/dev/null | tail -n 1)}; \
  tok=$${tok:-./secrets/jupyter_token}; case $$tok in /*) ;; *) tok=dataenv/$${tok\#./} ;; esac; \
  if [ ! -s "$$tok" ]; then mkdir -p "$$(dirname "$$tok")"; (umask 077; openssl rand -hex 24 > "$$tok.tmp") && \
    mv "$$tok.tmp" "$$tok" && echo "wrote a new Jupyter token to $$tok"; fi
ml-up: $(KILN)
	@$(call ML_KILN_HAS,compose)
	@set -e; \
	$(KILN_BIN) inspect $(ML_PROD) >/dev/null 2>&1 || $(MAKE) --no-print-directory ml-build-prod; \
	$(KILN_BIN) inspect $(ML_IMAGE) >/dev/null 2>&1 || $(MAKE) --no-print-directory ml-build; \
	$(KILN_BIN) inspect $(ML_PROMETHEUS) >/dev/null 2>&1 || $(MAKE) --no-print-directory ml-build-prometheus; \
	$(ML_TOKEN); \
	start=$$(date +%s.%N); \
	$(ML_COMPOSE) up -d --wait; \
	cfg=$$($(ML_COMPOSE) config --format json); \
	url() { echo "$$cfg" | jq -r --arg s "$$1" '.services[$$s].ports[0] | "http://\(.host_ip // "127.0.0.1"):\(.published)"'; }; \
	echo "stack healthy after $$(awk -v s=$$start -v e=$$(date +%s.%N) 'BEGIN{printf "%.1f", e-s}') s"; \
	echo "  API:        $$(url api)/docs   (health: $$(url api)/health, metrics: $$(url api)/metrics)"; \
	echo "  Jupyter:    $$(url jupyter)/?token=$$(cat "$$tok")"; \
	echo "  Prometheus: $$(url prometheus)/targets"

ml-down: $(KILN)
	@$(call ML_KILN_HAS,compose)
	@set -e; $(ML_TOKEN) >/dev/null; $(ML_COMPOSE) down $(ML_DOWN_FLAGS)

ml-ps: $(KILN)
	@$(call ML_KILN_HAS,compose)
	@set -e; $(ML_TOKEN) >/dev/null; $(ML_COMPOSE) ps

# ML_LOGS_FLAGS: e.g. "-f", "--tail 20", "api"
ml-logs: $(KILN)
	@$(call ML_KILN_HAS,compose)
	@set -e; $(ML_TOKEN) >/dev/null; $(ML_COMPOSE) logs $(ML_LOGS_FLAGS)

# dataenv/deploy/generated: the Kubernetes manifests' image layer (image by digest,
# probes from its HEALTHCHECK, versions ConfigMap) for the production image in the
# store (production builds write it too; after a push, with the pushed digest).
# ML_DEPLOY_NAME: the name the cluster pulls (default $(ML_NAME)). docs/kube.md.
ML_DEPLOY_NAME ?= $(ML_NAME)
ml-deploy-manifests: $(KILN)
	KILN=$(KILN_BIN) scripts/ml-deploy-manifests.sh --image $(ML_PROD) --name $(ML_DEPLOY_NAME)

# apt.lock (package=version of every Debian package, per image, as dpkg-query lists
# it in the built images) and requirements.lock (pip freeze in the development image).
ml-lock: $(KILN)
	@$(call ML_KILN_HAS,run)
	@set -e; mkdir -p $(ML_LOCK_DIR); out=$(ML_LOCK_DIR)/apt.lock; tmp=$$out.tmp; n=0; \
	echo "# dataenv apt lock: package=version of every Debian package, per image (make ml-lock)" > $$tmp; \
	for img in $(ML_IMAGE) $(ML_PROD); do \
	  if ! $(KILN_BIN) inspect $$img >/dev/null 2>&1; then echo "ml-lock: no image $$img, not locked (make ml-build / ml-build-prod)"; continue; fi; \
	  echo "# image: $$img" >> $$tmp; n=$$((n + 1)); \
	  $(KILN_BIN) run --rm --user 0 --entrypoint dpkg-query $$img -W -f '$${db:Status-Abbrev} $${Package}=$${Version}\n' \
	    | awk '$$1 == "ii" { print $$2 }' | LC_ALL=C sort >> $$tmp; \
	done; \
	[ $$n -gt 0 ] || { rm -f $$tmp; echo "ml-lock: neither $(ML_IMAGE) nor $(ML_PROD) is built"; exit 1; }; \
	mv $$tmp $$out; echo "wrote $$out ($$(grep -vc '^#' $$out) entries)"
	@set -e; out=$(ML_LOCK_DIR)/requirements.lock; \
	if $(KILN_BIN) inspect $(ML_IMAGE) >/dev/null 2>&1; then \
	  $(KILN_BIN) run --rm -e PIP_DISABLE_PIP_VERSION_CHECK=1 $(ML_IMAGE) python -m pip freeze --all > $$out.tmp; \
	  mv $$out.tmp $$out; echo "wrote $$out ($$(wc -l < $$out) packages)"; \
	fi

# The development image's health check and the app's tests inside it; with a
# foreign PLATFORM (e.g. linux/arm64, under QEMU): the production image's imports
# and its health check (the development image is linux/amd64 only).
ML_FOREIGN = $(filter-out linux/$(shell dpkg --print-architecture 2>/dev/null),$(PLATFORM))
ml-test: $(KILN)
	@$(call ML_KILN_HAS,run)
ifneq ($(ML_FOREIGN),)
	$(KILN_BIN) run --rm --platform $(PLATFORM) --entrypoint python3 $(ML_PROD) -c 'import fastapi, uvicorn, platform; print("imports ok on", platform.machine())'
	@rc=0; $(MAKE) --no-print-directory ml-api PLATFORM=$(PLATFORM) ML_API_PORT=$(ML_API_PORT) || rc=$$?; \
	  $(MAKE) --no-print-directory ml-stop >/dev/null; exit $$rc
else
	$(KILN_BIN) run --rm $(ML_IMAGE) python -c 'import fastapi, pandas, numpy, sqlalchemy; print("imports ok")'
	$(KILN_BIN) run --rm $(ML_IMAGE) duckdb -c "SELECT region, count(*) AS orders FROM read_csv('app/data/sales.csv') GROUP BY region ORDER BY region"
	$(KILN_BIN) run --rm $(ML_IMAGE) python -m pytest
	$(KILN_BIN) run --rm $(ML_IMAGE) sh -c 'flake8 app tests && mypy app'
endif

ml-shell: $(KILN)
	@$(call ML_KILN_HAS,shell)
	$(KILN_BIN) shell $(ML_IMAGE)

ml-jupyter: $(KILN)
	@$(call ML_KILN_HAS,run)
	@set -e; token=$$(openssl rand -hex 24); url=http://127.0.0.1:$(ML_JUPYTER_PORT); \
	$(KILN_BIN) rm -f $(ML_NAME)-jupyter >/dev/null 2>&1 || true; \
	$(KILN_BIN) run -d --name $(ML_NAME)-jupyter $(ML_IMAGE) jupyter notebook --no-browser \
	  --ip 127.0.0.1 --port $(ML_JUPYTER_PORT) --NotebookApp.token=$$token --notebook-dir /workspace >/dev/null; \
	for i in $$(seq 150); do curl -fsS -o /dev/null "$$url/api?token=$$token" 2>/dev/null && break; sleep 0.2; done; \
	curl -fsS -o /dev/null "$$url/api?token=$$token" || { echo "jupyter did not answer on $$url"; exit 1; }; \
	echo "Jupyter: $$url/?token=$$token"

# The production image detached; waits until kiln ps shows it healthy (its own
# HEALTHCHECK), prints the time from kiln run -d, then /health.
ml-api: $(KILN)
	@$(call ML_KILN_HAS,run)
	@set -e; $(KILN_BIN) rm -f $(ML_NAME)-api >/dev/null 2>&1 || true; \
	start=$$(date +%s.%N); \
	$(KILN_BIN) run -d $(ML_PLATFORM_FLAG)--name $(ML_NAME)-api -e UVICORN_PORT=$(ML_API_PORT) \
	  -e HEALTHCHECK_URL=http://127.0.0.1:$(ML_API_PORT)/health $(ML_PROD) >/dev/null; \
	for i in $$(seq 1500); do \
	  st=$$($(KILN_BIN) ps | awk '$$NF == "$(ML_NAME)-api"'); \
	  case "$$st" in *"(healthy)"*) break ;; *"(unhealthy)"*|"") break ;; esac; sleep 0.02; \
	done; \
	case "$$st" in *"(healthy)"*) ;; *) echo "$(ML_NAME)-api is not healthy: $${st:-not running}"; \
	  $(KILN_BIN) logs $(ML_NAME)-api | tail -n 20; exit 1 ;; esac; \
	echo "API healthy after $$(awk -v s=$$start -v e=$$(date +%s.%N) 'BEGIN{printf "%.2f", e-s}') s: http://127.0.0.1:$(ML_API_PORT)/health"; \
	echo "  API page: http://127.0.0.1:$(ML_API_PORT)/docs   metrics: http://127.0.0.1:$(ML_API_PORT)/metrics"; \
	curl -fsS http://127.0.0.1:$(ML_API_PORT)/health; echo

# The production image's SBOM (docs/sbom.md), read from its layers: SPDX 2.3 and
# CycloneDX 1.5 JSON in ML_SBOM_DIR, and the table on stdout.
ML_SBOM_DIR ?= $(BUILD)/sbom
ml-sbom: $(KILN)
	@$(call ML_KILN_HAS,sbom)
	@mkdir -p $(ML_SBOM_DIR)
	$(KILN_BIN) sbom $(ML_PROD) --format spdx-json -o $(ML_SBOM_DIR)/$(ML_NAME)-prod.spdx.json
	$(KILN_BIN) sbom $(ML_PROD) --format cyclonedx-json -o $(ML_SBOM_DIR)/$(ML_NAME)-prod.cdx.json
	$(KILN_BIN) sbom $(ML_PROD) --format table

ml-versions: $(KILN)
	@if $(KILN_BIN) help versions >/dev/null 2>&1; then $(KILN_BIN) versions $(ML_IMAGE); \
	else $(call ML_KILN_HAS,run); $(KILN_BIN) run --rm $(ML_IMAGE) ml-versions; fi

# The vulnerability scan of the production image (SCAN_ALL=1 adds the development
# image) against the databases imported under the store (docs/scan.md), as the
# CI step runs it: SCAN_FLAGS (default: fail on HIGH and CRITICAL) go to kiln scan.
SCAN_FLAGS ?= --severity HIGH,CRITICAL --exit-code 1
ml-scan: $(KILN)
	@$(call ML_KILN_HAS,scan)
	@imgs="$(ML_PROD)"; [ "$(SCAN_ALL)" = 1 ] && imgs="$$imgs $(ML_IMAGE)"; rc=0; \
	for img in $$imgs; do echo "== kiln scan $(SCAN_FLAGS) $$img"; \
	  $(KILN_BIN) scan $(SCAN_FLAGS) $$img || rc=$$?; done; exit $$rc

ml-stop: $(KILN)
	-@for c in $(ML_NAME)-api $(ML_NAME)-jupyter; do $(KILN_BIN) stop $$c >/dev/null 2>&1 && echo "stopped $$c"; \
	  $(KILN_BIN) rm -f $$c >/dev/null 2>&1; done; true

# Benchmarks against the peers (docs/benchmarks.md). Never part of `make test`.
bench: $(KILN) $(HEALTHCHECK_BIN)
	bench/run-all.sh --full

bench-quick: $(KILN) $(HEALTHCHECK_BIN)
	bench/run-all.sh --quick

endif # KILN_DEPS_DONE
