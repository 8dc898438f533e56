package archive_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/apiroutes"
	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/awsapi"
	blobfs "github.com/tidings/tidings/internal/blob/fs"
	"github.com/tidings/tidings/internal/blob/pack"
	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/iam"
	"github.com/tidings/tidings/internal/kms"
	"github.com/tidings/tidings/internal/mailmanager"
	"github.com/tidings/tidings/internal/message"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/store/storetest"
)

const (
	acct1  = "111122223333"
	acct2  = "444455556666"
	keyID  = "AKIDARCHIVETEST00001"
	secret = "archive-test-secret"
)

// testBundle is what each test works with: the archive over a fresh
// database (SQLite; PostgreSQL when a test database is configured), a file
// blob store, the Mail Manager control plane for the archive resources, a
// clock the test moves, and the API and download servers.
type testBundle struct {
	t     *testing.T
	db    *store.DB
	svc   *archive.Service
	mm    *mailmanager.Service
	blobs *blobfs.Store
	kms   *kms.Service
	clock *fakeClock
	obs   *observer
	ctx   context.Context // caller: acct1
	ctx2  context.Context // caller: acct2
	api   string          // the AWS API server's URL
	dl    string          // the download server's URL
	packs *pack.Store     // with setupOpts.packs
}

type setupOpts struct {
	// jobs starts the job queue with the archive's workers.
	jobs bool
	// packs keeps small messages in pack segments, as Tidings does; the
	// other tests see a blob per message.
	packs bool
}

func setup(t *testing.T, opts ...setupOpts) *testBundle {
	t.Helper()
	var o setupOpts
	if len(opts) > 0 {
		o = opts[0]
	}
	var db *store.DB
	if os.Getenv(storetest.EnvPostgresURL) != "" {
		db = storetest.OpenPostgres(t)
	} else {
		db = storetest.OpenSQLite(t)
	}
	blobs, err := blobfs.New(t.TempDir())
	require.NoError(t, err)
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	keys, err := kms.New(db.KMS(), kms.Config{MasterKey: bytes.Repeat([]byte("m"), kms.KeySize), Now: clock.Now}, nil)
	require.NoError(t, err)
	mms, err := mailmanager.New(db.MailManager(), nil, nil, mailmanager.Config{Now: clock.Now, CheckKmsKey: keys.CheckKey}, nil)
	require.NoError(t, err)

	b := &testBundle{
		t: t, db: db, mm: mms, blobs: blobs, kms: keys, clock: clock, obs: &observer{},
		ctx:  iam.WithPrincipal(context.Background(), iam.Principal{AccountID: acct1}),
		ctx2: iam.WithPrincipal(context.Background(), iam.Principal{AccountID: acct2}),
	}
	dl := httptest.NewUnstartedServer(nil)
	b.dl = "http://" + dl.Listener.Addr().String()
	if o.packs {
		b.packs, err = pack.Open(t.TempDir())
		require.NoError(t, err)
	}
	svc, err := archive.New(db.Archive(), blobs, archive.MailManagerArchives(mms), archive.Config{
		Packs:      b.packs,
		BaseURL:    b.dl,
		SigningKey: bytes.Repeat([]byte("k"), 32),
		Now:        clock.Now,
		Observer:   b.obs,
		Keys:       keys,
		// Small batches, so that retention and exports take several.
		RetentionBatch: 3,
	}, nil)
	require.NoError(t, err)
	b.svc = svc
	mux := http.NewServeMux()
	mux.Handle(archive.DownloadPrefix, svc.DownloadHandler())
	mux.Handle(archive.NativePrefix, svc.NativeHandler(headerAuth{}))
	dl.Config.Handler = mux
	dl.Start()
	t.Cleanup(dl.Close)

	srv := awsapi.New(awsapi.Config{Region: "us-east-1", KeyLookup: oneKey{}, IdempotencyStore: db.Idempotency(),
		Logger: slog.New(slog.DiscardHandler)})
	apiroutes.MailManager(srv, mms)
	apiroutes.Archive(srv, svc)
	api := httptest.NewServer(srv)
	t.Cleanup(api.Close)
	b.api = api.URL

	if o.jobs {
		q := db.Jobs()
		require.NoError(t, svc.RegisterJobs(q))
		require.NoError(t, q.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = q.Stop(ctx)
		})
	}
	return b
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type observer struct {
	mu       sync.Mutex
	archived int
	runs     int
	deleted  int
	bytes    int64
}

func (o *observer) MessageArchived(int64, bool, time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.archived++
}

func (o *observer) RetentionRun(n int, b int64, _ time.Duration, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.runs++
	o.deleted += n
	o.bytes += b
}

// oneKey is the access key of the API tests: account acct1.
type oneKey struct{}

func (oneKey) LookupAccessKey(_ context.Context, id string) (string, iam.Principal, error) {
	if id != keyID {
		return "", iam.Principal{}, fault.NotFoundf("no key %s", id)
	}
	return secret, iam.Principal{AccountID: acct1, AccessKeyID: id, ARN: "arn:aws:iam::" + acct1 + ":root"}, nil
}

// headerAuth stands in for the SigV4 authenticator the app provides: the
// account is the X-Test-Account header.
type headerAuth struct{}

func (headerAuth) Authenticate(r *http.Request) (iam.Principal, error) {
	a := r.Header.Get("X-Test-Account")
	if a == "" {
		return iam.Principal{}, fault.AccessDeniedf("no credentials")
	}
	return iam.Principal{AccountID: a}, nil
}

// call posts an awsJson1_0 Mail Manager request, signed with the test key,
// and returns the status and the decoded body.
func (b *testBundle) call(op string, in any) (int, map[string]any) {
	b.t.Helper()
	body, err := json.Marshal(in)
	require.NoError(b.t, err)
	req, err := http.NewRequest(http.MethodPost, b.api+"/", bytes.NewReader(body))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "MailManagerSvc."+op)
	sum := sha256.Sum256(body)
	err = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "ses", "us-east-1", time.Now())
	require.NoError(b.t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	var out map[string]any
	if len(raw) > 0 {
		require.NoError(b.t, json.Unmarshal(raw, &out), "%s", raw)
	}
	return resp.StatusCode, out
}

// callOK calls and requires a 200.
func (b *testBundle) callOK(op string, in any) map[string]any {
	b.t.Helper()
	status, out := b.call(op, in)
	require.Equal(b.t, http.StatusOK, status, "%s: %v", op, out)
	return out
}

// callErr calls and requires the error code.
func (b *testBundle) callErr(op string, in any, code string) map[string]any {
	b.t.Helper()
	status, out := b.call(op, in)
	require.NotEqual(b.t, http.StatusOK, status, "%s: %v", op, out)
	require.Contains(b.t, out["__type"], code, "%s: %v", op, out)
	return out
}

// archive creates an archive of acct1 with the retention (default when "").
func (b *testBundle) archive(t *testing.T, name string, retention mm.RetentionPeriod) string {
	t.Helper()
	in := &mm.CreateArchiveRequest{ArchiveName: p(name)}
	if retention != "" {
		in.Retention = &mm.ArchiveRetention{RetentionPeriod: p(retention)}
	}
	out, err := b.mm.CreateArchive(b.ctx, in)
	require.NoError(t, err)
	return *out.ArchiveId
}

// store archives raw in archiveID of acct1, received at `at` (now if zero).
func (b *testBundle) store(t *testing.T, archiveID string, raw []byte, at time.Time, rcpts ...string) string {
	t.Helper()
	if len(rcpts) == 0 {
		rcpts = []string{"rcpt@corp.example"}
	}
	env := &message.Envelope{
		AccountID: acct1, IngressPointID: "inp-test", MailFrom: "sender@ext.example", Recipients: rcpts,
		Size: int64(len(raw)), ReceivedAt: at,
		Conn: message.Conn{RemoteIP: netip.MustParseAddr("192.0.2.10"), Helo: "mx.ext.example",
			ReverseName: "mx.ext.example", TLS: "TLS1_3", TLSCipher: "TLS_AES_128_GCM_SHA256"},
	}
	id, err := b.svc.Store(context.Background(), acct1, archiveID, env, message.Auth{SPF: message.Pass}, bytes.NewReader(raw))
	require.NoError(t, err)
	return id
}

func p[T any](v T) *T { return &v }

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, deadline time.Duration, cond func() bool, msg string) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting: %s", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func requireFault(t *testing.T, err error, k fault.Kind, parts ...string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, k, fault.KindOf(err), "error %q", err)
	for _, s := range parts {
		require.Contains(t, err.Error(), s)
	}
}

// newRequest is a GET of the native API as account ("" for none).
func newRequest(url, account string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if account != "" {
		req.Header.Set("X-Test-Account", account)
	}
	return req, nil
}

func doJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
	return resp.StatusCode, out
}
