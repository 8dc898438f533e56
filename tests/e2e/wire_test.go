package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/fxamacker/cbor/v2"
)

// TestWire checks protocol details no SDK lets a test get wrong on
// purpose: clock skew, presigned requests, malformed CBOR, error shapes.
func TestWire(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})

	t.Run("JSONErrorShape", func(t *testing.T) {
		t.Parallel()
		resp := s.signedJSON(t, "GetRuleSet", `{"RuleSetId":"rs-doesnotexist"}`, time.Now(), rootSecret)
		if resp.status != 400 {
			t.Errorf("status %d, want 400", resp.status)
		}
		if got := resp.header.Get("X-Amzn-ErrorType"); !strings.HasPrefix(got, "ResourceNotFoundException") {
			t.Errorf("X-Amzn-ErrorType %q, want ResourceNotFoundException", got)
		}
		var body map[string]any
		if err := json.Unmarshal(resp.body, &body); err != nil {
			t.Fatalf("error body is not JSON: %v: %s", err, resp.body)
		}
		if typ, _ := body["__type"].(string); !strings.HasSuffix(typ, "ResourceNotFoundException") {
			t.Errorf("__type %q, want …ResourceNotFoundException", typ)
		}
		if msg, _ := body["message"].(string); msg == "" {
			if msg, _ = body["Message"].(string); msg == "" {
				t.Errorf("no message in %s", resp.body)
			}
		}
		if resp.header.Get("X-Amzn-RequestId") == "" {
			t.Error("no x-amzn-RequestId on an error answer")
		}
		if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-amz-json-1.0") {
			t.Errorf("Content-Type %q, want application/x-amz-json-1.0", ct)
		}
	})

	t.Run("ClockSkew", func(t *testing.T) {
		t.Parallel()
		ok := s.signedJSON(t, "ListArchives", `{}`, time.Now().Add(-10*time.Minute), rootSecret)
		if ok.status != 200 {
			t.Errorf("signed 10 minutes ago (within ±15): %d %s, want 200", ok.status, ok.body)
		}
		for _, skew := range []time.Duration{-20 * time.Minute, 20 * time.Minute} {
			resp := s.signedJSON(t, "ListArchives", `{}`, time.Now().Add(skew), rootSecret)
			if resp.status != 403 || resp.code() != "InvalidSignatureException" {
				t.Errorf("signed %s off: %d %s %s, want 403 InvalidSignatureException", skew, resp.status, resp.code(), resp.body)
			}
		}
	})

	t.Run("PresignedQuery", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			secret string
			status int
		}{{rootSecret, 200}, {"wrong-secret-0123456789abcdef", 403}} {
			// Mail Manager: the signer hoists X-Amz-Target into the query
			// string, and the server must dispatch on it from there.
			req, err := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-amz-json-1.0")
			req.Header.Set("X-Amz-Target", "MailManagerSvc.ListArchives")
			creds := aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: tc.secret}
			signed, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, sha256Hex("{}"), "ses", region, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(signed, "X-Amz-Signature=") {
				t.Fatalf("not a presigned URL: %s", signed)
			}
			preq, err := http.NewRequest(http.MethodPost, signed, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range hdr {
				if !strings.EqualFold(k, "Host") {
					preq.Header[k] = vs
				}
			}
			preq.Header.Set("Content-Type", "application/x-amz-json-1.0")
			if preq.Header.Get("X-Amz-Target") != "" || !strings.Contains(signed, "X-Amz-Target=") {
				t.Fatalf("the signer no longer hoists X-Amz-Target: %s", signed)
			}
			resp := do(t, preq)
			if resp.status != tc.status {
				t.Errorf("presigned Mail Manager request (right secret=%v): %d %s, want %d", tc.secret == rootSecret, resp.status, resp.body, tc.status)
			}

			// STS: a presigned GetCallerIdentity, as IAM-based login schemes use it.
			greq, err := http.NewRequest(http.MethodGet, s.URL+"/?Action=GetCallerIdentity&Version=2011-06-15", nil)
			if err != nil {
				t.Fatal(err)
			}
			signed, hdr, err = v4.NewSigner().PresignHTTP(context.Background(), creds, greq, sha256Hex(""), "sts", region, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			greq, _ = http.NewRequest(http.MethodGet, signed, nil)
			for k, vs := range hdr {
				if !strings.EqualFold(k, "Host") {
					greq.Header[k] = vs
				}
			}
			resp = do(t, greq)
			if resp.status != tc.status {
				t.Errorf("presigned STS GetCallerIdentity (right secret=%v): %d %s, want %d", tc.secret == rootSecret, resp.status, resp.body, tc.status)
			} else if tc.status == 200 && !strings.Contains(string(resp.body), "<Account>"+accountID+"</Account>") {
				t.Errorf("presigned GetCallerIdentity: no <Account>%s</Account> in %s", accountID, resp.body)
			}
		}
	})

	t.Run("CBORRoundTrip", func(t *testing.T) {
		t.Parallel()
		in, _ := cbor.Marshal(map[string]any{"ArchiveName": "cbor-raw-" + randomSuffix()})
		resp := s.signedCBOR(t, "CreateArchive", in)
		if resp.status != 200 {
			t.Fatalf("CreateArchive over CBOR: %d %s %x", resp.status, resp.code(), resp.body)
		}
		if ct := resp.header.Get("Content-Type"); ct != "application/cbor" {
			t.Errorf("Content-Type %q, want application/cbor", ct)
		}
		if sp := resp.header.Get("Smithy-Protocol"); sp != "rpc-v2-cbor" {
			t.Errorf("smithy-protocol %q, want rpc-v2-cbor", sp)
		}
		var out map[string]any
		if err := cbor.Unmarshal(resp.body, &out); err != nil {
			t.Fatalf("answer is not CBOR: %v", err)
		}
		if id, _ := out["ArchiveId"].(string); id == "" {
			t.Errorf("no ArchiveId in %v", out)
		}
	})

	t.Run("MalformedCBOR", func(t *testing.T) {
		t.Parallel()
		// 0xbf opens an indefinite map that never ends; 0xff 0x00 is no CBOR item.
		for _, body := range [][]byte{{0xbf, 0x61, 0x41}, {0xff, 0x00}} {
			resp := s.signedCBOR(t, "CreateArchive", body)
			if resp.status != 400 || resp.code() != "SerializationException" {
				t.Errorf("CBOR % x: %d %q, want 400 SerializationException", body, resp.status, resp.code())
			}
			if ct := resp.header.Get("Content-Type"); ct != "application/cbor" {
				t.Errorf("error Content-Type %q, want application/cbor", ct)
			}
		}
	})

	t.Run("CBORUnknownOperation", func(t *testing.T) {
		t.Parallel()
		in, _ := cbor.Marshal(map[string]any{})
		resp := s.signedCBOR(t, "FrobnicateWidgets", in)
		if resp.status != 400 && resp.status != 404 {
			t.Errorf("unknown CBOR operation: %d, want 400", resp.status)
		}
		if !strings.Contains(resp.message(), "FrobnicateWidgets") {
			t.Errorf("error should name the operation: %q", resp.message())
		}
	})
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// code is the error code of an answer, from x-amzn-ErrorType or __type.
func (a answer) code() string {
	c := a.header.Get("X-Amzn-ErrorType")
	if c == "" {
		var m map[string]any
		if strings.HasPrefix(a.header.Get("Content-Type"), "application/cbor") {
			_ = cbor.Unmarshal(a.body, &m)
		} else {
			_ = json.Unmarshal(a.body, &m)
		}
		c, _ = m["__type"].(string)
	}
	c, _, _ = strings.Cut(c, ":")
	if i := strings.LastIndex(c, "#"); i >= 0 {
		c = c[i+1:]
	}
	return c
}

func (a answer) message() string {
	var m map[string]any
	if strings.HasPrefix(a.header.Get("Content-Type"), "application/cbor") {
		_ = cbor.Unmarshal(a.body, &m)
	} else {
		_ = json.Unmarshal(a.body, &m)
	}
	if s, ok := m["message"].(string); ok {
		return s
	}
	s, _ := m["Message"].(string)
	return s
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Errorf("%s %s: %d answer without x-amzn-RequestId", req.Method, req.URL.Path, resp.StatusCode)
	}
	return answer{resp.StatusCode, resp.Header, body}
}

// signedJSON sends an awsJson1_0 Mail Manager request signed at `at`.
func (s *Server) signedJSON(t *testing.T, op, body string, at time.Time, secret string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "MailManagerSvc."+op)
	creds := aws.Credentials{AccessKeyID: s.KeyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(body), "ses", region, at); err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// signedCBOR sends a Smithy RPC v2 CBOR Mail Manager request.
func (s *Server) signedCBOR(t *testing.T, op string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/service/MailManagerSvc/operation/"+op, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/cbor")
	req.Header.Set("Accept", "application/cbor")
	req.Header.Set("Smithy-Protocol", "rpc-v2-cbor")
	creds := aws.Credentials{AccessKeyID: s.KeyID, SecretAccessKey: s.Secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, sha256Hex(string(body)), "ses", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
