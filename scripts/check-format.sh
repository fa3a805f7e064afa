#!/bin/sh
# Fails when a C source of the tree is not in gst-indent style; prints the
# command that fixes it.  Run by `meson test --suite style`.
set -eu
cd "$(dirname "$0")/.."
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files --cached --others --exclude-standard '*.c')
else
  files=$(find src plugins tests bench -name '*.c')
fi
# shellcheck disable=SC2086
if ! bad=$(scripts/gst-indent --check $files); then
  echo "not formatted (fix with: scripts/gst-indent FILE):"
  echo "$bad"
  exit 1
fi
echo "$(echo "$files" | wc -w) C files formatted"
