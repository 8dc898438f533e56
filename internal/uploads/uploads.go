// Package uploads serves pre-signed upload URLs: an API operation (such as
// CreateAddressListImportJob) hands the caller a URL, and the caller PUTs a
// file to it, as they would to the S3 URL that AWS returns. The URL names a
// blob key and an expiry, and carries an HMAC over both, so Tidings needs no
// state to check it.
package uploads

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/blob"
)

// Prefix is the URL path under which uploads are served.
const Prefix = "/_tidings/upload/"

// Signer makes and checks upload URLs.
type Signer struct {
	BaseURL string // e.g. http://127.0.0.1:8025
	Key     []byte // HMAC key, at least 32 bytes
	Now     func() time.Time
}

func (s *Signer) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Signer) mac(key string, expires int64) string {
	h := hmac.New(sha256.New, s.Key)
	fmt.Fprintf(h, "PUT\n%s\n%d", key, expires)
	return hex.EncodeToString(h.Sum(nil))
}

// PresignPut returns a URL accepting one PUT of the blob key until expires
// from now.
func (s *Signer) PresignPut(key string, expires time.Duration) (string, error) {
	if key == "" || strings.Contains(key, "..") {
		return "", fmt.Errorf("uploads: bad key %q", key)
	}
	exp := s.now().Add(expires).Unix()
	q := url.Values{"expires": {strconv.FormatInt(exp, 10)}, "signature": {s.mac(key, exp)}}
	return strings.TrimRight(s.BaseURL, "/") + Prefix + escapePath(key) + "?" + q.Encode(), nil
}

func escapePath(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// Handler accepts PUTs of pre-signed URLs into store, up to maxBytes.
func (s *Signer) Handler(store blob.Store, maxBytes int64, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			w.Header().Set("Allow", http.MethodPut)
			http.Error(w, "upload URLs take PUT", http.StatusMethodNotAllowed)
			return
		}
		key := strings.TrimPrefix(r.URL.Path, Prefix)
		exp, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
		if err != nil {
			http.Error(w, "missing or bad expires parameter", http.StatusForbidden)
			return
		}
		want := s.mac(key, exp)
		if subtle.ConstantTimeCompare([]byte(want), []byte(r.URL.Query().Get("signature"))) != 1 {
			http.Error(w, "signature does not match", http.StatusForbidden)
			return
		}
		if s.now().Unix() > exp {
			http.Error(w, "upload URL expired", http.StatusForbidden)
			return
		}
		if r.ContentLength > maxBytes {
			http.Error(w, fmt.Sprintf("upload larger than %d bytes", maxBytes), http.StatusRequestEntityTooLarge)
			return
		}
		body := http.MaxBytesReader(w, r.Body, maxBytes)
		info, err := store.Put(r.Context(), key, body)
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, fmt.Sprintf("upload larger than %d bytes", maxBytes), http.StatusRequestEntityTooLarge)
				return
			}
			log.Error("upload failed", "key", key, "err", err)
			http.Error(w, "could not store the upload", http.StatusInternalServerError)
			return
		}
		w.Header().Set("ETag", `"`+info.SHA256+`"`)
		w.WriteHeader(http.StatusOK)
	})
}
