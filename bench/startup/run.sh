#!/usr/bin/env bash
# Startup time to ready and idle RSS of `tidings serve`: see main.go.
# Usage: bench/startup/run.sh [-n 5] [-existing 1] [-settle 2s] [-database-url postgres://…]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./bench/startup "$@"
