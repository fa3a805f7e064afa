#!/usr/bin/env bash
# The manual pages render without a single groff warning.
# usage: check-man.sh PAGE...
set -euo pipefail
for page in "$@"; do
  out=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
  if [ -n "$out" ]; then
    echo "$page: $out" >&2
    exit 1
  fi
  echo "$page: renders"
done
