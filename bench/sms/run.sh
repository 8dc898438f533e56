#!/usr/bin/env bash
# End User Messaging SMS throughput, SendTextMessage to the test SMSC over
# SMPP (or -simulator): see main.go.
# Usage: bench/sms/run.sh [-n 5000] [-c 32] [-latency 20ms] [-db postgres://…] [-simulator]
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -d tests/smsc/node_modules/smpp ]; then
	npm ci --prefix tests/smsc --no-audit --no-fund >/dev/null
fi
exec go run ./bench/sms "$@"
