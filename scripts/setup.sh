#!/usr/bin/env bash
# Set-up shared by scripts/book.sh and scripts/test.sh (which source this file).
#  - creates .venv with python3 -m venv if it is missing;
#  - installs requirements.txt (the pinned versions) and then this package, editable
#    (`pip install --no-deps -e .`: `import hcmgan_lite` and the `hcmgan` command work in
#    any folder, a Jupyter kernel included), whenever requirements.txt or pyproject.toml
#    changed since the last install (their SHA-256 is kept in .venv/.requirements.sha256);
#  - fills the checkout's data/ folder, where the loaders look by default, from
#    ../shared/data when that folder exists beside the repository and data/ does not
#    (`hcmgan data fetch --from ../shared/data`);
#  - puts .venv/bin first on PATH.
# Can also be run on its own: bash scripts/setup.sh
set -euo pipefail

HCMGAN_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_venv="$HCMGAN_ROOT/.venv"
_req="$HCMGAN_ROOT/requirements.txt"
_stamp="$_venv/.requirements.sha256"

if [ ! -x "$_venv/bin/python" ]; then
  echo "[setup] creating $_venv"
  "${PYTHON:-python3}" -m venv "$_venv"
fi

_want="$(cat "$_req" "$HCMGAN_ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ "$_want" != "$(cat "$_stamp" 2>/dev/null || true)" ]; then
  echo "[setup] installing requirements.txt into .venv (a few minutes the first time)"
  _log="$(mktemp)"
  # -q keeps pip quiet; pip's harmless "Location ... is ignored" notes are
  # filtered out. Anything else pip prints (errors included) is shown.
  if "$_venv/bin/python" -m pip install -q --disable-pip-version-check -r "$_req" >"$_log" 2>&1 \
     && "$_venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
          -e "$HCMGAN_ROOT" >>"$_log" 2>&1; then
    grep -v -e "is ignored" -e '^[[:space:]]*$' "$_log" || true
    rm -f "$_log"
    echo "$_want" >"$_stamp"
    echo "[setup] requirements installed"
  else
    grep -v "is ignored" "$_log" >&2 || true
    rm -f "$_log"
    echo "[setup] pip install -r requirements.txt (or -e .) failed" >&2
    exit 1
  fi
fi

if [ ! -d "$HCMGAN_ROOT/data" ] && [ -d "$HCMGAN_ROOT/../shared/data" ]; then
  "$_venv/bin/hcmgan" data fetch --from "$HCMGAN_ROOT/../shared/data" --to "$HCMGAN_ROOT/data"
fi
export PATH="$_venv/bin:$PATH"
