#!/usr/bin/env bash
# Open the book's chapters in JupyterLab, from the project's environment (.venv, set up on first use):
#   bash scripts/lab.sh                                   # on this machine: opens a browser tab
#   bash scripts/lab.sh --no-browser --port 8888          # on a remote (GPU) machine; then, on your laptop,
#                                                         #   ssh -N -L 8888:localhost:8888 USER@HOST
#                                                         # and open the http://localhost:8888/lab?token=... address it prints
# Extra arguments go to `jupyter lab`. The server starts in book/, so every chapter's kernel runs there,
# imports the installed hcmgan_lite and finds the data in the checkout's data/ (README, Data).
# Chapters train with the demo profile unless HCMGAN_PROFILE says otherwise, e.g. on a GPU:
#   HCMGAN_PROFILE=gpu bash scripts/lab.sh --no-browser --port 8888
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/setup.sh"
cd "$ROOT/book"
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)    # root (containers, cloud GPU machines) needs it said
exec jupyter lab --notebook-dir="$ROOT/book" "${extra[@]}" "$@"
