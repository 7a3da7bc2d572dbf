# postern - thin wrapper over CMake. See README.md.
BUILD    ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS     ?= $(shell nproc)
PYTHON   := /usr/bin/python3
DATA     ?= ./var
FUZZ_SECONDS ?= 10
# Seconds per fuzz target in 'make test' (the fuzz smoke run).
TEST_FUZZ_SECONDS ?= 2

.PHONY: all deps build run test unit integration asan valgrind fuzz fuzz-smoke bench clean format

all: build

deps:
	@scripts/deps.sh

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	$(BUILD)/postern serve --data $(DATA)

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

integration: build
	POSTERN_BIN=$(abspath $(BUILD))/postern $(PYTHON) -m pytest -q tests/integration bench/tests

test: deps
	@$(MAKE) --no-print-directory build fuzz
	@FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) scripts/test-all.sh $(BUILD) $(FUZZ_BUILD)

asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPOSTERN_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		scripts/test-all.sh $(ASAN_BUILD)

# The protocol integration tests with every postern process under valgrind
# memcheck (conftest.py: POSTERN_VALGRIND); any error or definite leak fails.
VALGRIND_TESTS ?= tests/integration/test_smtp.py tests/integration/test_pop3.py \
	tests/integration/test_imap.py tests/integration/test_outbound.py
valgrind: deps build
	POSTERN_VALGRIND=1 POSTERN_BIN=$(abspath $(BUILD))/postern $(PYTHON) -m pytest -q \
		-p no:cacheprovider $(VALGRIND_TESTS)

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DPOSTERN_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)

fuzz-smoke: fuzz
	scripts/fuzz-smoke.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench:
	bench/run $(BENCH_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
