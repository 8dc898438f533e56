package console

import "net/http"

// What the external tests (package console_test, which imports the store,
// which imports this package) use of the internals.

const (
	HTMLCSP        = htmlCSP
	SessionCookie  = sessionCookie
	ThrottleLimit  = throttleLimit
	ThrottleWindow = throttleWindow
)

type ExportStatus = exportStatus

func (c *Console) Mux() *http.ServeMux { return c.mux }

// realArgon is the production parameters, saved before init makes
// hashing cheap for the other tests.
var realArgon = argonParams

func init() {
	argonParams = argon2Params{time: 1, memory: 1 << 10, threads: 1}
}
