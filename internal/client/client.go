// Package client calls a Tidings (or AWS) awsJson1_0 API, signed with SigV4.
// The tidings command uses it so that `tidings apply` goes through the same
// API, validation and authorisation as every other client.
package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Client signs and sends awsJson1_0 requests.
type Client struct {
	Endpoint    string // e.g. http://127.0.0.1:8025
	Region      string
	AccessKeyID string
	Secret      string
	HTTP        *http.Client
	// Header holds extra request headers of Native calls (signed with them).
	Header map[string]string
}

// APIError is an error answered by the server.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// JSON calls operation op of the service whose X-Amz-Target prefix is
// target (e.g. "MailManagerSvc") and whose signing name is signingName,
// sending in as JSON and decoding the answer into out (which may be nil).
func (c *Client) JSON(ctx context.Context, target, signingName, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Endpoint, "/")+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", target+"."+op)
	resp, data, err := c.send(ctx, req, body, signingName)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return decodeError(resp, data)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: decoding the answer: %w", op, err)
	}
	return nil
}

// send signs req (whose body is body) for the credential scope service
// signingName and returns the answer and its body.
func (c *Client) send(ctx context.Context, req *http.Request, body []byte, signingName string) (*http.Response, []byte, error) {
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.Secret}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingName, c.Region, time.Now()); err != nil {
		return nil, nil, err
	}
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp, data, err
}

func decodeError(resp *http.Response, data []byte) error {
	var e struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	_ = json.Unmarshal(data, &e)
	code := resp.Header.Get("X-Amzn-ErrorType")
	if code == "" {
		code = e.Type
	}
	// "aws.protocoltests#Name:http://…" and "ns#Name" both name Name.
	if i := strings.Index(code, ":"); i >= 0 {
		code = code[:i]
	}
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	msg := e.Message
	if msg == "" {
		msg = e.Message2
	}
	if code == "" {
		code = http.StatusText(resp.StatusCode)
		if msg == "" {
			msg = strings.TrimSpace(string(data))
		}
	}
	return &APIError{Status: resp.StatusCode, Code: code, Message: msg}
}

// Native calls one of Tidings' own JSON APIs (under /v1/), signed with
// the credential scope service signingName: method on path (with its
// query), sending body (nil for none) with contentType ("" for JSON), and
// decoding a JSON answer into out (which may be nil). Errors answered as
// {"error": {"code", "message"}} are *APIError.
func (c *Client) Native(ctx context.Context, signingName, method, path, contentType string, body []byte, out any) error {
	if body == nil {
		body = []byte{}
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if contentType == "" {
		contentType = "application/json"
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range c.Header {
		req.Header.Set(k, v)
	}
	resp, data, err := c.send(ctx, req, body, signingName)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
		}
		return &APIError{Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(data))}
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}
