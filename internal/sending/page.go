package sending

import (
	"context"
	"encoding/base64"

	"github.com/tidings/tidings/internal/fault"
)

// pageSize checks a PageSize: def when absent, 1..max otherwise.
func pageSize(p *int64, max int) (int, error) {
	if p == nil {
		return max, nil
	}
	if *p < 1 || *p > int64(max) {
		return 0, fault.Invalidf("PageSize must be between 1 and %d", max)
	}
	return int(*p), nil
}

// listArgs reads the caller's account and a page request: the page size
// (max when absent) and the key to start after.
func listArgs(ctx context.Context, size *int64, token *string, max int) (acct string, n int, after string, err error) {
	if acct, err = account(ctx); err != nil {
		return "", 0, "", err
	}
	if n, err = pageSize(size, max); err != nil {
		return "", 0, "", err
	}
	after, err = decodeToken(str(token))
	return acct, n, after, err
}

// encodeToken makes a NextToken of the last key of a page.
func encodeToken(after string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1:" + after))
}

func decodeToken(tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < 3 || string(b[:3]) != "v1:" {
		return "", fault.Invalidf("Invalid NextToken")
	}
	return string(b[3:]), nil
}
