#!/usr/bin/env bash
# SMPP client throughput against the node test SMSC: see main.go.
# Usage: bench/sms-smpp/run.sh [-n 5000] [-windows 1,10,50] [-senders 50] [-long]
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -d tests/smsc/node_modules/smpp ]; then
	npm ci --prefix tests/smsc --no-audit --no-fund >/dev/null
fi
exec go run ./bench/sms-smpp "$@"
