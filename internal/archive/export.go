package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
)

// ExportPrefix starts the blob keys of every export. An S3 destination
// s3://bucket/folder maps to exports/bucket/folder/<ExportId>/ in the blob
// store, which holds <ArchivedMessageId>.eml per message (exactly as
// received) and, with IncludeMetadata, <ArchivedMessageId>.metadata.json.
const ExportPrefix = "exports/"

// exportBatch is how many messages an export reads per query, and how
// often it records progress and checks for a stop.
const exportBatch = 100

// exportBase returns the blob key prefix of an export (ending in "/").
func exportBase(d *mm.ExportDestinationConfiguration, exportID string) (string, error) {
	if d == nil || d.S3 == nil || d.S3.S3Location == nil {
		return "", fault.Invalidf("ExportDestinationConfiguration.S3.S3Location is required")
	}
	loc := *d.S3.S3Location
	rest, ok := strings.CutPrefix(loc, "s3://")
	if !ok {
		return "", fault.Invalidf("S3Location %q must start with s3://", loc)
	}
	var segs []string
	for seg := range strings.SplitSeq(rest, "/") {
		if seg != "" {
			segs = append(segs, seg)
		}
	}
	if len(segs) == 0 {
		return "", fault.Invalidf("S3Location %q names no bucket", loc)
	}
	base := ExportPrefix + strings.Join(segs, "/") + "/" + exportID + "/"
	if err := blob.ValidateKey(base + "x.eml"); err != nil {
		return "", fault.Invalidf("S3Location %q cannot be used: %v", loc, err)
	}
	return base, nil
}

// StartArchiveExport queues an export of an archive's messages; a job
// writes them.
func (s *Service) StartArchiveExport(ctx context.Context, in *mm.StartArchiveExportRequest) (*mm.StartArchiveExportResponse, error) {
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
	if in.MaxResults != nil && *in.MaxResults < 0 {
		return nil, fault.Invalidf("MaxResults must not be negative")
	}
	id := newUUID()
	if _, err := exportBase(in.ExportDestinationConfiguration, id); err != nil {
		return nil, err
	}
	archiveID := str(in.ArchiveId)
	if _, err := s.archive(ctx, acct, archiveID, true); err != nil {
		return nil, err
	}
	req, _ := json.Marshal(taskRequest{
		Filters: in.Filters, From: from, To: to, MaxResults: in.MaxResults,
		Destination: in.ExportDestinationConfiguration, IncludeMetadata: in.IncludeMetadata != nil && *in.IncludeMetadata,
	})
	t := &Task{
		AccountID: acct, Kind: TaskExport, ID: id, ArchiveID: archiveID,
		State: string(mm.ExportStateQueued), Request: req, SubmittedAt: s.now(),
	}
	if err := s.store.CreateTask(ctx, t, ExportArgs{AccountID: acct, ExportID: id}); err != nil {
		return nil, err
	}
	return &mm.StartArchiveExportResponse{ExportId: ptr(id)}, nil
}

// GetArchiveExport describes an export.
func (s *Service) GetArchiveExport(ctx context.Context, in *mm.GetArchiveExportRequest) (*mm.GetArchiveExportResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	t, err := s.task(ctx, acct, TaskExport, str(in.ExportId))
	if err != nil {
		return nil, err
	}
	r, err := decodeRequest(t)
	if err != nil {
		return nil, err
	}
	return &mm.GetArchiveExportResponse{
		ArchiveId:                      ptr(t.ArchiveID),
		ExportDestinationConfiguration: r.Destination,
		Filters:                        r.Filters,
		FromTimestamp:                  timeOrNil(r.From),
		ToTimestamp:                    timeOrNil(r.To),
		MaxResults:                     r.MaxResults,
		Status:                         exportStatus(t),
	}, nil
}

func exportStatus(t *Task) *mm.ExportStatus {
	return &mm.ExportStatus{
		State:               ptr(mm.ExportState(t.State)),
		SubmissionTimestamp: timeOrNil(t.SubmittedAt),
		CompletionTimestamp: timeOrNil(t.CompletedAt),
		ErrorMessage:        strp(t.Error),
	}
}

// ExportProgress is how far an export has come (the Mail Manager model
// has no place for it; the console shows it).
type ExportProgress struct {
	State    mm.ExportState
	Total    int64 // messages to export, known from PROCESSING on
	Exported int64
	// Location is the blob key prefix the export writes under.
	Location string
}

// Progress returns the progress of an export of the account.
func (s *Service) Progress(ctx context.Context, accountID, exportID string) (*ExportProgress, error) {
	t, err := s.task(ctx, accountID, TaskExport, exportID)
	if err != nil {
		return nil, err
	}
	r, err := decodeRequest(t)
	if err != nil {
		return nil, err
	}
	base, _ := exportBase(r.Destination, t.ID)
	return &ExportProgress{State: mm.ExportState(t.State), Total: t.Total, Exported: t.Done, Location: base}, nil
}

// StopArchiveExport cancels an export that has not finished; what it has
// written stays.
func (s *Service) StopArchiveExport(ctx context.Context, in *mm.StopArchiveExportRequest) (*mm.StopArchiveExportResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.stopTask(ctx, acct, TaskExport, str(in.ExportId),
		[]string{string(mm.ExportStateQueued), string(mm.ExportStatePreprocessing), string(mm.ExportStateProcessing)},
		string(mm.ExportStateCancelled)); err != nil {
		return nil, err
	}
	return &mm.StopArchiveExportResponse{}, nil
}

// ListArchiveExports lists the exports of an archive of the last 30 days
// (Config.History), newest first.
func (s *Service) ListArchiveExports(ctx context.Context, in *mm.ListArchiveExportsRequest) (*mm.ListArchiveExportsResponse, error) {
	acct, err := account(ctx)
	if err != nil {
		return nil, err
	}
	tasks, next, err := s.listTasks(ctx, acct, str(in.ArchiveId), TaskExport, in.NextToken, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &mm.ListArchiveExportsResponse{Exports: make([]mm.ExportSummary, 0, len(tasks)), NextToken: next}
	for _, t := range tasks {
		out.Exports = append(out.Exports, mm.ExportSummary{ExportId: ptr(t.ID), Status: exportStatus(t)})
	}
	return out, nil
}

// RunExport is the work of an export job: QUEUED → PREPROCESSING (count)
// → PROCESSING (write, recording progress) → COMPLETED, or FAILED. It
// checks for a stop after every batch. A retried job starts over; the
// objects it writes again are the same.
func (s *Service) RunExport(ctx context.Context, args ExportArgs) error {
	t, err := s.store.GetTask(ctx, args.AccountID, TaskExport, args.ExportID)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	queued, pre, proc := string(mm.ExportStateQueued), string(mm.ExportStatePreprocessing), string(mm.ExportStateProcessing)
	failed := string(mm.ExportStateFailed)
	switch t.State {
	case queued, pre, proc:
	default:
		return nil
	}
	from := t.State
	t.State = pre
	if ok, err := s.store.UpdateTask(ctx, t, from); err != nil || !ok {
		return err
	}
	r, err := decodeRequest(t)
	if err != nil {
		return s.failTask(ctx, t, err, pre, failed)
	}
	base, err := exportBase(r.Destination, t.ID)
	if err != nil {
		return s.failTask(ctx, t, err, pre, failed)
	}
	f, err := filterOf(t, r)
	if err != nil {
		return s.failTask(ctx, t, err, pre, failed)
	}
	total, err := s.store.CountMessages(ctx, f)
	if err != nil {
		return s.failTask(ctx, t, err, pre, failed)
	}
	if r.MaxResults != nil {
		total = min(total, *r.MaxResults)
	}
	t.State, t.Total, t.Done = proc, total, 0
	if ok, err := s.store.UpdateTask(ctx, t, pre); err != nil || !ok {
		return err
	}
	for t.Done < total {
		f.Limit = int(min(exportBatch, total-t.Done))
		msgs, err := s.store.FilterMessages(ctx, f)
		if err != nil {
			return s.failTask(ctx, t, err, proc, failed)
		}
		if len(msgs) == 0 {
			break // deleted meanwhile
		}
		for _, m := range msgs {
			if err := s.exportOne(ctx, base, m, r.IncludeMetadata); err != nil {
				return s.failTask(ctx, t, err, proc, failed)
			}
		}
		last := msgs[len(msgs)-1]
		f.After = &Cursor{ReceivedAt: last.ReceivedAt, ID: last.ID}
		t.Done += int64(len(msgs))
		ok, err := s.store.UpdateTask(ctx, t, proc)
		if err != nil || !ok {
			return err // !ok: stopped
		}
	}
	t.State, t.CompletedAt = string(mm.ExportStateCompleted), s.now()
	_, err = s.store.UpdateTask(ctx, t, proc)
	return err
}

// exportMetadata is the metadata JSON written beside each exported
// message: the search row's fields, the receipt metadata and the
// envelope, in the model's names.
type exportMetadata struct {
	mm.Row
	Metadata  *mm.Metadata `json:"Metadata,omitempty"`
	Size      int64        `json:"Size"`
	SHA256    string       `json:"Sha256"`
	Malformed bool         `json:"MessageMalformed,omitempty"`
	Attach    []string     `json:"AttachmentFileNames,omitempty"`
}

func (s *Service) exportOne(ctx context.Context, base string, m *Message, withMeta bool) error {
	rc, err := s.openBlob(ctx, m)
	if err != nil {
		return err
	}
	_, err = s.blobs.Put(ctx, base+m.ID+".eml", rc)
	rc.Close()
	if err != nil {
		return err
	}
	if !withMeta {
		return nil
	}
	b, err := json.MarshalIndent(exportMetadata{
		Row: row(m), Metadata: metadata(m), Size: m.Size, SHA256: m.SHA256,
		Malformed: m.Malformed, Attach: m.Meta.Attachments,
	}, "", "  ")
	if err != nil {
		return err
	}
	_, err = s.blobs.Put(ctx, base+m.ID+".metadata.json", io.MultiReader(bytes.NewReader(b), strings.NewReader("\n")))
	return err
}
