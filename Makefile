# coreseal: thin wrapper around CMake. `make demo` and `make test` work on a
# fresh Debian 12 machine: missing packages are installed (as root) or the
# apt-get line to run is printed.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 30
MAKEFLAGS += --no-print-directory
CMAKE_FLAGS ?=

DEPS := build-essential cmake pkg-config libssl-dev libcmocka-dev libjansson-dev libsqlite3-dev libmicrohttpd-dev libhiredis-dev redis-server curl libcoap3-bin tshark openssl python3 libcurl4-openssl-dev
CLANG_DEPS := clang-14 libclang-rt-14-dev
ARM_DEPS := gcc-arm-none-eabi libnewlib-arm-none-eabi

.PHONY: all deps build test demo asan fuzz footprint bench install clean format

all: build

deps:
	@scripts/deps.sh $(DEPS)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

demo: build
	$(BUILD)/apps/coreseal/coreseal demo

# The whole suite once more, built by clang with AddressSanitizer and UBSan.
asan:
	@scripts/deps.sh $(DEPS) $(CLANG_DEPS)
	@CC=clang-14 cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DCORESEAL_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j$(JOBS)

# Every libFuzzer target for FUZZ_SECONDS each, starting from fuzz/corpus/.
fuzz:
	@scripts/deps.sh $(DEPS) $(CLANG_DEPS)
	@CC=clang-14 cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCORESEAL_FUZZ=ON -DCORESEAL_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS)
	scripts/run-fuzzers.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

# Flash/RAM of the sans-I/O core on a Cortex-M4 (no crypto backend).
footprint:
	@scripts/deps.sh $(ARM_DEPS)
	scripts/footprint.sh

# Benchmarks, printing tables (bench/run.sh; numbers are measured, never stored).
bench: build
	bench/run.sh $(BUILD)

install: build
	cmake --install $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) build-footprint
