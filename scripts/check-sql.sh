#!/bin/sh
# Fails when a C file outside src/store speaks SQL: includes sqlite3.h or
# libpq-fe.h, or calls sqlite3_* or libpq's PQ* functions (DESIGN.md: the
# store is the only module that speaks SQL, in both of its backends).  Run by
# `meson test --suite style`.
set -eu
cd "$(dirname "$0")/.."
pattern='#include[[:space:]]*[<"](sqlite3|libpq-fe)\.h|\<sqlite3_[a-z_0-9]+[[:space:]]*\(|\<PQ[a-zA-Z]+[[:space:]]*\('
if bad=$(find src plugins -path src/store -prune -o \( -name '*.c' -o -name '*.h' \) -print \
    | xargs grep -nE "$pattern"); then
  echo "SQL outside src/store:"
  echo "$bad"
  exit 1
fi
echo "no SQL outside src/store"
