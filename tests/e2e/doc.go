// Package e2e tests a real `tidings serve` over TCP with the clients users
// run against it: the AWS CLI, boto3 (scripts in py/), the AWS SDK for
// JavaScript (scripts in ../js) and the tidings command itself.
//
// TestMain builds ./cmd/tidings once; every test starts its own server on a
// free loopback port with a temporary data directory (SQLite) or a fresh
// PostgreSQL database made from TIDINGS_TEST_DATABASE_URL, waits for
// /healthz, and stops it with SIGTERM, asserting a clean exit.
//
// Run with `go test ./tests/e2e` (scripts/test.sh runs it last). Set
// TIDINGS_E2E_RACE=1 to build the server with the race detector: a race
// then fails the test that stops the server, since the process exits 66.
package e2e
