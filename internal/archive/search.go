package archive

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/model/smithy"
)

// Limits of the Mail Manager model, checked here too for callers that do
// not come through the wire layer.
const (
	maxConditions     = 10   // per Include and per Unless
	maxValues         = 10   // per string expression
	maxSearchResults  = 1000 // StartArchiveSearch MaxResults
	defaultPageSize   = 20
	maxPageSize       = 50
	searchTaskTimeout = 30 * time.Minute
)

// taskRequest is what was asked of a search or export (Task.Request).
type taskRequest struct {
	Filters         *mm.ArchiveFilters                 `json:",omitempty"`
	From            time.Time                          `json:",omitzero"`
	To              time.Time                          `json:",omitzero"`
	MaxResults      *int64                             `json:",omitempty"`
	Destination     *mm.ExportDestinationConfiguration `json:",omitempty"`
	IncludeMetadata bool                               `json:",omitempty"`
}

func decodeRequest(t *Task) (*taskRequest, error) {
	var r taskRequest
	if err := json.Unmarshal(t.Request, &r); err != nil {
		return nil, fmt.Errorf("archive: %s %s: bad request record: %w", t.Kind, t.ID, err)
	}
	return &r, nil
}

// conditions checks Mail Manager filters and turns them into store
// conditions.
func conditions(f *mm.ArchiveFilters) (include, unless []Condition, err error) {
	if f == nil {
		return nil, nil, nil
	}
	if len(f.Include) > maxConditions || len(f.Unless) > maxConditions {
		return nil, nil, fault.Invalidf("Too many filters: Include and Unless take at most %d conditions each", maxConditions)
	}
	conv := func(list []mm.ArchiveFilterCondition, what string) ([]Condition, error) {
		var out []Condition
		for i, c := range list {
			where := fmt.Sprintf("Filters.%s[%d]", what, i)
			switch {
			case c.StringExpression != nil && c.BooleanExpression == nil:
				e := c.StringExpression
				if e.Evaluate == nil || e.Evaluate.Attribute == nil {
					return nil, fault.Invalidf("%s.StringExpression.Evaluate.Attribute is required", where)
				}
				attr := Attribute(*e.Evaluate.Attribute)
				switch attr {
				case AttrTo, AttrFrom, AttrCc, AttrSubject, AttrEnvelopeTo, AttrEnvelopeFrom:
				default:
					return nil, fault.Invalidf("%s: unknown string attribute %q", where, attr)
				}
				if e.Operator == nil || *e.Operator != mm.ArchiveStringOperatorContains {
					return nil, fault.Invalidf("%s: the string operator must be CONTAINS", where)
				}
				if len(e.Values) == 0 || len(e.Values) > maxValues {
					return nil, fault.Invalidf("%s: Values takes 1 to %d strings", where, maxValues)
				}
				cond := Condition{Attr: attr}
				for _, v := range e.Values {
					if v == "" {
						return nil, fault.Invalidf("%s: Values must not be empty strings", where)
					}
					cond.Values = append(cond.Values, Fold(v))
				}
				out = append(out, cond)
			case c.BooleanExpression != nil && c.StringExpression == nil:
				e := c.BooleanExpression
				if e.Evaluate == nil || e.Evaluate.Attribute == nil || *e.Evaluate.Attribute != mm.ArchiveBooleanEmailAttributeHasAttachments {
					return nil, fault.Invalidf("%s: the boolean attribute must be HAS_ATTACHMENTS", where)
				}
				if e.Operator == nil {
					return nil, fault.Invalidf("%s.BooleanExpression.Operator is required", where)
				}
				switch *e.Operator {
				case mm.ArchiveBooleanOperatorIsTrue:
					out = append(out, Condition{Attr: AttrHasAttachments, Bool: true})
				case mm.ArchiveBooleanOperatorIsFalse:
					out = append(out, Condition{Attr: AttrHasAttachments, Bool: false})
				default:
					return nil, fault.Invalidf("%s: the boolean operator must be IS_TRUE or IS_FALSE", where)
				}
			default:
				return nil, fault.Invalidf("%s must have exactly one of StringExpression and BooleanExpression", where)
			}
		}
		return out, nil
	}
	if include, err = conv(f.Include, "Include"); err != nil {
		return nil, nil, err
	}
	if unless, err = conv(f.Unless, "Unless"); err != nil {
		return nil, nil, err
	}
	return include, unless, nil
}

// timeRange checks FromTimestamp and ToTimestamp.
func timeRange(from, to *smithy.Time) (time.Time, time.Time, error) {
	if from == nil || to == nil {
		return time.Time{}, time.Time{}, fault.Invalidf("FromTimestamp and ToTimestamp are required")
	}
	f, t := from.UTC(), to.UTC()
	if !f.Before(t) {
		return f, t, fault.Invalidf("FromTimestamp (%s) must be before ToTimestamp (%s)",
			f.Format(time.RFC3339), t.Format(time.RFC3339))
	}
	return f, t, nil
}

// filter is the store filter of a task.
func filterOf(t *Task, r *taskRequest) (*Filter, error) {
	include, unless, err := conditions(r.Filters)
	if err != nil {
		return nil, err
	}
	return &Filter{
		AccountID: t.AccountID, ArchiveID: t.ArchiveID,
		Since: r.From, Until: r.To,
		Include: include, Unless: unless,
	}, nil
}

// StartArchiveSearch queues a search of an archive; a job runs it.
func (s *Service) StartArchiveSearch(ctx context.Context, in *mm.StartArchiveSearchRequest) (*mm.StartArchiveSearchResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	from, to, err := timeRange(in.FromTimestamp, in.ToTimestamp)
	if err != nil {
		return nil, err
	}
	if _, _, err := conditions(in.Filters); err != nil {
		return nil, err
	}
	if in.MaxResults == nil {
		return nil, fault.Invalidf("MaxResults is required")
	}
	if n := *in.MaxResults; n < 0 || n > maxSearchResults {
		return nil, fault.Invalidf("MaxResults must be between 0 and %d", maxSearchResults)
	}
	archiveID := str(in.ArchiveId)
	if _, err := s.archive(ctx, acct, archiveID, true); err != nil {
		return nil, err
	}
	req, _ := json.Marshal(taskRequest{Filters: in.Filters, From: from, To: to, MaxResults: in.MaxResults})
	t := &Task{
		AccountID: acct, Kind: TaskSearch, ID: newUUID(), ArchiveID: archiveID,
		State: string(mm.SearchStateQueued), Request: req, SubmittedAt: s.now(),
	}
	if err := s.store.CreateTask(ctx, t, SearchArgs{AccountID: acct, SearchID: t.ID}); err != nil {
		return nil, err
	}
	return &mm.StartArchiveSearchResponse{SearchId: ptr(t.ID)}, nil
}

// task returns a task of the account, NotFound with an AWS-like message.
func (s *Service) task(ctx context.Context, accountID string, kind TaskKind, id string) (*Task, error) {
	if id == "" {
		return nil, fault.Invalidf("the %s ID is required", kind)
	}
	t, err := s.store.GetTask(ctx, accountID, kind, id)
	if isNotFound(err) {
		e := fault.NotFoundf("%s %s does not exist", capitalize(string(kind)), id)
		e.ResourceType, e.ResourceID = string(kind), id
		return nil, e
	}
	return t, err
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func timeOrNil(t time.Time) *smithy.Time {
	if t.IsZero() {
		return nil
	}
	return smithy.NewTime(t)
}

// GetArchiveSearch describes a search.
func (s *Service) GetArchiveSearch(ctx context.Context, in *mm.GetArchiveSearchRequest) (*mm.GetArchiveSearchResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.task(ctx, acct, TaskSearch, str(in.SearchId))
	if err != nil {
		return nil, err
	}
	r, err := decodeRequest(t)
	if err != nil {
		return nil, err
	}
	return &mm.GetArchiveSearchResponse{
		ArchiveId:     ptr(t.ArchiveID),
		Filters:       r.Filters,
		FromTimestamp: timeOrNil(r.From),
		ToTimestamp:   timeOrNil(r.To),
		MaxResults:    r.MaxResults,
		Status:        searchStatus(t),
	}, nil
}

func searchStatus(t *Task) *mm.SearchStatus {
	return &mm.SearchStatus{
		State:               ptr(mm.SearchState(t.State)),
		SubmissionTimestamp: timeOrNil(t.SubmittedAt),
		CompletionTimestamp: timeOrNil(t.CompletedAt),
		ErrorMessage:        strp(t.Error),
	}
}

// GetArchiveSearchResults returns the rows a COMPLETED search found,
// newest first; before that it is a conflict.
func (s *Service) GetArchiveSearchResults(ctx context.Context, in *mm.GetArchiveSearchResultsRequest) (*mm.GetArchiveSearchResultsResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.task(ctx, acct, TaskSearch, str(in.SearchId))
	if err != nil {
		return nil, err
	}
	if t.State != string(mm.SearchStateCompleted) {
		return nil, fault.Conflictf("Search %s is %s: its results are available once it is COMPLETED", t.ID, t.State)
	}
	msgs, err := s.store.SearchResults(ctx, acct, t.ID)
	if err != nil {
		return nil, err
	}
	out := &mm.GetArchiveSearchResultsResponse{Rows: make([]mm.Row, 0, len(msgs))}
	for _, m := range msgs {
		out.Rows = append(out.Rows, row(m))
	}
	return out, nil
}

// StopArchiveSearch cancels a search still QUEUED or RUNNING. Stopping a
// CANCELLED search changes nothing; a finished one is a conflict.
func (s *Service) StopArchiveSearch(ctx context.Context, in *mm.StopArchiveSearchRequest) (*mm.StopArchiveSearchResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.stopTask(ctx, acct, TaskSearch, str(in.SearchId),
		[]string{string(mm.SearchStateQueued), string(mm.SearchStateRunning)},
		string(mm.SearchStateCancelled)); err != nil {
		return nil, err
	}
	return &mm.StopArchiveSearchResponse{}, nil
}

func (s *Service) stopTask(ctx context.Context, acct string, kind TaskKind, id string, running []string, cancelled string) error {
	t, err := s.task(ctx, acct, kind, id)
	if err != nil {
		return err
	}
	if t.State == cancelled {
		return nil
	}
	t.State, t.CompletedAt = cancelled, s.now()
	ok, err := s.store.UpdateTask(ctx, t, running...)
	if err != nil {
		return err
	}
	if !ok {
		cur, err := s.task(ctx, acct, kind, id)
		if err != nil {
			return err
		}
		if cur.State == cancelled {
			return nil
		}
		return fault.Conflictf("%s %s is already %s", capitalize(string(kind)), id, cur.State)
	}
	return nil
}

// ListArchiveSearches lists the searches of an archive of the last 30 days
// (Config.History), newest first.
func (s *Service) ListArchiveSearches(ctx context.Context, in *mm.ListArchiveSearchesRequest) (*mm.ListArchiveSearchesResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tasks, next, err := s.listTasks(ctx, acct, str(in.ArchiveId), TaskSearch, in.NextToken, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &mm.ListArchiveSearchesResponse{Searches: make([]mm.SearchSummary, 0, len(tasks)), NextToken: next}
	for _, t := range tasks {
		out.Searches = append(out.Searches, mm.SearchSummary{SearchId: ptr(t.ID), Status: searchStatus(t)})
	}
	return out, nil
}

func (s *Service) listTasks(ctx context.Context, acct, archiveID string, kind TaskKind, token *string, size *int64) ([]*Task, *string, error) {
	if _, err := s.archive(ctx, acct, archiveID, false); err != nil {
		return nil, nil, err
	}
	n := defaultPageSize
	if size != nil {
		if *size < 1 {
			return nil, nil, fault.Invalidf("PageSize must be at least 1")
		}
		n = int(min(*size, maxPageSize))
	}
	scope := string(kind) + "/" + archiveID
	after, err := decodeToken(scope, token)
	if err != nil {
		return nil, nil, err
	}
	tasks, err := s.store.ListTasks(ctx, acct, archiveID, kind, s.now().Add(-s.cfg.History), after, n+1)
	if err != nil {
		return nil, nil, err
	}
	var next *string
	if len(tasks) > n {
		tasks = tasks[:n]
		next = encodeToken(scope, tasks[n-1].ID)
	}
	return tasks, next, nil
}

// Pagination tokens: base64url of the listing's scope, the last key and a
// checksum of both, so that a token of another listing, or an altered one,
// is refused.

func tokenSum(scope, last string) string {
	return strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(scope+"\x00"+last))), 36)
}

func encodeToken(scope, last string) *string {
	t := base64.RawURLEncoding.EncodeToString([]byte(scope + "\x00" + last + "\x00" + tokenSum(scope, last)))
	return &t
}

func decodeToken(scope string, token *string) (string, error) {
	if token == nil || *token == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*token)
	if err != nil {
		return "", fault.Invalidf("Invalid NextToken")
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 3 || parts[0] != scope || parts[1] == "" || parts[2] != tokenSum(parts[0], parts[1]) {
		return "", fault.Invalidf("Invalid NextToken")
	}
	return parts[1], nil
}

// RunSearch is the work of a search job: QUEUED → RUNNING → COMPLETED, or
// FAILED. A search stopped meanwhile stays CANCELLED and stores nothing.
// Errors worth a retry (storage unavailable) are returned; the job runs
// again.
func (s *Service) RunSearch(ctx context.Context, args SearchArgs) error {
	t, err := s.store.GetTask(ctx, args.AccountID, TaskSearch, args.SearchID)
	if isNotFound(err) {
		return nil // purged with the history
	}
	if err != nil {
		return err
	}
	queued, running := string(mm.SearchStateQueued), string(mm.SearchStateRunning)
	switch t.State {
	case queued:
		t.State = running
		ok, err := s.store.UpdateTask(ctx, t, queued)
		if err != nil || !ok {
			return err
		}
	case running: // a retry
	default:
		return nil
	}
	msgs, err := s.search(ctx, t)
	if err != nil {
		return s.failTask(ctx, t, err, running, string(mm.SearchStateFailed))
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	t.State, t.CompletedAt, t.Total, t.Done = string(mm.SearchStateCompleted), s.now(), int64(len(ids)), int64(len(ids))
	_, err = s.store.CompleteSearch(ctx, t, ids, running)
	return err
}

func (s *Service) search(ctx context.Context, t *Task) ([]*Message, error) {
	r, err := decodeRequest(t)
	if err != nil {
		return nil, err
	}
	f, err := filterOf(t, r)
	if err != nil {
		return nil, err
	}
	f.Limit = maxSearchResults
	if r.MaxResults != nil {
		f.Limit = int(*r.MaxResults)
	}
	if f.Limit == 0 {
		return nil, nil
	}
	return s.store.FilterMessages(ctx, f)
}

// failTask marks a task failed with err's message, unless err is worth a
// retry, which it returns.
func (s *Service) failTask(ctx context.Context, t *Task, err error, from, failed string) error {
	if retryable(ctx, err) {
		return err
	}
	s.log.Warn("archive task failed", "kind", t.Kind, "account", t.AccountID, "id", t.ID, "err", err)
	t.State, t.CompletedAt = failed, s.now()
	t.Error = "The " + string(t.Kind) + " failed"
	if fault.KindOf(err) != fault.Internal {
		t.Error += ": " + err.Error()
	}
	_, uerr := s.store.UpdateTask(ctx, t, from)
	return uerr
}

func retryable(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		fault.Is(err, fault.Unavailable)
}
