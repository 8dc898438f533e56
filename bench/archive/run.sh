#!/usr/bin/env bash
# The Tidings archive vs Mailpit, side by side: see main.go.
# Installs Mailpit v1.33.1 into a temporary directory (never committed).
# Usage: bench/archive/run.sh [-n 20000] [-c 8] [-direct] [-q 200]
#   bench/archive/run.sh -n 100000 -direct
#   bench/archive/run.sh -n 1000000 -c 16 -direct -timeout 12h -work /big/disk/dir   (hours; ~45 GB of disk)
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "installing mailpit v1.33.1 into $tmp" >&2
GOBIN=$tmp go install github.com/axllent/mailpit@v1.33.1
go run ./bench/archive -mailpit -mailpit-bin "$tmp/mailpit" "$@"
