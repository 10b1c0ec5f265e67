#!/usr/bin/env bash
# make sdist: build the source distribution into dist/, then check that it builds a wheel
# offline from its own contents (no index, no build isolation: only the build requirements
# already installed in .venv, and only the files inside the sdist).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f dist/irforge-*.tar.gz
.venv/bin/python -m build --sdist --no-isolation --outdir dist . >/dev/null
sdist=$(ls dist/irforge-*.tar.gz)
work=$(mktemp -d "${TMPDIR:-/tmp}/irforge-sdist.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xzf "$sdist" -C "$work"
src=$(ls -d "$work"/irforge-*/)
for f in LICENSE README.md CHANGELOG.md pyproject.toml CMakeLists.txt python/irforge/py.typed \
         python/irforge/_core/__init__.pyi presets/export/generic.toml presets/chains/di-comp-cab.toml cpp/src/fft.cpp; do
    [ -e "$src/$f" ] || { echo "check-sdist: $f is missing from $sdist" >&2; exit 1; }
done
echo "== building a wheel from $sdist offline"
PATH="$PWD/.venv/bin:$PATH" PIP_NO_INDEX=1 PIP_FIND_LINKS= .venv/bin/python -m pip wheel -q --no-index \
    --no-deps --no-build-isolation -w "$work/wheel" "$src"
ls "$work"/wheel/irforge-*.whl
echo "sdist OK: $sdist ($(du -h "$sdist" | cut -f1))"
