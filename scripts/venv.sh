# Sourced by ./run and ./check: create .venv and install the project into it when needed.
# The install is redone when pyproject.toml is newer than the last one, or other extras are asked.
ensure_venv() {
    extras="$1"
    python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        echo "otelwatch needs Python 3.11 or newer as '$python' (set PYTHON to another)" >&2
        exit 2
    fi
    stamp=".venv/.installed$extras"
    if [ ! -x .venv/bin/python ]; then
        "$python" -m venv .venv
    fi
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        echo "Installing otelwatch$extras into .venv …" >&2
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -e ".$extras"
        touch "$stamp"
    fi
}
