# Thin wrapper: dependency check, CMake configure/build, then run.
#   make demo               install what is missing, build, run the main job
#   make test               same set-up, then the whole suite (ctest)
#   make test SANITIZE=1    the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make test SANITIZE=thread  the engine, worker, emulator and rpc tests under ThreadSanitizer
#   make test COMPILER=clang   a clang build with -Werror (-Wunsequenced, -Wshadow, ...)
#                              and the unit and build tests
#   make fuzz [FUZZ_SECONDS=60]  the libFuzzer targets of tests/fuzz (clang, ASan+UBSan,
#                              build-fuzz/), each for FUZZ_SECONDS, two at a time
SANITIZE ?= 0
COMPILER ?= gcc
ifeq ($(SANITIZE),1)
BUILD ?= build-asan
CMAKE_FLAGS += -DSLUICE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
else ifeq ($(SANITIZE),thread)
BUILD ?= build-tsan
CMAKE_FLAGS += -DSLUICE_TSAN=ON -DCMAKE_BUILD_TYPE=Debug
CTEST_ARGS ?= -L tsan
export TSAN_OPTIONS ?= halt_on_error=1 second_deadlock_stack=1
else ifeq ($(COMPILER),clang)
BUILD ?= build-clang
CMAKE_FLAGS += -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo
CTEST_ARGS ?= -L 'unit|build'
else
BUILD ?= build
CMAKE_FLAGS += -DCMAKE_BUILD_TYPE=RelWithDebInfo
endif
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=
FUZZ_SECONDS ?= 60

.PHONY: all deps build test fuzz demo bench bench-sync clean
all: build

deps:
	@bash deploy/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run.sh

demo: build
	@bash deploy/demo.sh $(BUILD)/sluice

bench: build
	$(BUILD)/sluice bench --workflows 20000 --steps 3 --concurrency 256

bench-sync: build
	bash bench/dataset_sync.sh $(BUILD)/sluice

clean:
	rm -rf build build-asan build-tsan build-clang build-fuzz
