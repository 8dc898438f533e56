package awsapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/model/smithy"
)

type protocol int

const (
	protoJSON  protocol = iota // awsJson1_0
	protoCBOR                  // Smithy RPC v2 CBOR
	protoREST                  // restJson1
	protoQuery                 // awsQuery
)

func (p protocol) String() string {
	return [...]string{"awsJson1_0", "rpcv2Cbor", "restJson1", "awsQuery"}[p]
}

// request is one call in flight.
type request struct {
	id     string
	ctx    context.Context // carries the principal once verified
	w      *statusWriter
	r      *http.Request
	proto  protocol
	svc    *service
	op     *operation
	body   []byte
	read   bool              // body has been read
	form   url.Values        // awsQuery parameters (body and URL)
	labels map[string]string // restJson1 URI labels, decoded
}

// ServeHTTP answers one AWS API call. Every response, errors and 404s
// included, carries x-amzn-RequestId.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rq := &request{id: newRequestID(), ctx: r.Context(), w: &statusWriter{ResponseWriter: w}, r: r}
	// Set directly to keep AWS's spelling (Header.Set would canonicalize
	// it to X-Amzn-Requestid; clients read it case-insensitively anyway).
	w.Header()["x-amzn-RequestId"] = []string{rq.id}

	err := s.serve(rq)
	var (
		code     string
		internal bool
	)
	if err != nil {
		var ae *apiError
		ae, internal = resolveError(rq.proto, rq.svc, rq.op, err, rq.id)
		code = ae.code
		if !rq.w.wrote {
			writeError(rq, ae)
		}
	}

	info := RequestInfo{Protocol: rq.proto.String(), Status: rq.w.status, ErrorCode: code, Duration: time.Since(start)}
	if rq.svc != nil {
		info.Service = rq.svc.model.Name
	}
	if rq.op != nil {
		info.Operation = rq.op.model.Name
	}
	attrs := []slog.Attr{
		slog.String("request_id", rq.id),
		slog.String("service", info.Service),
		slog.String("op", info.Operation),
		slog.String("protocol", info.Protocol),
		slog.Int("status", info.Status),
		slog.Duration("duration", info.Duration),
	}
	if p, ok := iam.PrincipalFrom(rq.ctx); ok {
		attrs = append(attrs, slog.String("account", p.AccountID))
	}
	level := slog.LevelInfo
	if code != "" {
		attrs = append(attrs, slog.String("error_code", code))
	}
	if internal {
		level = slog.LevelError
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.log.LogAttrs(rq.ctx, level, "aws request", attrs...)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.ObserveRequest(info)
	}
}

func (s *Server) serve(rq *request) error {
	s.mu.RLock()
	err := s.route(rq)
	s.mu.RUnlock()
	if err != nil {
		return err
	}
	op := rq.op
	if !rq.read {
		if err := rq.readBody(op.bodyLimit); err != nil {
			return err
		}
	} else if int64(len(rq.body)) > op.bodyLimit {
		return tooLarge(op.bodyLimit)
	}

	// Authenticate before anything of the request is acted upon.
	if !op.anonymous || hasSignature(rq.r) {
		v := verifier{region: s.cfg.Region, keys: s.cfg.KeyLookup, now: s.clock}
		p, aerr := v.verify(rq.ctx, rq.r, rq.body, rq.svc.signingName)
		if aerr != nil {
			return aerr
		}
		rq.ctx = iam.WithPrincipal(rq.ctx, p)
	}
	ctx := rq.ctx

	if op.call == nil {
		return &wireError{"NotImplemented", "NotImplemented", http.StatusNotImplemented,
			fmt.Sprintf("Tidings does not implement operation %s of service %s yet.", op.model.Name, rq.svc.model.ServiceID)}
	}

	in := op.newInput()
	if err := s.decodeInput(rq, in); err != nil {
		return err
	}
	if v, ok := in.(smithy.Validator); ok {
		if err := validationErr(v.Validate()); err != nil {
			return err
		}
	}

	idem, replay, err := s.checkIdempotency(ctx, rq, in)
	if err != nil {
		return err
	}
	if replay != nil {
		return s.writeOutput(rq, replay)
	}
	out, err := s.invoke(ctx, op, in)
	if err != nil {
		return err
	}
	s.rememberIdempotent(ctx, rq, idem, out)
	return s.writeOutput(rq, out)
}

// invoke calls the handler, turning a panic into an internal error so that
// the caller gets a 500 rather than a dropped connection.
func (s *Server) invoke(ctx context.Context, op *operation, in any) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in %s.%s handler: %v\n%s", op.svc.model.Name, op.model.Name, p, debug.Stack())
		}
	}()
	return op.call(ctx, in)
}

// validationErr normalizes what a generated Validate returns: a typed nil
// or an empty *smithy.ValidationError is no error.
func validationErr(err error) error {
	if err == nil {
		return nil
	}
	var ve *smithy.ValidationError
	if errors.As(err, &ve) && (ve == nil || len(ve.Violations) == 0) {
		return nil
	}
	return err
}

func (s *Server) decodeInput(rq *request, in any) error {
	switch rq.proto {
	case protoJSON:
		return decodeJSON(rq.body, in)
	case protoCBOR:
		return decodeCBOR(rq.body, in)
	case protoREST:
		return decodeREST(rq, in)
	default:
		return decodeQuery(rq.form, in)
	}
}

func (s *Server) writeOutput(rq *request, out any) error {
	fillRequired(reflect.ValueOf(out))
	switch rq.proto {
	case protoJSON:
		return writeJSONOutput(rq, out)
	case protoCBOR:
		return writeCBOROutput(rq, out)
	case protoREST:
		return writeRESTOutput(rq, out)
	default:
		return writeQueryOutput(rq, out)
	}
}

// route finds the protocol, service and operation of rq. On failure it
// still sets rq.proto to the protocol the client most likely speaks, so
// that the error is written in a form it can read.
func (s *Server) route(rq *request) error {
	r := rq.r
	path := rawPath(r)
	if target := amzTarget(r); target != "" {
		rq.proto = protoJSON
		prefix, name, ok := cutLast(target, ".")
		if !ok {
			return unknownOp("X-Amz-Target %q is not <service>.<operation>", target)
		}
		sv := s.byTarget[prefix]
		if sv == nil {
			return unknownOp("No service serves X-Amz-Target prefix %q", prefix)
		}
		rq.svc = sv
		if rq.op = sv.ops[name]; rq.op == nil {
			return unknownOp("Operation %s is not part of service %s", name, sv.model.ServiceID)
		}
		return nil
	}
	if svcName, opName, ok := rpcPath(path); ok {
		rq.proto = protoCBOR
		sv := s.byRPCName[svcName]
		if sv == nil {
			return &wireError{"UnknownOperationException", "InvalidAction", http.StatusNotFound, fmt.Sprintf("No service named %q", svcName)}
		}
		rq.svc = sv
		if rq.op = sv.ops[opName]; rq.op == nil {
			return &wireError{"UnknownOperationException", "InvalidAction", http.StatusNotFound,
				fmt.Sprintf("Operation %s is not part of service %s", opName, sv.model.ServiceID)}
		}
		if r.Method != http.MethodPost {
			return &wireError{"UnknownOperationException", "InvalidAction", http.StatusMethodNotAllowed, "RPC v2 CBOR requests must be POST"}
		}
		return nil
	}
	if isQueryRequest(r) {
		rq.proto = protoQuery
		return s.routeQuery(rq)
	}
	rq.proto = protoREST
	if path == "/" && r.Method == http.MethodPost {
		return unknownOp("The request names no operation: send an X-Amz-Target header (awsJson1_0), " +
			"a form with Action= (awsQuery), or POST /service/<service>/operation/<operation> (RPC v2 CBOR)")
	}
	return s.routeREST(rq, path)
}

// amzTarget returns the X-Amz-Target of r: the header, or the query
// parameter a pre-signed request carries it in (SDK presigners hoist signed
// headers into the query string).
func amzTarget(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		return t
	}
	if r.URL.RawQuery == "" {
		return ""
	}
	return r.URL.Query().Get("X-Amz-Target")
}

func unknownOp(format string, args ...any) *wireError {
	return &wireError{"UnknownOperationException", "InvalidAction", http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// rpcPath matches .../service/{ServiceName}/operation/{Operation}
// (Smithy RPC v2: the endpoint may carry a path prefix).
func rpcPath(path string) (svc, op string, ok bool) {
	i := strings.LastIndex(path, "/service/")
	if i < 0 {
		return "", "", false
	}
	parts := strings.Split(path[i+1:], "/")
	if len(parts) != 4 || parts[2] != "operation" || parts[1] == "" || parts[3] == "" {
		return "", "", false
	}
	return parts[1], parts[3], true
}

func isQueryRequest(r *http.Request) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/x-www-form-urlencoded" {
			return true
		}
	}
	return r.URL.Query().Has("Action")
}

// routeQuery picks the awsQuery service by the credential scope of the
// signature ("ses" is SES v1, "sts" is STS), then by Version when the
// request is unsigned or the scope names no query service, and the
// operation by Action.
func (s *Server) routeQuery(rq *request) error {
	if err := rq.readBody(max(s.maxQuery, s.cfg.MaxBodyBytes)); err != nil {
		return err
	}
	form, err := url.ParseQuery(string(rq.body))
	if err != nil {
		return &wireError{"SerializationException", "MalformedQueryString", http.StatusBadRequest, "The form body is malformed: " + err.Error()}
	}
	for k, v := range rq.r.URL.Query() {
		if _, dup := form[k]; !dup && !strings.HasPrefix(k, "X-Amz-") {
			form[k] = v
		}
	}
	rq.form = form
	action, version := form.Get("Action"), form.Get("Version")

	var candidates []*service
	if scope := claimedScopeService(rq.r); scope != "" {
		for _, sv := range s.query {
			if sv.signingName == scope {
				candidates = append(candidates, sv)
			}
		}
	}
	if len(candidates) != 1 {
		var byVersion []*service
		for _, sv := range s.query {
			if sv.model.APIVersion == version && (len(candidates) == 0 || containsService(candidates, sv)) {
				byVersion = append(byVersion, sv)
			}
		}
		if len(byVersion) > 0 {
			candidates = byVersion
		}
	}
	if len(candidates) == 0 && len(s.query) == 1 {
		candidates = s.query
	}
	if len(candidates) == 0 {
		return &wireError{"UnknownOperationException", "InvalidAction", http.StatusBadRequest,
			fmt.Sprintf("No service answers Action %q for version %q", action, version)}
	}
	rq.svc = candidates[0]
	if action == "" {
		return &wireError{"UnknownOperationException", "MissingAction", http.StatusBadRequest, "The request is missing the Action parameter."}
	}
	for _, sv := range candidates {
		if op := sv.ops[action]; op != nil {
			rq.svc, rq.op = sv, op
			return nil
		}
	}
	return &wireError{"UnknownOperationException", "InvalidAction", http.StatusBadRequest,
		fmt.Sprintf("Could not find operation %s for version %s", action, version)}
}

func containsService(list []*service, sv *service) bool {
	for _, v := range list {
		if v == sv {
			return true
		}
	}
	return false
}

func (s *Server) routeREST(rq *request, path string) error {
	var (
		best       *restRoute
		bestRank   []int
		bestLabels map[string]string
		otherVerb  bool
	)
	segs := splitPath(path)
	query := rq.r.URL.Query()
	for _, rt := range s.rest {
		labels, rank, ok := rt.match(segs, query)
		if !ok {
			continue
		}
		if rt.method != rq.r.Method {
			otherVerb = true
			continue
		}
		if best == nil || lessRank(rank, bestRank) {
			best, bestRank, bestLabels = rt, rank, labels
		}
	}
	if best == nil {
		if otherVerb {
			return &wireError{"UnknownOperationException", "InvalidAction", http.StatusMethodNotAllowed,
				fmt.Sprintf("Method %s is not allowed on %s", rq.r.Method, path)}
		}
		return &wireError{"UnknownOperationException", "InvalidAction", http.StatusNotFound,
			fmt.Sprintf("No operation answers %s %s", rq.r.Method, path)}
	}
	rq.svc, rq.op, rq.labels = best.op.svc, best.op, bestLabels
	return nil
}

// Match reports whether r looks like a call to one of the registered AWS
// APIs (an X-Amz-Target, an RPC v2 path, an awsQuery form or a restJson1
// path), so that a mux can send the rest elsewhere. It reads no body.
//
// awsQuery calls go to "/" only: a form posted elsewhere (the console's)
// is not one.
func (s *Server) Match(r *http.Request) bool {
	path := rawPath(r)
	if amzTarget(r) != "" || (path == "/" && isQueryRequest(r)) {
		return true
	}
	if _, _, ok := rpcPath(path); ok {
		return true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	segs := splitPath(path)
	for _, rt := range s.rest {
		if _, _, ok := rt.match(segs, r.URL.Query()); ok {
			return true
		}
	}
	return false
}

// readBody reads the whole body, at most limit bytes, once.
func (rq *request) readBody(limit int64) error {
	if rq.read {
		return nil
	}
	rq.read = true
	if rq.r.ContentLength > limit {
		return tooLarge(limit)
	}
	b, err := io.ReadAll(io.LimitReader(rq.r.Body, limit+1))
	if err != nil {
		return &wireError{"SerializationException", "MalformedInput", http.StatusBadRequest, "Could not read the request body: " + err.Error()}
	}
	if int64(len(b)) > limit {
		return tooLarge(limit)
	}
	rq.body = b
	return nil
}

func tooLarge(limit int64) *wireError {
	return &wireError{"RequestEntityTooLargeException", "RequestEntityTooLarge", http.StatusRequestEntityTooLarge,
		fmt.Sprintf("The request body is larger than %d bytes", limit)}
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// newRequestID returns a random (version 4) UUID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// statusWriter records the status of the response.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// send writes a complete response.
func (rq *request) send(status int, contentType string, body []byte) {
	h := rq.w.Header()
	if status == http.StatusNoContent || status == http.StatusNotModified {
		// RFC 9110 15.3.5, 15.4.5: these responses have no content.
		rq.w.WriteHeader(status)
		return
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rq.w.WriteHeader(status)
	if rq.r.Method != http.MethodHead {
		_, _ = io.Copy(rq.w, bytes.NewReader(body))
	}
}
