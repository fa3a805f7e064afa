#!/usr/bin/env bash
# Starts lookbackd on the embedded defaults from the checkout, after making
# sure the demo organisation has a token to try the API with.
set -euo pipefail

cd "$(dirname "$0")/.."

data=lookback-data
token_file="$data/demo-token"
if [ ! -s "$token_file" ]; then
  mkdir -p "$data"
  (umask 077 && build/lookback token add --org demo --scopes media:read,media:write >"$token_file")
fi
token=$(cat "$token_file")

cat <<MSG
lookback demo: store in $PWD/$data, API on http://127.0.0.1:8080
token (also in $token_file): $token
try, from another terminal:
  curl -s -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \\
    -d '{"vehicleId":"demo","inputs":["dashcamRoadFacing"],"mediaType":"image",
         "startTime":"'\$(date -u -d '-5 sec' +%FT%TZ)'","endTime":"'\$(date -u -d '-5 sec' +%FT%TZ)'"}' \\
    http://127.0.0.1:8080/cameras/media/retrieval
Ctrl-C stops lookbackd (open segments are closed cleanly).
MSG
exec build/lookbackd
