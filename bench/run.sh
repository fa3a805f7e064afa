#!/usr/bin/env bash
# The benchmark's one entry point: set up (packages, build), then run the
# side-by-side benchmarks against ffmpeg.  See bench/run.py --help.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec python3 bench/run.py "$@"
