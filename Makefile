# shelfwatch developer entry points. `make demo` and `make test` are the README quickstart:
# both install missing Debian packages first (scripts/install-deps.sh, idempotent).
SHELL := /bin/bash
JOBS ?= 2
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
SHELFWATCH := $(BUILD)/cli/shelfwatch

.PHONY: all deps deps-e2e configure build demo test test-unit sanitize-test bench fuzz fuzz-build fuzz-merge package format clean

all: build

deps:
	@bash scripts/install-deps.sh

deps-e2e:
	@SHELFWATCH_E2E_DEPS=1 bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSHELFWATCH_WERROR=ON $(CMAKE_EXTRA) > $(BUILD).configure.log 2>&1 || \
	  { cat $(BUILD).configure.log; exit 1; }

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# Generates a 20-store x 200-SKU x 60-day sample (with 0.1% malformed records) and runs the
# pipeline on it with examples/demo.yaml; prints the summary.
demo: build
	@rm -rf demo/state demo/out && mkdir -p demo
	@$(SHELFWATCH) gen --stores 20 --skus 200 --days 60 --seed 7 --bad-rate 0.001 \
	  --out demo/events.jsonl --truth demo/truth.jsonl
	@$(SHELFWATCH) run --config examples/demo.yaml

test: deps-e2e build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) --timeout 900

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -L unit

# ASan + UBSan build of every test (CI runs it after `make test`).
sanitize-test: deps-e2e
	@$(MAKE) --no-print-directory build BUILD=build-asan BUILD_TYPE=Debug \
	  CMAKE_EXTRA="-DSHELFWATCH_SANITIZE=ON"
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS) --timeout 1800

bench: build
	@bash bench/run.sh $(BUILD)

# libFuzzer targets (clang, ASan+UBSan): decoder, config, timestamp, csv, http_path.
# `make fuzz` replays fuzz/regressions, then fuzzes each target for FUZZ_SECONDS from the
# corpus kept in fuzz/corpus/<target> (FUZZ_TARGETS="timestamp csv" to pick); fails on any
# crash. `make fuzz-merge` minimises what the runs found back into fuzz/corpus (-merge=1).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz-build: deps
	@CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSHELFWATCH_FUZZ=ON -DSHELFWATCH_TESTS=OFF > build-fuzz.configure.log 2>&1 || \
	  { cat build-fuzz.configure.log; exit 1; }
	@cmake --build build-fuzz -j$(JOBS) --target fuzz_decoder fuzz_config fuzz_timestamp fuzz_csv fuzz_http_path

fuzz: fuzz-build
	@bash fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-merge: fuzz-build
	@bash fuzz/run.sh build-fuzz merge $(FUZZ_TARGETS)

# The Debian package (CPack; runtime dependencies from dpkg-shlibdeps): $(BUILD)/shelfwatch_*.deb.
package: build
	@cd $(BUILD) && cpack -G DEB

format:
	@git ls-files '*.h' '*.cpp' | xargs clang-format -i

clean:
	@rm -rf build build-asan build-fuzz demo fuzz-artifacts fuzz-corpus-*
