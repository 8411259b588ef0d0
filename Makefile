# The two commands a new user needs: `make run` and `make test`.
# Everything else is a building block of those or a longer-running extra.

SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD_RELEASE := build/release
BUILD_DEV := build/dev
BUILD_ASAN := build/asan-ubsan
BUILD_FUZZ := build/fuzz
SURGE := $(BUILD_RELEASE)/tools/surge/surge
MODELS := models
# The built-in default model: a 2.9 MB llama trained with `surge train` on the
# King James Bible (docs/default-model.md). Toy-sized, but its text is readable.
DEFAULT_MODEL := $(MODELS)/default/surge-kjv-q8_0.gguf
DEFAULT_MODEL_NAME := surge-kjv
PROMPT ?= Once upon a time
FUZZ_SECONDS ?= 60
STRESS_SECONDS ?= 300
# `make test` from a clean tree (CI) compiles libraries and tools in unity
# batches: about a quarter less build time. Off by default, so that editing one
# file rebuilds one file; UNITY=ON or OFF overrides.
UNITY ?= $(if $(CI),ON,OFF)

.PHONY: all deps build run test test-dev test-asan check-format check-layering format bench bench-compare fuzz stress interop clean

all: build

deps:
	@./scripts/install-deps

build: deps
	@cmake --preset release >/dev/null
	@cmake --build $(BUILD_RELEASE) -j $(JOBS) --target surge

PORT ?= 8080

run: build
	@echo "make run: serving $(DEFAULT_MODEL) on http://127.0.0.1:$(PORT) (Ctrl-C to stop). Try:"
	@echo "  curl -s http://127.0.0.1:$(PORT)/v1/chat/completions -H 'Content-Type: application/json' \\"
	@echo "    -d '{\"model\":\"$(DEFAULT_MODEL_NAME)\",\"messages\":[{\"role\":\"user\",\"content\":\"And God said\"}],\"max_tokens\":48}'"
	@$(SURGE) serve -m $(DEFAULT_MODEL) --model-name $(DEFAULT_MODEL_NAME) --port $(PORT)

test: deps check-format check-layering test-dev test-asan

test-dev:
	@cmake --preset dev -DSURGE_UNITY=$(UNITY) >/dev/null
	@cmake --build $(BUILD_DEV) -j $(JOBS)
	@ctest --test-dir $(BUILD_DEV) --output-on-failure -j $(JOBS)

test-asan:
	@cmake --preset asan-ubsan -DSURGE_UNITY=$(UNITY) >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD_ASAN) --output-on-failure -j $(JOBS) -LE slow

# The stress tests for longer, under ASan+UBSan: the scheduler's random
# workloads on new seeds, and a storm of mixed requests, preemption and load
# shedding against the real server (STRESS_SECONDS each, at most 1500;
# `make test` runs them briefly).
stress: deps
	@cmake --preset asan-ubsan -DSURGE_UNITY=$(UNITY) >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)
	@SURGE_STRESS_SECONDS=$(STRESS_SECONDS) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(BUILD_ASAN) --output-on-failure -V -R 'stress'

check-format:
	@files=$$(git ls-files '*.h' '*.cc'); \
	  if [ -n "$$files" ]; then clang-format --dry-run --Werror $$files; fi

check-layering:
	@./tools/check_layering

format:
	@git ls-files '*.h' '*.cc' | xargs -r clang-format -i

# Engine figures on the `small` preset in F32 and Q8_0 (docs/benchmarks.md).
bench: build
	@mkdir -p $(MODELS)
	@for t in f32 q8_0; do \
	  f=$(MODELS)/small-llama-$$t.gguf; \
	  [ -f $$f ] || $(SURGE) model init --arch llama --preset small --type $$t -o $$f; \
	  echo "== small $$t"; $(SURGE) run -m $$f --bench; \
	done

# The same files through llama.cpp (the node-llama-cpp npm package ships its
# prebuilt binaries), side by side with Surge in one run.
bench-compare: build
	@cd bench/compare && [ -d node_modules/node-llama-cpp ] || npm install --no-audit --no-fund --loglevel=error
	@for t in f32 q8_0; do \
	  f=$(MODELS)/small-llama-$$t.gguf; \
	  [ -f $$f ] || $(SURGE) model init --arch llama --preset small --type $$t -o $$f; \
	  echo "== small $$t"; $(SURGE) run -m $$f --bench --no-mixed --json; \
	  node bench/compare/llama_cpp_bench.mjs $$f 2 3; \
	done

# Bounded libFuzzer runs of every fuzz target (clang).
fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build $(BUILD_FUZZ) -j $(JOBS)
	@for f in $$(find $(BUILD_FUZZ)/tests/fuzz -maxdepth 1 -type f -name '*_fuzzer' -executable); do \
	  name=$$(basename $$f); corpus=tests/fuzz/corpus/$${name%%_*}; \
	  mkdir -p $(BUILD_FUZZ)/corpus/$$name; \
	  echo "== $$name ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 $(BUILD_FUZZ)/corpus/$$name $$corpus || exit 1; \
	done

clean:
	rm -rf build

# Opt-in: llama.cpp (prebuilt, via the node-llama-cpp npm package, ~100 MB)
# loads files from `surge model init` and generates the same greedy text.
interop: build
	@cd tests/interop && [ -d node_modules/node-llama-cpp ] || npm install --no-audit --no-fund --loglevel=error
	@SURGE_BINARY=$(SURGE) node --test tests/interop/llama_cpp_interop.test.mjs
