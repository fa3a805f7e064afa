#!/usr/bin/env bash
# The systemd unit as meson configures it (ExecStart pointed at the built
# lookbackd): systemd-analyze finds nothing to say about it, and rates its
# exposure OK (3.0 or less; systemd-analyze's threshold is in tenths).
# usage: check-unit.sh UNIT.in LOOKBACKD
set -euo pipefail

unit_in=$1
lookbackd=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
unit=$dir/lookbackd.service
sed -e "s|@SBINDIR@/lookbackd|$lookbackd|" -e "s|@SYSCONFDIR@|/etc|" "$unit_in" >"$unit"

out=$(systemd-analyze verify --man=no "$unit" 2>&1)
if [ -n "$out" ]; then
  echo "systemd-analyze verify: $out" >&2
  exit 1
fi
systemd-analyze security --offline=true --no-pager "$unit" | tail -n 1
systemd-analyze security --offline=true --threshold=30 --no-pager "$unit" >/dev/null
