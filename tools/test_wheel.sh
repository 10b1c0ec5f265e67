#!/usr/bin/env bash
# make test-wheel: install the built cp311 manylinux wheel (dist/) into a fresh venv and run the
# test suite against the installed package from outside the source tree, so that a file missing
# from the wheel fails. The tests, examples, benchmarks and the build files the portability
# checks read are copied into a temporary root WITHOUT python/ (nothing of the source package
# is importable there), ../shared is linked beside it for the real test material, and the run
# first checks that irforge is imported from the venv's site-packages.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
PY=${TEST_WHEEL_PYTHON:-$(command -v python3.11 || ls /root/.pyenv/versions/3.11.*/bin/python3.11 | head -1)}
wheel=$(ls dist/irforge-*-cp311-cp311-*manylinux*.whl 2>/dev/null | head -1 || true)
[ -n "$wheel" ] || { echo "test-wheel: no cp311 manylinux wheel in dist/: run make wheel first" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/irforge-test-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "== test-wheel: $wheel in a fresh venv ($PY), tests run from $work/irforge"
"$PY" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q --upgrade pip
"$work/venv/bin/python" -m pip install -q "$wheel[test]"
mkdir -p "$work/irforge"
git ls-files -z -- tests examples benchmarks cpp plugins CMakeLists.txt pyproject.toml Makefile \
    | tar --null -T - -cf - | tar -xf - -C "$work/irforge"
[ -d "$SRC/../shared" ] && ln -s "$(cd "$SRC/.." && pwd)/shared" "$work/shared"
cd "$work/irforge"
# the plugins are not in the wheel yet: the plugin tests use the bundles `make plugins` built
[ -d "$SRC/build/plugins/bin" ] && export IRFORGE_PLUGIN_DIR="$SRC/build/plugins/bin"
"$work/venv/bin/python" - <<'PY'
import pathlib, sys, sysconfig
import irforge, irforge._core
site = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
for mod in (irforge, irforge._core):
    f = pathlib.Path(mod.__file__).resolve()
    assert site in f.parents, f"{mod.__name__} imported from {f}, not from {site}"
pkg = pathlib.Path(irforge.__file__).parent
for rel in ("py.typed", "_core/__init__.pyi", "_core/_internal.pyi", "presets/export/cab-loader.toml",
            "presets/chains/di-comp-cab.toml"):
    assert (pkg / rel).is_file(), f"{rel} is missing from the installed wheel"
print(f"irforge {irforge.__version__} from {pkg}")
PY
printf '[pytest]\ntestpaths = tests\naddopts = -ra -p no:cacheprovider\n' > pytest.ini
"$work/venv/bin/python" -m pytest -q
