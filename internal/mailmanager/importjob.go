package mailmanager

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// Address list import jobs. CreateAddressListImportJob returns a
// PreSignedUrl; the user PUTs a file there and calls
// StartAddressListImportJob, which enqueues ImportJobArgs; RunImportJob
// reads the file and adds its addresses in batches, each batch in one
// transaction with the job's counters, so that a job retried after a crash
// resumes where it stopped.
//
// File formats:
//   - CSV: one address per line; a first line naming the column "address"
//     is a header (the address is then taken from that column, others are
//     ignored); without one the address is the first column.
//   - JSON: one value per line, either a string or {"address": "..."};
//     or one JSON array of such values.
//
// Blank lines are skipped. ImportedItemsCount counts the valid addresses
// (whether or not the list held them already), FailedItemsCount the rest;
// Error names the first few rows that failed.

// importBatch is how many rows one transaction of the worker takes.
const importBatch = 1000

// maxProblems is how many failed rows the job's Error names.
const maxProblems = 5

// ImportJobArgs is the job that runs an address list import.
type ImportJobArgs struct {
	AccountID string `json:"account_id"`
	JobID     string `json:"job_id"`
}

// Kind names the job for the queue.
func (ImportJobArgs) Kind() string { return "mailmanager.address_list_import" }

func importKey(acct, jobID string) string {
	return "mailmanager/address-list-imports/" + acct + "/" + jobID
}

// CreateAddressListImportJob creates a CREATED import job and the URL where
// its file is to be uploaded.
func (s *Service) CreateAddressListImportJob(ctx context.Context, in *mm.CreateAddressListImportJobRequest) (*mm.CreateAddressListImportJobResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	if s.uploads == nil {
		return nil, fault.Unavailablef("Address list imports are not available on this server (no blob store)")
	}
	id, listID, now := newID(KindImportJob), str(in.AddressListId), s.now()
	key := importKey(acct, id)
	url, err := s.uploads.PresignPut(key, s.cfg.ImportURLExpiry)
	if err != nil {
		return nil, fmt.Errorf("mailmanager: presign import upload: %w", err)
	}
	rec := ImportJobRecord{
		AddressListID: listID,
		Name:          str(in.Name),
		BlobKey:       key,
		PreSignedURL:  url,
		Status:        mm.ImportJobStatusCreated,
	}
	if in.ImportDataFormat != nil {
		rec.DataType = deref(in.ImportDataFormat.ImportDataType)
	}
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := get(ctx, tx, acct, KindAddressList, listID); err != nil {
			return err
		}
		// Job names need not be unique: the resource is left unnamed.
		return tx.Insert(ctx, &Resource{
			AccountID: acct, Kind: KindImportJob, ID: id,
			ARN:  s.arn(acct, KindAddressList, listID) + "/import-job/" + id,
			Body: encodeBody(rec), Refs: []string{listID},
			CreatedAt: now, UpdatedAt: now,
		})
	})
	if err != nil {
		return nil, err
	}
	return &mm.CreateAddressListImportJobResponse{JobId: ptr(id), PreSignedUrl: ptr(url)}, nil
}

// importJob returns the API shape of a job.
func (s *Service) importJob(r *Resource, rec *ImportJobRecord) mm.ImportJob {
	url := rec.PreSignedURL
	if rec.Status == mm.ImportJobStatusCreated && s.uploads != nil {
		// The upload may not have happened yet: hand out a URL that works.
		if u, err := s.uploads.PresignPut(rec.BlobKey, s.cfg.ImportURLExpiry); err == nil {
			url = u
		}
	}
	j := mm.ImportJob{
		JobId:              ptr(r.ID),
		Name:               ptr(rec.Name),
		AddressListId:      ptr(rec.AddressListID),
		ImportDataFormat:   &mm.ImportDataFormat{ImportDataType: ptr(rec.DataType)},
		PreSignedUrl:       ptr(url),
		Status:             ptr(rec.Status),
		ImportedItemsCount: ptr(rec.Imported),
		FailedItemsCount:   ptr(rec.Failed),
		CreatedTimestamp:   ts(r.CreatedAt),
	}
	if !rec.Started.IsZero() {
		j.StartTimestamp = ts(rec.Started)
	}
	if !rec.Completed.IsZero() {
		j.CompletedTimestamp = ts(rec.Completed)
	}
	if rec.Error != "" {
		j.Error = ptr(rec.Error)
	}
	return j
}

// GetAddressListImportJob returns an import job.
func (s *Service) GetAddressListImportJob(ctx context.Context, in *mm.GetAddressListImportJobRequest) (*mm.GetAddressListImportJobResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	var r *Resource
	var rec *ImportJobRecord
	err = s.store.InTx(ctx, func(tx Tx) error {
		if r, err = get(ctx, tx, acct, KindImportJob, str(in.JobId)); err != nil {
			return err
		}
		rec, err = DecodeImportJob(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	j := s.importJob(r, rec)
	return &mm.GetAddressListImportJobResponse{
		JobId: j.JobId, Name: j.Name, AddressListId: j.AddressListId, ImportDataFormat: j.ImportDataFormat,
		PreSignedUrl: j.PreSignedUrl, Status: j.Status, ImportedItemsCount: j.ImportedItemsCount,
		FailedItemsCount: j.FailedItemsCount, CreatedTimestamp: j.CreatedTimestamp,
		StartTimestamp: j.StartTimestamp, CompletedTimestamp: j.CompletedTimestamp, Error: j.Error,
	}, nil
}

// StartAddressListImportJob moves a CREATED job to PROCESSING and enqueues
// it.
func (s *Service) StartAddressListImportJob(ctx context.Context, in *mm.StartAddressListImportJobRequest) (*mm.StartAddressListImportJobResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	err = s.updateImportJob(ctx, acct, str(in.JobId), func(tx Tx, r *Resource, rec *ImportJobRecord) error {
		if rec.Status != mm.ImportJobStatusCreated {
			return fault.Conflictf("Import job %s is %s; only a CREATED job can start", r.ID, rec.Status)
		}
		rec.Status, rec.Started = mm.ImportJobStatusProcessing, s.now()
		return tx.Enqueue(ctx, ImportJobArgs{AccountID: acct, JobID: r.ID})
	})
	if err != nil {
		return nil, err
	}
	return &mm.StartAddressListImportJobResponse{}, nil
}

// StopAddressListImportJob stops a CREATED or PROCESSING job; the addresses
// imported so far stay in the list.
func (s *Service) StopAddressListImportJob(ctx context.Context, in *mm.StopAddressListImportJobRequest) (*mm.StopAddressListImportJobResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	err = s.updateImportJob(ctx, acct, str(in.JobId), func(tx Tx, r *Resource, rec *ImportJobRecord) error {
		switch rec.Status {
		case mm.ImportJobStatusCreated, mm.ImportJobStatusProcessing:
			rec.Status, rec.Completed = mm.ImportJobStatusStopped, s.now()
			return nil
		}
		return fault.Conflictf("Import job %s is %s; only a CREATED or PROCESSING job can stop", r.ID, rec.Status)
	})
	if err != nil {
		return nil, err
	}
	return &mm.StopAddressListImportJobResponse{}, nil
}

// updateImportJob changes a job in one transaction.
func (s *Service) updateImportJob(ctx context.Context, acct, id string, fn func(Tx, *Resource, *ImportJobRecord) error) error {
	return s.store.InTx(ctx, func(tx Tx) error {
		r, err := get(ctx, tx, acct, KindImportJob, id)
		if err != nil {
			return err
		}
		rec, err := DecodeImportJob(r)
		if err != nil {
			return err
		}
		if err := fn(tx, r, rec); err != nil {
			return err
		}
		r.Body, r.UpdatedAt = encodeBody(rec), s.now()
		return tx.Update(ctx, r)
	})
}

// ListAddressListImportJobs lists the import jobs of an address list by ID.
func (s *Service) ListAddressListImportJobs(ctx context.Context, in *mm.ListAddressListImportJobsRequest) (*mm.ListAddressListImportJobsResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	n, err := pageSize(in.PageSize, defaultPageSize, maxPageSize)
	if err != nil {
		return nil, err
	}
	listID := str(in.AddressListId)
	scope := "import-jobs:" + listID
	after, err := decodeToken(scope, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &mm.ListAddressListImportJobsResponse{ImportJobs: []mm.ImportJob{}}
	type job struct {
		r   *Resource
		rec *ImportJobRecord
	}
	var jobs []job
	err = s.store.InTx(ctx, func(tx Tx) error {
		if _, err := get(ctx, tx, acct, KindAddressList, listID); err != nil {
			return err
		}
		refs, err := tx.ReferencedBy(ctx, acct, listID)
		if err != nil {
			return err
		}
		var ids []string
		for _, ref := range refs {
			if ref.Kind == KindImportJob && ref.ID > after {
				ids = append(ids, ref.ID)
			}
		}
		sort.Strings(ids)
		if len(ids) > n {
			ids = ids[:n]
			out.NextToken = encodeToken(scope, ids[n-1])
		}
		for _, id := range ids {
			r, err := tx.Get(ctx, acct, KindImportJob, id)
			if err != nil {
				return err
			}
			rec, err := DecodeImportJob(r)
			if err != nil {
				return err
			}
			jobs = append(jobs, job{r, rec})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		out.ImportJobs = append(out.ImportJobs, s.importJob(j.r, j.rec))
	}
	return out, nil
}

// RunImportJob is the worker of ImportJobArgs. It returns an error only
// for what a retry may cure (storage unavailable); a bad or missing file
// ends the job FAILED.
func (s *Service) RunImportJob(ctx context.Context, args ImportJobArgs) error {
	var rec *ImportJobRecord
	err := s.store.InTx(ctx, func(tx Tx) error {
		r, err := tx.Get(ctx, args.AccountID, KindImportJob, args.JobID)
		if err != nil {
			return err
		}
		rec, err = DecodeImportJob(r)
		return err
	})
	if fault.Is(err, fault.NotFound) {
		return nil // deleted with its address list
	}
	if err != nil {
		return err
	}
	if rec.Status != mm.ImportJobStatusProcessing {
		return nil
	}
	if s.blobs == nil {
		return errors.New("mailmanager: no blob store to read import files from")
	}
	body, err := s.blobs.Get(ctx, rec.BlobKey)
	if fault.Is(err, fault.NotFound) || errors.Is(err, fs.ErrNotExist) {
		return s.finishImport(ctx, args, mm.ImportJobStatusFailed,
			"No file was uploaded to the PreSignedUrl before the job started")
	}
	if err != nil {
		return err
	}
	defer body.Close()

	var (
		skip     = rec.Rows // rows committed by an earlier attempt
		row      int64
		batch    []string
		failed   []string
		stopped  bool
		flushErr error
	)
	flush := func() error {
		if len(batch) == 0 && len(failed) == 0 {
			return nil
		}
		err := s.updateImportJob(ctx, args.AccountID, args.JobID, func(tx Tx, r *Resource, j *ImportJobRecord) error {
			if j.Status != mm.ImportJobStatusProcessing {
				stopped = true
				return nil
			}
			if _, err := tx.Get(ctx, args.AccountID, KindAddressList, j.AddressListID); err != nil {
				return err
			}
			if len(batch) > 0 {
				if _, err := tx.AddMembers(ctx, j.AddressListID, dedupe(batch), s.now()); err != nil {
					return err
				}
			}
			j.Imported += int64(len(batch))
			j.Failed += int64(len(failed))
			j.Rows = row
			for _, p := range failed {
				if len(j.Problems) < maxProblems {
					j.Problems = append(j.Problems, p)
				}
			}
			return nil
		})
		batch, failed = batch[:0], failed[:0]
		return err
	}
	perr := parseImport(body, rec.DataType, func(where, value string) error {
		row++
		if row <= skip {
			return nil
		}
		if addr, err := normalizeAddress(value); err == nil {
			batch = append(batch, addr)
		} else {
			failed = append(failed, where+": "+err.Error())
		}
		if len(batch)+len(failed) < importBatch {
			return nil
		}
		if flushErr = flush(); flushErr != nil || stopped {
			return errAbort
		}
		return nil
	})
	if perr == nil || isParseError(perr) {
		flushErr = flush()
	}
	switch {
	case fault.Is(flushErr, fault.NotFound):
		return nil // the list or the job was deleted meanwhile
	case flushErr != nil:
		return flushErr
	case stopped:
		return nil
	case isParseError(perr):
		return s.finishImport(ctx, args, mm.ImportJobStatusFailed, perr.Error())
	case perr != nil:
		return perr // reading the blob failed: a retry resumes
	}
	return s.finishImport(ctx, args, mm.ImportJobStatusCompleted, "")
}

// errAbort stops the parse after a failed or stopping flush.
var errAbort = errors.New("import aborted")

// parseError is a file the worker cannot read on.
type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }

func isParseError(err error) bool {
	var p *parseError
	return errors.As(err, &p)
}

// finishImport ends a PROCESSING job.
func (s *Service) finishImport(ctx context.Context, args ImportJobArgs, status mm.ImportJobStatus, msg string) error {
	err := s.updateImportJob(ctx, args.AccountID, args.JobID, func(_ Tx, _ *Resource, j *ImportJobRecord) error {
		if j.Status != mm.ImportJobStatusProcessing {
			return nil
		}
		j.Status, j.Completed = status, s.now()
		switch {
		case msg != "":
			j.Error = msg
		case j.Failed > 0:
			j.Error = fmt.Sprintf("%d rows were not imported: %s", j.Failed, strings.Join(j.Problems, "; "))
			if int64(len(j.Problems)) < j.Failed {
				j.Error += "; …"
			}
		}
		return nil
	})
	if fault.Is(err, fault.NotFound) {
		return nil
	}
	if err == nil {
		s.log.Info("address list import finished", "account", args.AccountID, "job", args.JobID, "status", status)
	}
	return err
}

func dedupe(addrs []string) []string {
	seen := make(map[string]bool, len(addrs))
	out := addrs[:0:0]
	for _, a := range addrs {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// maxLine bounds one line of an import file.
const maxLine = 64 * 1024

// parseImport reads an import file and calls fn with each row's location
// ("line 3", "item 2") and address text. fn's error stops it and is
// returned; a file that cannot be read on gives a *parseError.
func parseImport(r io.Reader, typ mm.ImportDataType, fn func(where, value string) error) error {
	br := bufio.NewReaderSize(r, 64*1024)
	if typ == mm.ImportDataTypeJson {
		if first, err := peekNonSpace(br); err == nil && first == '[' {
			return parseJSONArray(br, fn)
		}
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64*1024), maxLine)
	line, column, header := 0, 0, true
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			text = strings.TrimPrefix(text, "\ufeff") // a BOM, as spreadsheets write
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		where := fmt.Sprintf("line %d", line)
		if typ == mm.ImportDataTypeJson {
			if err := fn(where, jsonAddress([]byte(text))); err != nil {
				return err
			}
			continue
		}
		fields, err := csv.NewReader(strings.NewReader(text)).Read()
		if err != nil {
			if err := fn(where, text); err != nil {
				return err
			}
			continue
		}
		if header {
			header = false
			if i := headerColumn(fields); i >= 0 {
				column = i
				continue
			}
		}
		value := ""
		if column < len(fields) {
			value = fields[column]
		}
		if err := fn(where, value); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &parseError{fmt.Sprintf("line %d is longer than %d bytes", line+1, maxLine)}
		}
		return err
	}
	return nil
}

// headerColumn returns the index of the "address" column of a header row,
// or -1 when the row is not a header.
func headerColumn(fields []string) int {
	for i, f := range fields {
		if strings.EqualFold(strings.TrimSpace(f), "address") {
			return i
		}
	}
	return -1
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
			continue
		case 0xEF: // a BOM
			if bom, err := br.Peek(3); err == nil && bytes.Equal(bom, []byte("\ufeff")) {
				_, _ = br.Discard(3)
				continue
			}
		}
		return b[0], nil
	}
}

// jsonAddress returns the address of a JSON value: a string, or an object
// with an "address" member; otherwise the raw text, which then fails as an
// address.
func jsonAddress(raw []byte) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var o map[string]any
	if err := json.Unmarshal(raw, &o); err == nil {
		for k, v := range o {
			if strings.EqualFold(k, "address") {
				if s, ok := v.(string); ok {
					return s
				}
			}
		}
	}
	return string(raw)
}

func parseJSONArray(r io.Reader, fn func(where, value string) error) error {
	dec := json.NewDecoder(r)
	if _, err := dec.Token(); err != nil { // '['
		return &parseError{"the file is not valid JSON: " + err.Error()}
	}
	for item := 1; dec.More(); item++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return &parseError{fmt.Sprintf("item %d: the file is not valid JSON: %v", item, err)}
		}
		if err := fn(fmt.Sprintf("item %d", item), jsonAddress(raw)); err != nil {
			return err
		}
	}
	return nil
}
