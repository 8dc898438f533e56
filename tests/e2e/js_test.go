package e2e

import (
	"os"
	"testing"
)

// TestJSSDK runs @aws-sdk/client-mailmanager against a server, once with
// its default awsJson1_0 protocol and once forced to Smithy RPC v2 CBOR.
// The script checks on the wire (a middleware's log) which protocol was
// spoken, so a server that answers CBOR requests in JSON fails.
func TestJSSDK(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(scriptPath("js", "node_modules", "@aws-sdk", "client-mailmanager")); err != nil {
		t.Fatalf("tests/js/node_modules lacks @aws-sdk/client-mailmanager: run `npm ci --prefix tests/js` (scripts/test.sh does): %v", err)
	}
	s := startServer(t, serverOpts{})
	for _, mode := range []string{"json", "cbor"} {
		mode := mode
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			runChecks(t, s.clientEnv("", ""), 3, nodeBin, scriptPath("js", "mailmanager.mjs"), mode)
		})
	}
}
