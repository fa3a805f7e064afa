#!/usr/bin/env bash
# Installs the Debian 12 packages lookback needs to build, run its demo and
# run its tests (apt-get update first, only when something is missing), then
# configures and builds into ./build — or, with --sanitized, into
# ./build-sanitized with AddressSanitizer and UndefinedBehaviorSanitizer.
# Safe to run again: quiet when all is there.
set -euo pipefail

cd "$(dirname "$0")/.."

packages=(
  # build
  gcc libc6-dev pkg-config meson ninja-build
  libglib2.0-dev libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libsoup-3.0-dev libjson-glib-dev libsqlite3-dev
  # lbstilldec decodes a still with libavcodec itself
  libavcodec-dev libavutil-dev
  # cluster mode ([cluster] database=): the PostgreSQL client library
  libpq-dev
  # run: GStreamer elements the recorder and the retrieval pipelines use
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  # tests and the README examples: a test RTSP camera, an upload receiver,
  # curl and jq, process tools
  libgstrtspserver-1.0-dev nginx-light curl jq procps sqlite3
  # the cluster tests and benchmark: a real PostgreSQL 15, started by the test
  postgresql-15
  # the operator's view: a private systemd-journald (and journalctl) for the
  # journal fields, in a namespace made by unshare; systemd-analyze for the
  # unit's hardening
  systemd util-linux
  # the manual pages: lookback.conf(5) is made from data/lookback.conf by a
  # Python script; groff checks that every page renders
  python3 groff-base
  # GET /metrics is checked with promtool, from Prometheus
  prometheus
  # HTTPS: GLib's TLS backend; openssl makes the tests' self-signed
  # certificates
  glib-networking openssl
  # clock tests: lookbackd under a shifted wall clock
  faketime
  # the web console's test: a real browser driven by Selenium
  chromium chromium-driver python3-selenium
  # the style check (scripts/gst-indent)
  indent
  # the sanitized run (gcc's ASan/UBSan runtimes) and fuzzing (tests/fuzz/run.sh:
  # clang-14 with libFuzzer, llvm-symbolizer for its reports)
  libasan8 libubsan1 clang-14 libclang-rt-14-dev llvm-14
  # benchmarks: the side to beat, and the load tools
  ffmpeg wrk hyperfine
)
# the upload tests' peers (tests/peers: s3rver, the tus server, the AWS SDK's
# signer) run on Node.js; a Node.js that brings its own npm is kept
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: run as root or install sudo" >&2; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# the test peers, pinned by tests/peers/package-lock.json; installed again
# when the lock file changes
peers=tests/peers
if [ ! -f "$peers/node_modules/.package-lock.json" ] ||
   [ "$peers/package-lock.json" -nt "$peers/node_modules/.package-lock.json" ]; then
  echo "setup: installing the test peers (npm ci in $peers)"
  npm ci --prefix "$peers" --no-audit --no-fund --loglevel=error >/dev/null
fi

build=build
options=()
if [ "${1:-}" = "--sanitized" ]; then
  build=build-sanitized
  options=(-Db_sanitize=address,undefined)
fi
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" --buildtype=debugoptimized "${options[@]}" >/dev/null
fi
ninja -C "$build" --quiet 2>/dev/null || ninja -C "$build"
