package archive

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/tidings/tidings/internal/jobs"
)

// SearchArgs is the job that runs a StartArchiveSearch.
type SearchArgs struct {
	AccountID string `json:"account_id"`
	SearchID  string `json:"search_id"`
}

// Kind names the job for the queue.
func (SearchArgs) Kind() string { return "archive.search" }

// ExportArgs is the job that runs a StartArchiveExport.
type ExportArgs struct {
	AccountID string `json:"account_id"`
	ExportID  string `json:"export_id"`
}

// Kind names the job for the queue.
func (ExportArgs) Kind() string { return "archive.export" }

// RetentionArgs is the periodic retention job.
type RetentionArgs struct{}

// Kind names the job for the queue.
func (RetentionArgs) Kind() string { return "archive.retention" }

// RetentionPeriodicID names the periodic retention job among the queue's.
const RetentionPeriodicID = "archive.retention"

// RegisterJobs registers the workers of the archive's jobs with q and
// schedules the retention job every Config.RetentionInterval (run by the
// elected leader only, and once at start). Call it before q.Start.
func (s *Service) RegisterJobs(q *jobs.Queue) error {
	jobs.Register(q, &SearchWorker{Service: s})
	jobs.Register(q, &ExportWorker{Service: s})
	jobs.Register(q, &RetentionWorker{Service: s})
	every := s.cfg.RetentionInterval
	return q.AddPeriodic(RetentionPeriodicID, river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		// One run per interval, however many leaders came and went.
		return RetentionArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, true)
}

// SearchWorker runs search jobs under River.
type SearchWorker struct {
	river.WorkerDefaults[SearchArgs]
	Service *Service
}

// Work runs one search.
func (w *SearchWorker) Work(ctx context.Context, job *river.Job[SearchArgs]) error {
	return w.Service.RunSearch(ctx, job.Args)
}

// Timeout: a search of a large archive scans many rows.
func (w *SearchWorker) Timeout(*river.Job[SearchArgs]) time.Duration { return searchTaskTimeout }

// ExportWorker runs export jobs under River.
type ExportWorker struct {
	river.WorkerDefaults[ExportArgs]
	Service *Service
}

// Work runs one export.
func (w *ExportWorker) Work(ctx context.Context, job *river.Job[ExportArgs]) error {
	return w.Service.RunExport(ctx, job.Args)
}

// Timeout: an export copies every message it selects.
func (w *ExportWorker) Timeout(*river.Job[ExportArgs]) time.Duration { return 12 * time.Hour }

// RetentionWorker runs the retention job under River.
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	Service *Service
}

// Work runs retention once.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	_, err := w.Service.RunRetention(ctx)
	return err
}

// Timeout: a first run over years of mail deletes much.
func (w *RetentionWorker) Timeout(*river.Job[RetentionArgs]) time.Duration { return 6 * time.Hour }
