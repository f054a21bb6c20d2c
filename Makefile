# Attend: the README's two commands first.
#   make run   set-up, release build, then the main job on a built-in default
#   make test  set-up, then the whole test suite
SHELL := /bin/bash
# Release builds use the build machine's vector units (AVX2/FMA, AVX-512 where present); see
# docs/performance.md. Override with `make CPU=x86-64-v3` to build for other machines.
CPU ?= native
# Fused multiply-add in the vector polynomials (exp, tanh, erfc) when the target has FMA: every
# x86-64-v3 CPU, and a `native` build machine whose /proc/cpuinfo lists fma. Elsewhere the
# polynomials stay multiply + add (an FMA the target lacks would be a library call per lane).
HAS_FMA := $(or $(filter x86-64-v3 x86-64-v4,$(CPU)),$(and $(filter native,$(CPU)),$(shell grep -qw fma /proc/cpuinfo 2>/dev/null && echo yes)))
# Sixteen-lane activation loops (`WideFloat`, see Sources/AttendCore/Kernels/FloatLanes.swift) when
# the target has AVX-512: x86-64-v4, or a `native` build machine whose /proc/cpuinfo lists avx512f.
HAS_AVX512 := $(or $(filter x86-64-v4,$(CPU)),$(and $(filter native,$(CPU)),$(shell grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo yes)))
RELEASE := -c release -Xswiftc -target-cpu -Xswiftc $(CPU) $(if $(HAS_FMA),-Xswiftc -DATTEND_FMA) \
	$(if $(HAS_AVX512),-Xswiftc -DATTEND_AVX512)
BIN := .build/release/attend

.PHONY: run test bench setup build clean fuzz sanitize crash-campaign format lint docs

setup:
	@scripts/setup.sh

build: setup
	swift build $(RELEASE) --product attend

# The main job: train full attention and two efficient mechanisms on short ListOps (preset cpu,
# about 7 minutes on 2 cores with the build) and print the comparison table. The comparison of
# every mechanism on every task is docs/results/lra.md.
run: build
	rm -f runs/demo/lra.json
	$(BIN) lra --mixers full,local,treeformer --tasks listops --preset cpu --out runs/demo/lra.md

# Numeric suites run optimised (debug numerics are 10-100x slower); -enable-testing keeps
# @testable imports working.
test: setup lint
	swift test $(RELEASE) -Xswiftc -enable-testing

# libFuzzer + AddressSanitizer on every parser of outside bytes, FUZZ_SECONDS (default 60) per
# target from the seed corpus in Fuzz/Corpus; crash inputs land in Fuzz/Regressions (see
# docs/reliability.md).
fuzz: setup
	scripts/fuzz.sh

# The test suite under AddressSanitizer, then under ThreadSanitizer, each in its own build folder
# (slow: run it before a release, not on every change). The suppression files hold the leaks and
# races of the toolchain's test runner and runtime, never a fault of Attend's own code
# (docs/reliability.md says why one kind of entry names an Attend type).
SUPPRESSIONS := $(CURDIR)/scripts/sanitizers
sanitize: setup
	ATTEND_SANITIZER=address LSAN_OPTIONS=suppressions=$(SUPPRESSIONS)/lsan.supp:print_suppressions=0 \
		swift test $(RELEASE) -Xswiftc -enable-testing --build-path .build/asan --sanitize=address
	ATTEND_SANITIZER=thread TSAN_OPTIONS=suppressions=$(SUPPRESSIONS)/tsan.supp:halt_on_error=1 \
		swift test $(RELEASE) -Xswiftc -enable-testing --build-path .build/tsan --sanitize=thread

# The long crash-consistency campaign: 100 random kill -9s of a training run and its resumes.
crash-campaign: build
	scripts/crash-campaign.sh --kills 100 --attend $(BIN)

# Every benchmark suite plus the PyTorch peers; results in docs/results/ (see scripts/bench.sh).
bench: build
	scripts/bench.sh

# Formats every Swift file in place with the rules in .swift-format; `make lint` reports what
# still differs (layout, missing documentation comments) and fails when anything does; `make test`
# runs the lint first. See docs/formatting-and-docs.md.
format:
	scripts/format.sh --parallel

lint:
	scripts/format-lint.sh --parallel

# API documentation: one DocC archive per library target in .build/docs (index.html links them),
# from the release build's modules and each target's catalogue, Sources/<Target>/<Target>.docc.
docs: build
	scripts/docs.sh

clean:
	rm -rf .build
