#!/usr/bin/env bash
# Refuse to start when the disk cannot hold what comes next, in one line that names the fix.
#   bash stack/check_disk.sh GB WHAT
# checks the project folder and the temporary folder (pytest's and pip's work, the test stacks).
# A full disk otherwise fails minutes later, far from its cause ("No space left on device" in pip,
# a Cassandra that never starts, a DuckDB write error).
set -euo pipefail
need_gb="${1:?usage: check_disk.sh GB WHAT}"
what="${2:-this}"
project="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
for dir in "$project" "${TMPDIR:-/tmp}"; do
  free_kb=$(df -Pk "$dir" | awk 'NR == 2 {print $4}')
  if (( free_kb < need_gb * 1024 * 1024 )); then
    printf 'error: %s needs about %s GB free, but %s has %s MB left: free some space (old clones, /tmp/pytest-of-%s, bench work folders) and run it again\n' \
      "$what" "$need_gb" "$dir" "$((free_kb / 1024))" "$(id -un)" >&2
    exit 1
  fi
done
