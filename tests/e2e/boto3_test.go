package e2e

import "testing"

// TestBoto3 runs the boto3 scripts in py/ against a server: CRUD with
// pagination and client tokens, then bad input of every kind.
func TestBoto3(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	env := append(s.clientEnv("", ""), "TIDINGS_E2E_ACCOUNT_ID="+s.Account)
	t.Run("CRUD", func(t *testing.T) {
		t.Parallel()
		runChecks(t, env, 9, pythonBin, scriptPath("e2e", "py", "crud.py"))
	})
	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		runChecks(t, env, 18, pythonBin, scriptPath("e2e", "py", "bad_inputs.py"))
	})
}
