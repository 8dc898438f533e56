// Package awsapi is the AWS wire layer: it verifies SigV4 signatures,
// routes a request to an operation of a registered service model
// (awsJson1_0 by X-Amz-Target, Smithy RPC v2 CBOR by
// /service/{Service}/operation/{Op}, restJson1 by method and URI template,
// awsQuery by credential scope and Action), decodes its input, validates it,
// calls the typed handler and encodes the output or the error in the
// protocol's own form.
//
// Handlers see only generated model structures and return domain errors
// (internal/fault); the mapping to each service's exception names lives in
// one place, errors.go.
package awsapi

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/tidings/tidings/internal/model/smithy"
)

// DefaultRegion is the region of a Server configured with none.
const DefaultRegion = "us-east-1"

// DefaultMaxBodyBytes bounds the body of an API call unless the operation
// was registered with WithBodyLimit.
const DefaultMaxBodyBytes = 10 << 20

// Config configures a Server.
type Config struct {
	// Region is the only region accepted in a credential scope; empty
	// means DefaultRegion.
	Region string
	// KeyLookup finds the secret of an access key. A KeyLookup that also
	// implements SessionKeyLookup accepts temporary credentials.
	KeyLookup KeyLookup
	// IdempotencyStore remembers answers to requests that carry a client
	// token; nil disables replay (every request runs).
	IdempotencyStore IdempotencyStore
	// Logger receives one line per request; nil means slog.Default().
	Logger *slog.Logger
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// Metrics observes every request; nil means none.
	Metrics Metrics
	// MaxBodyBytes bounds request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Metrics is told about every request the Server answers. The lead wires
// Prometheus behind it; this package imports no metrics library.
type Metrics interface {
	ObserveRequest(RequestInfo)
}

// RequestInfo describes one answered request. Service and Operation are
// empty when the request could not be routed.
type RequestInfo struct {
	Service   string // smithy.Service.Name, e.g. "mailmanager"
	Operation string
	Protocol  string // "awsJson1_0", "rpcv2Cbor", "restJson1", "awsQuery"
	Status    int
	ErrorCode string // "" on success
	Duration  time.Duration
}

// Server is the http.Handler of the AWS-compatible APIs. Register the
// services and handlers before serving.
type Server struct {
	cfg   Config
	log   *slog.Logger
	clock func() time.Time

	mu        sync.RWMutex
	services  map[*smithy.Service]*service
	byTarget  map[string]*service // awsJson1_0 X-Amz-Target prefix
	byRPCName map[string]*service // rpcv2Cbor /service/{name}/
	query     []*service
	rest      []*restRoute
	maxQuery  int64 // largest body limit of any awsQuery operation
}

type service struct {
	model       *smithy.Service
	signingName string
	ops         map[string]*operation
}

type operation struct {
	svc       *service
	model     *smithy.Operation
	call      func(ctx context.Context, in any) (any, error)
	bodyLimit int64
	anonymous bool
}

// New returns a Server with no service registered.
func New(cfg Config) *Server {
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		clock:     cfg.Clock,
		services:  map[*smithy.Service]*service{},
		byTarget:  map[string]*service{},
		byRPCName: map[string]*service{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.cfg.Region == "" {
		s.cfg.Region = DefaultRegion
	}
	if s.cfg.MaxBodyBytes <= 0 {
		s.cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return s
}

// Register makes every operation of svc routable. Operations without a
// handler answer 501 NotImplemented. Registering a service twice is a no-op.
func (s *Server) Register(svc *smithy.Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.register(svc)
}

func (s *Server) register(m *smithy.Service) *service {
	if sv, ok := s.services[m]; ok {
		return sv
	}
	sv := &service{model: m, signingName: signingName(m), ops: map[string]*operation{}}
	for name, op := range m.Operations {
		sv.ops[name] = &operation{svc: sv, model: op, bodyLimit: s.cfg.MaxBodyBytes}
	}
	s.services[m] = sv
	switch m.Protocol {
	case smithy.AWSJSON10:
		if m.TargetPrefix == "" {
			panic(fmt.Sprintf("awsapi: service %s: awsJson1_0 without a target prefix", m.Name))
		}
		s.byTarget[m.TargetPrefix] = sv
		// Smithy RPC v2 CBOR names the service shape in the path; in the
		// AWS models it is the same as the awsJson target prefix
		// (MailManagerSvc, PinpointSMSVoiceV2).
		s.byRPCName[m.TargetPrefix] = sv
		if m.ServiceID != "" {
			s.byRPCName[strings.ReplaceAll(m.ServiceID, " ", "")] = sv
		}
	case smithy.RESTJSON1:
		for _, op := range sv.ops {
			rt, err := compileRoute(op)
			if err != nil {
				panic(fmt.Sprintf("awsapi: service %s: %v", m.Name, err))
			}
			s.rest = append(s.rest, rt)
		}
	case smithy.AWSQuery:
		s.query = append(s.query, sv)
		if s.cfg.MaxBodyBytes > s.maxQuery {
			s.maxQuery = s.cfg.MaxBodyBytes
		}
	default:
		panic(fmt.Sprintf("awsapi: service %s: unsupported protocol %q", m.Name, m.Protocol))
	}
	return sv
}

// signingName is the credential-scope service of m. STS's model has no
// signingName: the endpoint prefix ("sts") applies, which is its Name.
func signingName(m *smithy.Service) string {
	if m.SigningName != "" {
		return m.SigningName
	}
	return m.Name
}

// Option changes how one operation is served.
type Option func(*operation)

// WithBodyLimit sets the largest request body of the operation (raw
// message uploads need more than DefaultMaxBodyBytes).
func WithBodyLimit(n int64) Option {
	return func(o *operation) { o.bodyLimit = n }
}

// Anonymous serves the operation without requiring a signature, as the
// model's smithy.api#noAuth trait asks (STS AssumeRoleWithWebIdentity,
// AssumeRoleWithSAML). A signature that is present is still verified.
func Anonymous() Option {
	return func(o *operation) { o.anonymous = true }
}

// Handle registers h as the handler of operation op of svc (registering
// svc if needed). I and O must be the structures the model's NewInput and
// NewOutput return pointers to (struct{} where the model has none); a
// mismatch or an unknown operation panics, at startup.
//
// The handler receives a decoded, validated input and the caller's
// iam.Principal in ctx. It returns a domain error (fault.*), a
// *smithy.ValidationError or an *Error naming a modeled exception.
func Handle[I, O any](srv *Server, svc *smithy.Service, op string, h func(ctx context.Context, in *I) (*O, error), opts ...Option) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	sv := srv.register(svc)
	o, ok := sv.ops[op]
	if !ok {
		panic(fmt.Sprintf("awsapi: Handle: service %s has no operation %q", svc.Name, op))
	}
	if o.call != nil {
		panic(fmt.Sprintf("awsapi: Handle: %s.%s registered twice", svc.Name, op))
	}
	checkType := func(what string, newFn func() any, want reflect.Type) {
		if newFn == nil {
			if want != reflect.TypeFor[struct{}]() {
				panic(fmt.Sprintf("awsapi: Handle: %s.%s has no %s shape; use struct{}, not %v", svc.Name, op, what, want))
			}
			return
		}
		got := reflect.TypeOf(newFn())
		if got != reflect.PointerTo(want) {
			panic(fmt.Sprintf("awsapi: Handle: %s.%s %s is %v, handler takes *%v", svc.Name, op, what, got, want))
		}
	}
	checkType("input", o.model.NewInput, reflect.TypeFor[I]())
	checkType("output", o.model.NewOutput, reflect.TypeFor[O]())
	o.call = func(ctx context.Context, in any) (any, error) {
		out, err := h(ctx, in.(*I))
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = new(O)
		}
		return out, nil
	}
	for _, opt := range opts {
		opt(o)
	}
	if svc.Protocol == smithy.AWSQuery && o.bodyLimit > srv.maxQuery {
		srv.maxQuery = o.bodyLimit
	}
}

func (o *operation) newInput() any {
	if o.model.NewInput == nil {
		return &struct{}{}
	}
	return o.model.NewInput()
}

func (o *operation) newOutput() any {
	if o.model.NewOutput == nil {
		return &struct{}{}
	}
	return o.model.NewOutput()
}
