#!/usr/bin/env bash
# Make the project's virtual environment (.venv, Python 3.10) from requirements.lock.
# Finds a 3.10 interpreter by itself (PATH, pyenv, usual install places), installs uv into the venv
# and syncs the lock file exactly.  Does nothing when the venv already matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP=$VENV/.lock-sha256
BYTECODE_STAMP=$VENV/.bytecode-sha256
UV_VERSION=0.13.9

is_py310() { [ -x "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

find_python310() {
    local candidate version
    for candidate in "${PYTHON310:-}" "$(command -v python3.10 || true)"; do
        if [ -n "$candidate" ] && is_py310 "$candidate"; then echo "$candidate"; return 0; fi
    done
    if command -v pyenv >/dev/null 2>&1; then
        for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -rV); do
            candidate="$(pyenv prefix "$version" 2>/dev/null)/bin/python"
            if is_py310 "$candidate"; then echo "$candidate"; return 0; fi
        done
    fi
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python /usr/bin/python3.10 /usr/local/bin/python3.10; do
        if is_py310 "$candidate"; then echo "$candidate"; return 0; fi
    done
    return 1
}

# Byte-compile the installed packages once per lock file, as pip does on install (uv does not): a
# process restarted by the supervisor then loads .pyc files instead of compiling thousands of
# modules again, which was most of the action server's restart and a good part of Rasa's (and with
# PYTHONDONTWRITEBYTECODE set Python never caches them itself).  Files that are not Python 3 are skipped.
compile_bytecode() {
    if [ "$(cat "$BYTECODE_STAMP" 2>/dev/null)" != "$wanted" ]; then
        echo "setup: byte-compiling the installed packages (once)"
        "$VENV/bin/python" -m compileall -q -j 0 "$VENV"/lib/python3.10/site-packages >/dev/null 2>&1 || true
        echo "$wanted" > "$BYTECODE_STAMP"
    fi
}

wanted=$(sha256sum requirements.lock | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ] && is_py310 "$VENV/bin/python"; then
    compile_bytecode
    exit 0
fi

if ! is_py310 "$VENV/bin/python"; then
    python310=$(find_python310) || {
        echo "setup: no Python 3.10 found (Rasa 3.6 needs 3.8-3.10). Install one, e.g. 'pyenv install 3.10'," >&2
        echo "       or point PYTHON310 at its interpreter." >&2
        exit 1
    }
    echo "setup: creating $VENV with $python310"
    rm -rf "$VENV"
    "$python310" -m venv "$VENV"
fi
echo "setup: installing the locked dependencies (first time: a few minutes)"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
"$VENV/bin/uv" pip sync --python "$VENV/bin/python" requirements.lock
echo "$wanted" > "$STAMP"
compile_bytecode
echo "setup: $VENV is ready"
