#!/usr/bin/env bash
# Debian's Chromium for Playwright, GNU gettext for the translation tests, plus Java and
# the npm packages vnu-jar and axe-core at the exact versions of .ci/tools/package-lock.json
# (installed with `npm ci` into .ci/node, which git ignores; `make lock` re-pins them).
# Never downloads a browser of its own.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
command -v npm >/dev/null 2>&1 || need+=(npm)
# xgettext/msgfmt for the translation tests (makemessages on a fresh copy, msgfmt --check).
command -v msgfmt >/dev/null 2>&1 && command -v xgettext >/dev/null 2>&1 || need+=(gettext)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "Missing ${need[*]} and not root: browser/validator/translation tests will be skipped." >&2
  fi
fi
# Reinstall whenever the committed lock differs from the one last installed (a re-pin),
# not only when a file is missing.
if command -v npm >/dev/null 2>&1 && { ! cmp -s .ci/tools/package-lock.json .ci/node/package-lock.json ||
  ! cmp -s .ci/tools/package.json .ci/node/package.json ||
  [ ! -f .ci/node/node_modules/axe-core/axe.min.js ] ||
  [ ! -f .ci/node/node_modules/vnu-jar/build/dist/vnu.jar ]; }; then
  mkdir -p .ci/node
  cp .ci/tools/package.json .ci/tools/package-lock.json .ci/node/
  npm ci --prefix .ci/node --no-audit --no-fund --silent >/dev/null
fi
