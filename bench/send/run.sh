#!/usr/bin/env bash
# SES v2 SendEmail throughput: see main.go.
# Usage: bench/send/run.sh [-n 5000] [-c 50] [-database-url postgres://…]
set -euo pipefail
cd "$(dirname "$0")/../.."
exec go run ./bench/send "$@"
