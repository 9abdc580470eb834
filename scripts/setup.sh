#!/usr/bin/env bash
# Set-up shared by scripts/book.sh and scripts/test.sh (which source this file).
#  - creates .venv with python3 -m venv if it is missing;
#  - installs requirements.txt into it whenever the file changed since the last
#    install (the SHA-256 of requirements.txt is kept in .venv/.requirements.sha256);
#  - exports HCMGAN_DATA=<repo>/../shared/data when unset and that folder exists;
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

_want="$(sha256sum "$_req" | cut -d' ' -f1)"
if [ "$_want" != "$(cat "$_stamp" 2>/dev/null || true)" ]; then
  echo "[setup] installing requirements.txt into .venv (a few minutes the first time)"
  _log="$(mktemp)"
  # -q keeps pip quiet; pip's harmless "Location ... is ignored" notes are
  # filtered out. Anything else pip prints (errors included) is shown.
  if "$_venv/bin/python" -m pip install -q --disable-pip-version-check -r "$_req" >"$_log" 2>&1; then
    grep -v -e "is ignored" -e '^[[:space:]]*$' "$_log" || true
    rm -f "$_log"
    echo "$_want" >"$_stamp"
    echo "[setup] requirements installed"
  else
    grep -v "is ignored" "$_log" >&2 || true
    rm -f "$_log"
    echo "[setup] pip install -r requirements.txt failed" >&2
    exit 1
  fi
fi

if [ -z "${HCMGAN_DATA:-}" ] && [ -d "$HCMGAN_ROOT/../shared/data" ]; then
  HCMGAN_DATA="$(cd "$HCMGAN_ROOT/../shared/data" && pwd)"
  export HCMGAN_DATA
fi
export PATH="$_venv/bin:$PATH"
