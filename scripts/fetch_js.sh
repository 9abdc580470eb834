#!/usr/bin/env bash
# Fetch the JavaScript the book needs to render math and widgets offline:
#   MathJax 3, RequireJS and the Jupyter widgets HTML manager (embed-amd).
# Exact versions are packed from the npm registry (npm pack) into .cache/npm/,
# checked against pinned SHA-512 digests, and only the files the pages load
# are extracted into book/_static_vendor/vendor/ (served as _static/vendor/).
# Nothing happens when the extracted files are already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/npm"
DEST="$ROOT/book/_static_vendor/vendor"

# package@version  tarball  sha512 (npm "integrity", base64)
PACKAGES=(
  "mathjax@3.2.2 mathjax-3.2.2.tgz Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
  "requirejs@2.3.7 requirejs-2.3.7.tgz DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw=="
  "@jupyter-widgets/html-manager@1.0.6 jupyter-widgets-html-manager-1.0.6.tgz +Mn+Ra8wyIHrYaUpfmf9A3dsLkt/NuwzPQN8sthdxBD35VV5cOJbpmgMhNR27n/rmP3mKyEe0PWCJrtZrXTXDQ=="
)
STAMP_TEXT="$(printf '%s\n' "${PACKAGES[@]}" | cut -d' ' -f1)"

if [ -f "$DEST/VERSIONS" ] && [ "$(cat "$DEST/VERSIONS")" = "$STAMP_TEXT" ]; then
  exit 0
fi

sha512_b64() {
  python3 -c 'import base64,hashlib,sys; print(base64.b64encode(hashlib.sha512(open(sys.argv[1],"rb").read()).digest()).decode())' "$1"
}

mkdir -p "$CACHE"
for entry in "${PACKAGES[@]}"; do
  read -r spec tarball digest <<<"$entry"
  if [ -f "$CACHE/$tarball" ] && [ "$(sha512_b64 "$CACHE/$tarball")" = "$digest" ]; then
    continue
  fi
  if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "[fetch_js] installing npm with apt-get"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
      echo "[fetch_js] npm is needed to fetch $spec (e.g. apt-get install nodejs npm)" >&2
      exit 1
    fi
  fi
  echo "[fetch_js] npm pack $spec"
  (cd "$CACHE" && npm pack --silent "$spec" >/dev/null)
  if [ "$(sha512_b64 "$CACHE/$tarball")" != "$digest" ]; then
    echo "[fetch_js] $tarball does not match its pinned SHA-512" >&2
    exit 1
  fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for entry in "${PACKAGES[@]}"; do
  read -r spec tarball digest <<<"$entry"
  mkdir -p "$tmp/${tarball%.tgz}"
  tar -xzf "$CACHE/$tarball" -C "$tmp/${tarball%.tgz}"
done

rm -rf "$DEST"
mkdir -p "$DEST/mathjax/output/chtml/fonts" "$DEST/mathjax/input/tex" "$DEST/html-manager"
# MathJax: the combined TeX/MathML -> CommonHTML component, its web fonts, and
# the pieces it may load on demand (TeX extensions, menu, assistive MathML).
mj="$tmp/mathjax-3.2.2/package"
cp "$mj/es5/tex-mml-chtml.js" "$DEST/mathjax/"
cp -r "$mj/es5/output/chtml/fonts/woff-v2" "$DEST/mathjax/output/chtml/fonts/"
cp -r "$mj/es5/input/tex/extensions" "$DEST/mathjax/input/tex/"
cp -r "$mj/es5/ui" "$mj/es5/a11y" "$DEST/mathjax/"
cp "$mj/LICENSE" "$DEST/mathjax/LICENSE"
# RequireJS (the widget manager is an AMD module).
cp "$tmp/requirejs-2.3.7/package/require.js" "$DEST/require.js"
# Widget manager: the AMD bundle plus the icon fonts it references next to itself.
hm="$tmp/jupyter-widgets-html-manager-1.0.6/package/dist"
cp "$hm/embed-amd.js" "$DEST/html-manager/"
cp "$hm"/*.woff2 "$hm"/*.woff "$DEST/html-manager/"

echo "$STAMP_TEXT" >"$DEST/VERSIONS"
echo "[fetch_js] vendored JavaScript ready in ${DEST#"$ROOT"/} ($(du -sh "$DEST" | cut -f1))"
