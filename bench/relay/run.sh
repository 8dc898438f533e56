#!/usr/bin/env bash
# Tidings vs Postfix as an SMTP relay, side by side: see main.go.
# Usage (as root): bench/relay/run.sh [-m 5000] [-s 20] [-l 4096] [-archive]
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v smtp-source >/dev/null 2>&1; then
	apt-get update -qq
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null
fi
exec go run ./bench/relay "$@"
