#!/usr/bin/env bash
# Varnish with varnish-modules (xkey, accept…), HAProxy and wrk from Debian's packages, for
# the edge cache tests (tests/test_edge_varnish.py) and benchmarks/edge.sh. Installs only
# what is missing; never anything from outside Debian.
set -euo pipefail
need=()
command -v varnishd >/dev/null 2>&1 || [ -x /usr/sbin/varnishd ] || need+=(varnish)
compgen -G "/usr/lib/*/varnish/vmods/libvmod_xkey.so" >/dev/null || need+=(varnish-modules)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "Missing ${need[*]} and not root: the Varnish tests will fail in CI." >&2
  fi
fi
