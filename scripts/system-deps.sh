#!/usr/bin/env bash
# Debian packages some tests need: wrk (load), docker-compose (compose file validation),
# chromium + chromium-driver (browser tests), redis-server (the shared store: the tests start
# their own on a free port), npm (Prism, the stand-in upstream: `make prism`). Installed when missing and we are root;
# otherwise the tests that need them say why they are skipped.
set -u
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
command -v redis-server >/dev/null || need+=(redis-server)
command -v npm >/dev/null || need+=(npm)
((${#need[@]})) || exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "system-deps: not root or no apt-get; tests needing ${need[*]} will be skipped" >&2
  exit 0
fi
echo "system-deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null 2>&1 || true
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 \
  || echo "system-deps: apt-get could not install ${need[*]}; tests needing them will be skipped" >&2
exit 0
