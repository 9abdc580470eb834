#!/usr/bin/env bash
# Build the book: set up .venv, fetch the JavaScript served with the book,
# execute every chapter once and write the HTML to _build/html.
# Fails (non-zero exit) if any cell of any chapter raises an error.
# Usage: bash scripts/book.sh [extra jupyter-book build options]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/fetch_js.sh"

cd "$ROOT"
# The chapters import hcmgan_lite as installed (editable) into .venv by setup.sh, and read the data
# from its default folder: no PYTHONPATH and no HCMGAN_DATA, as in a reader's JupyterLab.
# Progress bars are for people watching a run; in the rendered book they would
# only leave empty widget areas. Jupyter users still get them.
export HCMGAN_PROGRESS="${HCMGAN_PROGRESS:-0}"
echo "[book] profile of the live runs: ${HCMGAN_PROFILE:-demo}; data: $(python -c 'import hcmgan_lite as hc; print(hc.find_data_root())')"

# Start from a clean output so that pages removed from _toc.yml disappear.
rm -rf _build/html _build/.doctrees _build/jupyter_execute
start=$SECONDS
mkdir -p _build
jupyter-book build . --builder html --all "$@" 2>&1 | tee _build/book-build.log
# Per-chapter execution times (myst-nb logs "<file>: Executed notebook in N seconds"): where the build's time goes.
echo "[book] chapter execution times:"
grep -E "Executed notebook in" _build/book-build.log \
  | sed -E 's#^.*/(book/[^:]+\.ipynb).*Executed notebook in ([0-9.]+) seconds.*#\2 \1#' \
  | awk '{ printf "[book]   %7.1f s  %s\n", $1, $2; total += $1 } END { printf "[book]   %7.1f s  in all\n", total }'
if [ ! -f _build/html/index.html ]; then
  echo "[book] _build/html/index.html was not written" >&2
  exit 1
fi
echo "[book] built in $((SECONDS - start)) s"
echo "[book] open file://$ROOT/_build/html/index.html"
