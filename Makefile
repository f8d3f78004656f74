# Quick start on Debian bookworm:  make run   |   make test
# Everything real lives in CMake; this file only chains install -> build -> run/test.
BUILD      ?= build
ASAN_BUILD ?= build-asan
REL_BUILD  ?= build-release
JOBS       ?= $(shell nproc)
CMAKE_ARGS ?=

.PHONY: all deps test-deps build build-release run test test-asan install clean cross-arm64

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_ARGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# CMake's Release (-O3) with gcc, as distributions build it: -O3 raises warnings
# (-Wformat-truncation) that the default RelWithDebInfo (-O2) does not, and CI
# (.ci/run, -Werror) must see them. Unit tests only: the suite runs in $(BUILD).
build-release: deps
	cmake -S . -B $(REL_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=gcc \
		-DCMAKE_CXX_COMPILER=g++ $(CMAKE_ARGS)
	cmake --build $(REL_BUILD) -j $(JOBS)
	ctest --test-dir $(REL_BUILD) -R '^unit-' --output-on-failure -j $(JOBS)

# Starts the daemon on its embedded defaults: HTTP on 127.0.0.1:8080, SQLite in ./data.
run: build
	$(BUILD)/bin/scanbridged $(ARGS)

# The whole suite, then again under AddressSanitizer + UBSan.
test: test-deps build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) test-asan
	$(MAKE) test-fuzz

test-asan: test-deps
	cmake -S . -B $(ASAN_BUILD) -DSB_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# libFuzzer targets (tests/fuzz), built with clang + ASan/UBSan in $(FUZZ_BUILD).
# test-fuzz gives each a few seconds under CTest; fuzz runs each FUZZ_SECONDS on
# its seed corpus, keeping new inputs in $(FUZZ_BUILD)/fuzz-corpus/<target> and
# crashes in $(FUZZ_BUILD)/fuzz-artifacts/ (the checked-in seeds stay as they are).
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS  = $(basename $(notdir $(wildcard tests/fuzz/fuzz_*.c)))
.PHONY: fuzz test-fuzz

test-fuzz: test-deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DSB_FUZZ=ON $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	ctest --test-dir $(FUZZ_BUILD) -L fuzz --output-on-failure

fuzz: test-deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DSB_FUZZ=ON $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@mkdir -p $(FUZZ_BUILD)/fuzz-artifacts
	@rc=0; for t in $(FUZZ_TARGETS); do \
		echo "== $$t: $(FUZZ_SECONDS) s"; \
		mkdir -p $(FUZZ_BUILD)/fuzz-corpus/$$t; \
		$(FUZZ_BUILD)/bin/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/fuzz-artifacts/$$t- \
			$(FUZZ_BUILD)/fuzz-corpus/$$t tests/fuzz/corpus/$$t || rc=1; \
	done; exit $$rc

install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(REL_BUILD) build-fuzz build-arm64
	@echo "(build-image/, the appliance's caches and images: rm -rf build-image)"

# Cross build for arm64 (Raspberry Pi) against a Debian sysroot; the unit tests
# run under qemu-user. Needs: mmdebstrap gcc-aarch64-linux-gnu qemu-user.
SYSROOT_ARM64 ?= sysroot-arm64
cross-arm64:
	@scripts/install-deps.sh cross
	[ -d $(SYSROOT_ARM64)/usr/include ] || scripts/make-sysroot.sh arm64 $(SYSROOT_ARM64)
	cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-arm64.cmake -DSB_SYSROOT=$(abspath $(SYSROOT_ARM64))
	cmake --build build-arm64 -j $(JOBS)
	ctest --test-dir build-arm64 -R unit --output-on-failure -j $(JOBS)

# Benchmarks (issues 4 and "Performance II"; not part of `make test`):
# footprint, 10,000 idle connections, durable throughput at 10x4 and 100x2
# (interleaved) with the daemon's and the sim's CPU per scan, latency at 1,000
# and 10,000 scans/s, and the same runs against the Node peer in
# tests/bench/peer. Every target is printed with meets/MISSES (medians of
# RUNS=3). About 15 minutes; results in docs/benchmarks.md.
# One at a time: tests/bench/bench.py --help
# bench-flame: perf profile of the daemon at 100 sessions x 2 scanners ->
# $(BUILD)/bench/flame.svg, flame.folded, perf.data (tests/bench/flame.py).
.PHONY: bench bench-deps bench-flame
bench-deps:
	@command -v node >/dev/null && command -v npm >/dev/null || \
		$$([ "$$(id -u)" -eq 0 ] || echo sudo) apt-get install -y --no-install-recommends nodejs npm
	@[ -d tests/bench/peer/node_modules/better-sqlite3 ] || (cd tests/bench/peer && npm ci --no-audit --no-fund)

bench: build bench-deps
	python3 tests/bench/flame.py --self-test
	BUILD=$(BUILD) python3 tests/bench/bench.py all

bench-flame: build
	@command -v perf >/dev/null || \
		$$([ "$$(id -u)" -eq 0 ] || echo sudo) apt-get install -y --no-install-recommends linux-perf
	python3 tests/bench/flame.py --self-test
	BUILD=$(BUILD) python3 tests/bench/bench.py profile --tool perf --sessions 100 --scanners 2

# The appliance (docs/appliance.md): Debian packages, flashable images and
# their boot smoke test under qemu (TCG). Everything lands in build-image/:
# deb/<arch>/ the packages, cache/ the base root filesystems, out/ the
# images (.img.xz + .sha256). Needs root (image files keep owners).
.PHONY: image-deps deb deb-arm64 image-x86 image-rpi image-test
image-deps:
	@scripts/install-deps.sh image

deb: image-deps
	image/build-deb.sh amd64

deb-arm64: image-deps
	[ -d $(SYSROOT_ARM64)/usr/include ] || scripts/make-sysroot.sh arm64 $(SYSROOT_ARM64)
	SB_SYSROOT=$(abspath $(SYSROOT_ARM64)) image/build-deb.sh arm64

image-x86: deb
	image/build-image.sh amd64

image-rpi: deb-arm64
	image/build-image.sh arm64

# Boots both under qemu and checks from outside (tests/image/boottest.py):
# x86 by UEFI (the whole test) and by BIOS (boot to ready), the Pi's root
# file system on -M virt (the whole test). scanbridge-sim from $(BUILD).
image-test: image-x86 image-rpi build
	SB_SIM=$(abspath $(BUILD))/bin/scanbridge-sim tests/image/boottest.py amd64 --firmware uefi
	SB_SIM=$(abspath $(BUILD))/bin/scanbridge-sim tests/image/boottest.py amd64 --firmware bios --quick
	SB_SIM=$(abspath $(BUILD))/bin/scanbridge-sim tests/image/boottest.py arm64
