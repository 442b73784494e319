#!/usr/bin/env bash
# Installs what pageshot needs to run and test on Debian/Ubuntu when it is
# missing: Chromium (headless shell and full browser), the Noto fonts
# (Latin, CJK, colour emoji; DejaVu for the tests) and redis-server (the Redis limiter's tests
# start one of their own). Idempotent.
set -euo pipefail

# When pageshot runs as root it starts Chromium as this unprivileged user,
# so that Chromium's own sandbox can run (it refuses to as root) and a
# renderer exploit does not get root. No home, no login.
chrome_user=pageshot-chrome
if [ "$(id -u)" -eq 0 ] && ! id "$chrome_user" >/dev/null 2>&1; then
  if command -v useradd >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$chrome_user"
  elif command -v adduser >/dev/null; then
    adduser -S -D -H -h /nonexistent -s /sbin/nologin "$chrome_user"
  fi
fi

need=()
# chromium-headless-shell renders the captures; chromium is the full browser
# (the benchmark's baseline, and a fallback).
if [ -z "${PAGESHOT_CHROME_PATH:-}" ]; then
  command -v chromium-headless-shell >/dev/null || need+=(chromium-headless-shell)
  command -v chromium >/dev/null || need+=(chromium)
fi
has_font() { fc-list 2>/dev/null | grep "$1" >/dev/null; }
has_font "Noto Sans CJK" || need+=(fonts-noto-cjk)
has_font "Noto Color Emoji" || need+=(fonts-noto-color-emoji)
has_font "NotoSans-Regular" || need+=(fonts-noto-core)
# The capture-quality tests serve DejaVu Sans to pages as a web font.
has_font "DejaVuSans" || need+=(fonts-dejavu-core)
command -v redis-server >/dev/null || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "pageshot setup: please install ${need[*]} (Chromium, Noto fonts, redis-server) with your package manager," >&2
  echo "or set PAGESHOT_CHROME_PATH to a Chromium or Chrome executable." >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "pageshot setup: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
