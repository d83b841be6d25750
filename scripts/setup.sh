#!/usr/bin/env bash
# Create .venv and install ocframe with every driver and plugin distribution
# (editable, with its [testing] extra where it has one), plus the test and docs tools.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "ocframe needs Python 3.11 or newer ($PY is $("$PY" --version 2>&1))" >&2
  exit 1
fi
if ! "$PY" -c 'import ensurepip' 2>/dev/null; then
  # Debian and Ubuntu ship venv's pip bootstrap separately.
  pkg="python3-venv python$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "installing $pkg (needed for a virtual environment)" >&2
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $pkg >/dev/null
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
args=(-e ".[test,docs]")
for dist in drivers/*/ plugins/*/ docs/example_plugin/; do
  [ -f "$dist/pyproject.toml" ] || continue
  # Emulators' dependencies are a [testing] extra, left out of production installs.
  if .venv/bin/python - "$dist/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    extras = tomllib.load(f)["project"].get("optional-dependencies", {})
sys.exit(0 if "testing" in extras else 1)
PY
  then
    args+=(-e "${dist%/}[testing]")
  else
    args+=(-e "$dist")
  fi
done
.venv/bin/python -m pip install -q "${args[@]}"
