# Entry points for developers and CI (.ci/run calls `make test`). CMake does the building;
# this file only strings the steps together.
#   make deps     install the Debian packages (scripts/install-deps.sh) and let FUSE use
#                 io_uring where the kernel can (scripts/enable-fuse-uring.sh); the only
#                 target that installs or changes the machine (demo and test run it first)
#   make build    RelWithDebInfo build in $(BUILD_DIR), warnings are errors
#   make unit     build, then the unit tests only (ctest -L unit; well under 2 minutes)
#   make test     deps + build + ASan/UBSan and ThreadSanitizer builds of the unit tests, all
#                 ctest, the sanitized unit tests, clang's thread-safety analysis, format
#   make tsan     the ThreadSanitizer build of the unit tests in $(TSAN_DIR)
#   make format   clang-format -i every C++ source
#   make demo     create a demo drive under ./demo (scripts/demo.sh)
#   make deb      build, then the Debian package $(BUILD_DIR)/deb/shardfs_*.deb (CPack, packaging/)
#   make bench    build, then the benchmarks beside the peers (bench/run.sh; as root, ~30 min)
#   make clean    remove both build directories
# Override on the command line, e.g. `make BUILD_DIR=build-c ASAN_DIR=build-c-asan test`.

BUILD_DIR ?= build
ASAN_DIR ?= build-asan
TSAN_DIR ?= build-tsan
JOBS ?= 2
# CI must be warning-free, so -Werror is on for every build, local ones included.
WERROR ?= ON
ASAN_WERROR ?= $(WERROR)

# The test executables defined in tests/CMakeLists.txt, by their label: add a new one here, or
# `make test` stops and says so. The sanitizer build builds and runs the unit tests, and of the
# integration tests only node_test (the others run real programs from the normal build; building
# them twice would cost CI minutes for tests that then do not run).
UNIT_TEST_BINARIES := util_test crypto_test cache_test remote_test core_test drive_test fuse_test
INTEGRATION_TEST_BINARIES := cli_test s3_test node_test
# node_test too: it drives a sanitized shardfs-node (its SIGTERM shutdown once freed a socket
# twice, which only ASan showed).
ASAN_TARGETS := $(UNIT_TEST_BINARIES) node_test

FORMAT_DIRS := $(wildcard fs cli node tests bench)

ASAN_ENV := ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
TSAN_ENV := TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1"

.PHONY: all deps build asan tsan unit test check-format check-thread-safety format demo deb bench clean

all: build

deps:
	scripts/install-deps.sh
	scripts/enable-fuse-uring.sh

build:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DSHARDFS_WERROR=$(WERROR)
	cmake --build $(BUILD_DIR) -j$(JOBS)

asan:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSHARDFS_SANITIZE=ON \
	  -DSHARDFS_WERROR=$(ASAN_WERROR)
	cmake --build $(ASAN_DIR) -j$(JOBS) --target $(ASAN_TARGETS)
	@# A unit test executable missing from UNIT_TEST_BINARIES is not built here, and ctest
	@# would silently skip it (its placeholder test carries no label): refuse instead.
	@unbuilt=$$(ctest --test-dir $(ASAN_DIR) -N | sed -n 's/.*Test *#[0-9]*: \(.*\)_NOT_BUILT.*/\1/p' | \
	  grep -vxF $(foreach b,$(INTEGRATION_TEST_BINARIES),-e $(b)) || true); \
	if [ -n "$$unbuilt" ]; then \
	  echo "Makefile: the sanitizer build skipped $$unbuilt: add it to UNIT_TEST_BINARIES or INTEGRATION_TEST_BINARIES" >&2; \
	  exit 1; \
	fi

# ThreadSanitizer build of the unit tests (-O1: TSan at -O0 is slow to run, at -O2 slow to build).
tsan:
	cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS="-O1 -g1" \
	  -DSHARDFS_TSAN=ON -DSHARDFS_WERROR=$(WERROR)
	cmake --build $(TSAN_DIR) -j$(JOBS) --target $(UNIT_TEST_BINARIES)

unit: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS) -L unit

# deps first, on its own: a parallel make must not build while packages are being installed.
test: deps
	$(MAKE) build asan tsan
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j$(JOBS)
	$(ASAN_ENV) ctest --test-dir $(ASAN_DIR) --output-on-failure -j$(JOBS) -L unit
	$(TSAN_ENV) ctest --test-dir $(TSAN_DIR) --output-on-failure -j$(JOBS) -L unit
	$(ASAN_ENV) ctest --test-dir $(ASAN_DIR) --output-on-failure -j$(JOBS) -R '^Node[A-Za-z]*Test\.'
	JOBS=$(JOBS) scripts/check-thread-safety.sh $(BUILD_DIR)
	scripts/check-format.sh

check-format:
	scripts/check-format.sh

check-thread-safety:
	JOBS=$(JOBS) scripts/check-thread-safety.sh $(BUILD_DIR)

format:
	@if [ -n "$(FORMAT_DIRS)" ]; then \
	  find $(FORMAT_DIRS) -type f \( -name '*.h' -o -name '*.cc' \) -print0 | \
	    xargs -0 -r clang-format -i; \
	fi

demo: deps
	$(MAKE) build
	SHARDFS_BIN=$(BUILD_DIR)/cli/shardfs scripts/demo.sh

# CPack stages the installed files with DESTDIR, strips the programs and asks dpkg-shlibdeps
# for the library dependencies; tests/packaging/deb_test.sh checks and installs the result.
deb: deps
	$(MAKE) build
	rm -rf $(BUILD_DIR)/deb
	cpack --config $(BUILD_DIR)/CPackConfig.cmake -G DEB -B $(BUILD_DIR)/deb
	@echo "make deb: $$(ls $(abspath $(BUILD_DIR))/deb/shardfs_*.deb)"

# Not part of `make test`: ~25 minutes on 2 cores. Results go to bench/results/; pass options
# with BENCH_ARGS, e.g. `make bench BENCH_ARGS=--quick`.
bench: deps
	$(MAKE) build
	SHARDFS_BIN=$(abspath $(BUILD_DIR))/cli/shardfs \
	  SHARDFS_NODE_BIN=$(abspath $(BUILD_DIR))/node/shardfs-node \
	  MICRO_BENCH_BIN=$(abspath $(BUILD_DIR))/bench/micro_bench bench/run.sh $(BENCH_ARGS)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR)
