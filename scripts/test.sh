#!/usr/bin/env bash
# Run the test suite in .venv: bash scripts/test.sh [pytest arguments]
# Without a file or folder among the arguments, all of tests/ and every chapter of book/ are run; the
# chapters run as notebook tests (nbval, --nbval-lax: every cell must run without an error) at the tiny
# profile (book/conftest.py). `bash scripts/test.sh book` runs the chapters alone, `... tests` the rest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"

cd "$ROOT"
targets=(tests book)
for arg in "$@"; do
  if [ -e "${arg%%::*}" ]; then targets=(); break; fi
done
exec python -m pytest --nbval-lax "${targets[@]}" "$@"
