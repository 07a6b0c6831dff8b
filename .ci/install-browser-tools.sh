#!/usr/bin/env bash
# Debian's Chromium for Playwright, plus Java and the npm packages vnu-jar and axe-core
# (installed into .ci/node, which git ignores). Never downloads a browser of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "Missing ${need[*]} and not root: browser/validator tests will be skipped." >&2
  fi
fi
if command -v npm >/dev/null 2>&1 && { [ ! -f .ci/node/node_modules/axe-core/axe.min.js ] ||
  [ ! -f .ci/node/node_modules/vnu-jar/build/dist/vnu.jar ]; }; then
  mkdir -p .ci/node
  (cd .ci/node && [ -f package.json ] || echo '{"private": true}' > package.json)
  npm install --prefix .ci/node --no-audit --no-fund --silent vnu-jar@latest axe-core@4 >/dev/null
fi
