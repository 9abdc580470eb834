#!/usr/bin/env bash
# Run the test suite in .venv: bash scripts/test.sh [pytest arguments]
# Without a file or folder among the arguments, all of tests/ is run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"

cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
targets=(tests)
for arg in "$@"; do
  if [ -e "${arg%%::*}" ]; then targets=(); break; fi
done
exec python -m pytest "${targets[@]}" "$@"
