#!/usr/bin/env bash
# Run every test of Tidings: go vet, the unit and conformance suites (with the
# race detector, on SQLite and PostgreSQL), then the end-to-end suite that
# drives a real `tidings serve` with the AWS CLI, boto3 and the AWS SDK for
# JavaScript. This is the README's test command and what CI runs (.ci/run).
#
# Needs Go, Node 20 with npm, Python 3 with boto3 and the AWS CLI. It starts
# the local PostgreSQL 15 cluster (installing it with apt when missing, as
# root) and creates the role and database the tests use, unless
# TIDINGS_TEST_DATABASE_URL already points at a server of your own.
#
# Options (environment):
#   TIDINGS_TEST_DATABASE_URL  use this PostgreSQL instead of the local cluster
#   TIDINGS_E2E_RACE=0         build the e2e suite's server without -race (the
#                              default builds it with -race: a data race in the
#                              server then fails the test that stops it)
#   SKIP_E2E=1                 stop after the unit and conformance suites
set -uo pipefail
cd "$(dirname "$0")/.."

start_time=$(date +%s)
failed=()

section() {
	printf '\n==== %s (at %ds) ====\n' "$*" "$(($(date +%s) - start_time))"
}

die() {
	echo "test.sh: $*" >&2
	exit 1
}

as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		su postgres -c "$1"
	else
		sudo -n -u postgres sh -c "$1"
	fi
}

# ---------------------------------------------------------------------------
section "PostgreSQL"
if [ -n "${TIDINGS_TEST_DATABASE_URL:-}" ]; then
	echo "using TIDINGS_TEST_DATABASE_URL from the environment"
else
	PG_MAJOR=15
	if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -x "/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ]; then
		[ "$(id -u)" = 0 ] || die "PostgreSQL $PG_MAJOR is not installed: run as root, or set TIDINGS_TEST_DATABASE_URL"
		echo "installing postgresql-$PG_MAJOR with apt"
		apt-get update -qq || die "apt-get update failed"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$PG_MAJOR" >/dev/null ||
			die "apt-get install postgresql-$PG_MAJOR failed"
	fi
	if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
		pg_createcluster "$PG_MAJOR" main >/dev/null || die "pg_createcluster $PG_MAJOR main failed"
	fi
	if ! pg_lsclusters -h | awk -v v="$PG_MAJOR" '$1 == v && $2 == "main" && $4 == "online" { found = 1 } END { exit !found }'; then
		pg_ctlcluster "$PG_MAJOR" main start || die "pg_ctlcluster $PG_MAJOR main start failed"
	fi
	port=$(pg_lsclusters -h | awk -v v="$PG_MAJOR" '$1 == v && $2 == "main" { print $3 }')
	for _ in $(seq 1 150); do
		pg_isready -q -h 127.0.0.1 -p "$port" && break
		sleep 0.2
	done
	pg_isready -h 127.0.0.1 -p "$port" || die "PostgreSQL is not accepting connections on 127.0.0.1:$port"
	if ! as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname = 'tidings'\"" | grep -q 1; then
		as_postgres "psql -p $port -q -c \"CREATE ROLE tidings LOGIN SUPERUSER PASSWORD 'tidings'\"" || die "creating role tidings failed"
	fi
	if ! as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname = 'tidings_test'\"" | grep -q 1; then
		as_postgres "createdb -p $port -O tidings tidings_test" || die "creating database tidings_test failed"
	fi
	export TIDINGS_TEST_DATABASE_URL="postgres://tidings:tidings@127.0.0.1:$port/tidings_test"
	echo "PostgreSQL $PG_MAJOR ready: postgres://tidings:…@127.0.0.1:$port/tidings_test"
fi

# ---------------------------------------------------------------------------
# Debian packages the tests drive as real peers. Add to this list, not
# elsewhere: swaks and Postfix's smtp-source/smtp-sink (SMTP clients and
# sink), opendkim-testmsg (an independent DKIM verifier), espeak-ng (voice),
# chromium (the console, through playwright-core).
APT_PACKAGES=(swaks postfix opendkim-tools espeak-ng chromium rspamd python3-dkim)
section "Debian packages: ${APT_PACKAGES[*]}"
missing=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "all installed"
elif [ "$(id -u)" != 0 ]; then
	die "missing Debian packages: ${missing[*]} (run as root, or install them)"
else
	echo "installing ${missing[*]} with apt"
	# Postfix asks how to configure itself: not at all (the tests run their
	# own programs, never the system's mail service).
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
	apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
fi

# ---------------------------------------------------------------------------
section "npm ci (tests/js, tests/smsc)"
# tests/smsc is the independent SMSC (npm smpp) internal/smpp is tested
# against: needed by the unit suites too.
npm ci --prefix tests/smsc --no-audit --no-fund --loglevel=error || die "npm ci in tests/smsc failed"
if [ "${SKIP_E2E:-}" != 1 ]; then
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error || die "npm ci in tests/js failed"
else
	echo "tests/js skipped (SKIP_E2E=1)"
fi

# ---------------------------------------------------------------------------
section "gofmt"
unformatted=$(gofmt -l $(git ls-files -co --exclude-standard '*.go' 2>/dev/null || find . -name '*.go' -not -path './tests/js/node_modules/*'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted (run gofmt -w):"
	echo "$unformatted"
	failed+=("gofmt")
else
	echo "ok"
fi

section "go vet ./..."
if go vet ./...; then echo "ok"; else failed+=("go vet"); fi

# ---------------------------------------------------------------------------
# Every package but the e2e suite, which runs last on its own (its results
# must never come from the test cache: it tests a binary go test does not
# see as an input).
section "go test -race (unit and conformance suites)"
mapfile -t pkgs < <(go list ./... | grep -v '/tests/e2e$')
if ! go test -race -timeout 20m "${pkgs[@]}"; then
	failed+=("unit and conformance tests")
fi

# ---------------------------------------------------------------------------
if [ "${SKIP_E2E:-}" != 1 ]; then
	section "go test ./tests/e2e (end to end: AWS CLI, boto3, AWS SDK for JavaScript, tidings apply)"
	if ! TIDINGS_E2E_RACE="${TIDINGS_E2E_RACE:-1}" go test -count=1 -timeout 45m ./tests/e2e/; then
		failed+=("end-to-end tests")
	fi
fi

# On success the last lines are go test's own; on failure, say what failed.
if [ ${#failed[@]} -gt 0 ]; then
	printf '\ntest.sh: FAILED after %ds: %s\n' "$(($(date +%s) - start_time))" "$(IFS=,; echo "${failed[*]}" | sed 's/,/, /g')" >&2
	exit 1
fi
