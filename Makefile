# Wraps the two README commands; everything real is in CMake.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all build demo check test asan clean

all: build

build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON -DAIRI_WERROR=ON
	cmake --build $(BUILD) -j $(JOBS)

# the main job on the embedded default store (~/.local/share/airi/airi.db
# unless $AIRI_STORE is set): record two runs that differ in their system
# prompt, list them, and compare them
demo: build
	$(BUILD)/airi record examples/helpful.json
	$(BUILD)/airi record examples/terse.json
	$(BUILD)/airi log --limit 5
	$(BUILD)/airi check examples/helpful.json || true
	$(BUILD)/airi diff $$($(BUILD)/airi id examples/helpful.json | cut -c8-19) \
		$$($(BUILD)/airi id examples/terse.json | cut -c8-19) || test $$? -eq 1

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

asan:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=ON \
		-DAIRI_WERROR=ON -DAIRI_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

# everything CI runs: the suite, then the suite again under ASan+UBSan
check: test asan

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
