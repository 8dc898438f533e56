package console

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tidings/tidings/internal/archive"
	"github.com/tidings/tidings/internal/fault"
	mm "github.com/tidings/tidings/internal/model/mailmanager"
	"github.com/tidings/tidings/internal/model/smithy"
)

// The archive section: /console/archives…

func (c *Console) archiveRoutes(mux *http.ServeMux) {
	p := Prefix + "/archives"
	mux.Handle("GET "+p+"", c.authed(c.archivesPage))
	mux.Handle("GET "+p+"/{archive}", c.authed(c.searchPage))
	mux.Handle("GET "+p+"/{archive}/history", c.authed(c.historyPage))
	mux.Handle("GET "+p+"/{archive}/messages/{msg}", c.authed(c.messagePage))
	mux.Handle("GET "+p+"/{archive}/messages/{msg}/html", c.authed(c.messageHTML))
	mux.Handle("GET "+p+"/{archive}/messages/{msg}/raw", c.authed(c.messageRaw))
	mux.Handle("GET "+p+"/{archive}/messages/{msg}/attachments/{n}", c.authed(c.attachment))
	mux.Handle("POST "+p+"/{archive}/exports", c.authed(c.startExport))
	mux.Handle("GET "+p+"/{archive}/exports/{export}", c.authed(c.exportPage))
	mux.Handle("GET "+p+"/{archive}/exports/{export}/progress", c.authed(c.exportProgress))
	mux.Handle("GET "+p+"/{archive}/exports/{export}/download", c.authed(c.exportDownload))
}

func archiveURL(id string) string { return Prefix + "/archives/" + url.PathEscape(id) }

// archiveRef is an archive as pages show it.
type archiveRef struct {
	ID, Name, State string
	Updated         time.Time
	URL             string
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func timeOf(t *smithy.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

// getArchive returns an archive of the session's account.
func (c *Console) getArchive(ctx context.Context, id string) (archiveRef, error) {
	out, err := c.cfg.Archives.GetArchive(ctx, &mm.GetArchiveRequest{ArchiveId: &id})
	if err != nil {
		return archiveRef{}, err
	}
	return archiveRef{ID: id, Name: deref(out.ArchiveName), State: string(deref(out.ArchiveState)),
		Updated: timeOf(out.LastUpdatedTimestamp), URL: archiveURL(id)}, nil
}

func (c *Console) archivesPage(w http.ResponseWriter, r *http.Request, s *session) {
	var list []archiveRef
	var token *string
	for range 100 { // at most 100 pages
		out, err := c.cfg.Archives.ListArchives(r.Context(), &mm.ListArchivesRequest{NextToken: token})
		if err != nil {
			c.fail(w, r, err)
			return
		}
		for _, a := range out.Archives {
			id := deref(a.ArchiveId)
			list = append(list, archiveRef{ID: id, Name: deref(a.ArchiveName), State: string(deref(a.ArchiveState)),
				Updated: timeOf(a.LastUpdatedTimestamp), URL: archiveURL(id)})
		}
		if token = out.NextToken; token == nil || *token == "" {
			break
		}
	}
	c.render(w, r, http.StatusOK, "archives", "Archives", s, list)
}

// searchForm is the console's search: fields a person fills in, turned
// into the native query language (archive.ParseQuery).
type searchForm struct {
	From, To, Subject, Words string
	Since, Until             string // YYYY-MM-DD, inclusive
	Attach                   string // "", "yes" or "no"
}

func formOf(v url.Values) searchForm {
	get := func(k string) string { return strings.TrimSpace(v.Get(k)) }
	f := searchForm{From: get("from"), To: get("to"), Subject: get("subject"), Words: get("words"),
		Since: get("since"), Until: get("until"), Attach: get("attach")}
	if f.Attach != "yes" && f.Attach != "no" {
		f.Attach = ""
	}
	return f
}

func (f searchForm) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"from": f.From, "to": f.To, "subject": f.Subject, "words": f.Words,
		"since": f.Since, "until": f.Until, "attach": f.Attach} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

func (f searchForm) empty() bool { return len(f.values()) == 0 }

// days parses the date range: since and the day after until.
func (f searchForm) days() (since, until time.Time, err error) {
	parse := func(name, v string) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		d, err := time.ParseInLocation("2006-01-02", v, time.UTC)
		if err != nil {
			return d, fault.Invalidf("%s: %q is not a date (YYYY-MM-DD)", name, v)
		}
		return d, nil
	}
	if since, err = parse("Received from", f.Since); err != nil {
		return
	}
	if until, err = parse("Received until", f.Until); err != nil {
		return
	}
	if !until.IsZero() {
		until = until.AddDate(0, 0, 1)
	}
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		err = fault.Invalidf("the date range is empty: %s is after %s", f.Since, f.Until)
	}
	return
}

// quoteField is a field term of the query language: the value's words,
// quoted as a phrase.
func quoteField(name, v string) string {
	v = strings.Join(strings.Fields(strings.ReplaceAll(v, `"`, " ")), " ")
	if v == "" {
		return ""
	}
	return name + `:"` + v + `"`
}

// query is the native query of the form.
func (f searchForm) query() (string, error) {
	since, until, err := f.days()
	if err != nil {
		return "", err
	}
	var q []string
	for _, t := range []string{quoteField("from", f.From), quoteField("to", f.To), quoteField("subject", f.Subject)} {
		if t != "" {
			q = append(q, t)
		}
	}
	if f.Words != "" {
		q = append(q, f.Words)
	}
	switch f.Attach {
	case "yes":
		q = append(q, "has:attachment")
	case "no":
		q = append(q, "-has:attachment")
	}
	if !since.IsZero() {
		q = append(q, "after:"+since.Format("2006-01-02"))
	}
	if !until.IsZero() {
		q = append(q, "before:"+until.Format("2006-01-02"))
	}
	return strings.Join(q, " "), nil
}

// exportRequest is the Mail Manager export of the form. Its filters are
// those of Mail Manager (CONTAINS on From, To, Subject; attachments; the
// time range): the free words of a search cannot be part of it.
func (f searchForm) exportRequest(archiveID string, now time.Time) (*mm.StartArchiveExportRequest, error) {
	if f.Words != "" {
		return nil, fault.Invalidf("an export selects messages by sender, recipient, subject, dates and attachments " +
			"(the Mail Manager filters); the words of a search cannot be part of it. Clear Words and search again to export.")
	}
	since, until, err := f.days()
	if err != nil {
		return nil, err
	}
	if since.IsZero() {
		since = time.Unix(0, 0).UTC()
	}
	if until.IsZero() {
		until = now.Add(24 * time.Hour).UTC().Truncate(time.Second)
	}
	var inc []mm.ArchiveFilterCondition
	for _, c := range []struct {
		attr mm.ArchiveStringEmailAttribute
		v    string
	}{{mm.ArchiveStringEmailAttributeFrom, f.From}, {mm.ArchiveStringEmailAttributeTo, f.To}, {mm.ArchiveStringEmailAttributeSubject, f.Subject}} {
		if c.v == "" {
			continue
		}
		inc = append(inc, mm.ArchiveFilterCondition{StringExpression: &mm.ArchiveStringExpression{
			Evaluate: &mm.ArchiveStringToEvaluate{Attribute: &c.attr},
			Operator: ptr(mm.ArchiveStringOperatorContains), Values: []string{c.v},
		}})
	}
	if f.Attach != "" {
		op := mm.ArchiveBooleanOperatorIsTrue
		if f.Attach == "no" {
			op = mm.ArchiveBooleanOperatorIsFalse
		}
		inc = append(inc, mm.ArchiveFilterCondition{BooleanExpression: &mm.ArchiveBooleanExpression{
			Evaluate: &mm.ArchiveBooleanToEvaluate{Attribute: ptr(mm.ArchiveBooleanEmailAttributeHasAttachments)},
			Operator: &op,
		}})
	}
	req := &mm.StartArchiveExportRequest{
		ArchiveId:     &archiveID,
		FromTimestamp: smithy.NewTime(since),
		ToTimestamp:   smithy.NewTime(until),
		ExportDestinationConfiguration: &mm.ExportDestinationConfiguration{S3: &mm.S3ExportDestinationConfiguration{
			S3Location: ptr("s3://console-exports/" + archiveID),
		}},
		IncludeMetadata: ptr(true),
	}
	if len(inc) > 0 {
		req.Filters = &mm.ArchiveFilters{Include: inc}
	}
	return req, nil
}

func ptr[T any](v T) *T { return &v }

type searchData struct {
	Archive  archiveRef
	Form     searchForm
	Query    string
	Error    string
	Results  []archive.NativeMessage
	Searched bool
	Page     int
	Next     string // URL of the next page, "" on the last
	Prev     string // URL of the previous page, "" on the first
	Back     string // this page's URL, for the message pages' way back
}

// maxPageChain bounds the previous-page tokens a search URL carries.
const maxPageChain = 50

func (c *Console) searchPage(w http.ResponseWriter, r *http.Request, s *session) {
	a, err := c.getArchive(r.Context(), r.PathValue("archive"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	qv := r.URL.Query()
	d := searchData{Archive: a, Form: formOf(qv), Page: 1, Back: r.URL.RequestURI()}
	d.Query, err = d.Form.query()
	if err != nil {
		d.Error = err.Error()
		c.render(w, r, http.StatusBadRequest, "search", a.Name, s, d)
		return
	}
	token := qv.Get("page")
	var chain []string
	if h := qv.Get("prev"); h != "" {
		chain = strings.Split(h, ".")
	}
	if len(chain) > maxPageChain {
		chain = chain[len(chain)-maxPageChain:]
	}
	res, err := c.cfg.Archive.SearchNative(r.Context(), s.AccountID, a.ID, d.Query, 20, token)
	if err != nil {
		if fault.KindOf(err) == fault.Invalid {
			d.Error = err.Error()
			c.render(w, r, http.StatusBadRequest, "search", a.Name, s, d)
			return
		}
		c.fail(w, r, err)
		return
	}
	d.Results, d.Searched = res.Messages, true
	if token != "" {
		d.Page = len(chain) + 2
	}
	base := d.Form.values()
	link := func(tok string, prev []string) string {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		if tok != "" {
			v.Set("page", tok)
		}
		if len(prev) > 0 {
			v.Set("prev", strings.Join(prev, "."))
		}
		if len(v) == 0 {
			return a.URL
		}
		return a.URL + "?" + v.Encode()
	}
	if res.NextPageToken != "" {
		var next []string
		if token != "" {
			next = append(append(next, chain...), token)
		}
		d.Next = link(res.NextPageToken, next)
	}
	if token != "" {
		if len(chain) == 0 {
			d.Prev = link("", nil)
		} else {
			prevTok := chain[len(chain)-1]
			d.Prev = link(prevTok, chain[:len(chain)-1])
		}
	}
	if token == "" {
		rec := &SearchRecord{AccountID: s.AccountID, ArchiveID: a.ID, At: c.cfg.Now(), Query: d.Query,
			URL: r.URL.RequestURI(), Found: len(res.Messages), More: res.NextPageToken != ""}
		if err := c.cfg.Sessions.AddSearch(r.Context(), rec, HistoryLen); err != nil {
			// The search itself worked: show it, and say why history lacks it.
			c.log.Warn("could not record a console search", "account", s.AccountID, "archive", a.ID, "err", err)
		}
	}
	c.render(w, r, http.StatusOK, "search", a.Name, s, d)
}

// message returns an archived message of an archive of the session's
// account (NotFound for a message of another archive).
func (c *Console) content(r *http.Request, s *session) (archiveRef, *archive.Content, error) {
	a, err := c.getArchive(r.Context(), r.PathValue("archive"))
	if err != nil {
		return a, nil, err
	}
	id := r.PathValue("msg")
	ct, err := c.cfg.Archive.MessageContent(r.Context(), s.AccountID, id)
	if err != nil {
		return a, nil, err
	}
	if ct.Message.ArchiveID != a.ID {
		return a, nil, fault.NotFoundf("Archived message %s does not exist in archive %s", id, a.ID)
	}
	return a, ct, nil
}

type messageData struct {
	Archive     archiveRef
	M           *archive.Message
	Text        string
	HasHTML     bool
	HTMLURL     string
	RawURL      string
	Attachments []attachmentRef
	Malformed   bool
	Back        string
}

type attachmentRef struct {
	Name, Type string
	Size       int64
	URL        string
}

func (c *Console) messagePage(w http.ResponseWriter, r *http.Request, s *session) {
	a, ct, err := c.content(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	base := a.URL + "/messages/" + url.PathEscape(ct.Message.ID)
	d := messageData{Archive: a, M: ct.Message, Text: ct.Text, HasHTML: strings.TrimSpace(ct.HTML) != "",
		HTMLURL: base + "/html", RawURL: base + "/raw", Malformed: ct.Malformed, Back: a.URL}
	if b := r.URL.Query().Get("back"); b != "" && safeNext(b) == b {
		d.Back = b
	}
	_, rc, err := c.cfg.Archive.OpenMessage(r.Context(), s.AccountID, ct.Message.ID)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	parts, err := attachments(rc, -1, nil)
	rc.Close()
	if err != nil {
		c.log.Warn("console: listing attachments", "message", ct.Message.ID, "err", err)
	}
	for i, p := range parts {
		d.Attachments = append(d.Attachments, attachmentRef{Name: p.Name, Type: p.Type, Size: p.Size,
			URL: base + "/attachments/" + strconv.Itoa(i)})
	}
	title := ct.Message.Meta.Subject
	if title == "" {
		title = "(no subject)"
	}
	c.render(w, r, http.StatusOK, "message", title, s, d)
}

// htmlCSP is the policy of a message's HTML body: no script, nothing
// fetched from anywhere (remote images, styles, fonts are not loaded, so
// a sender learns nothing of the reading), only embedded data: images;
// framed by the console only; and sandboxed even when opened directly.
const htmlCSP = "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline'; font-src data:; media-src data:; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'self'; sandbox"

// messageHTML serves the HTML body of a message, for the sandboxed
// iframe of the message page. Its cid: images (the message's own inline
// parts) become data: URIs.
func (c *Console) messageHTML(w http.ResponseWriter, r *http.Request, s *session) {
	_, ct, err := c.content(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	html := ct.HTML
	if strings.Contains(html, "cid:") {
		if _, rc, err := c.openMessage(r, s); err == nil {
			html = withInlineImages(html, inlineImages(rc))
			rc.Close()
		}
	}
	h := w.Header()
	h.Set("Content-Security-Policy", htmlCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	_, _ = io.WriteString(w, html)
}

// openMessage opens the raw message of the request, in the archive of the
// request (NotFound for a message of another archive).
func (c *Console) openMessage(r *http.Request, s *session) (*archive.Message, io.ReadCloser, error) {
	a, err := c.getArchive(r.Context(), r.PathValue("archive"))
	if err != nil {
		return nil, nil, err
	}
	m, rc, err := c.cfg.Archive.OpenMessage(r.Context(), s.AccountID, r.PathValue("msg"))
	if err != nil {
		return nil, nil, err
	}
	if m.ArchiveID != a.ID {
		rc.Close()
		return nil, nil, fault.NotFoundf("Archived message %s does not exist in archive %s", m.ID, a.ID)
	}
	return m, rc, nil
}

// messageRaw downloads the message exactly as received.
func (c *Console) messageRaw(w http.ResponseWriter, r *http.Request, s *session) {
	m, rc, err := c.openMessage(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	defer rc.Close()
	download(w, "message/rfc822", m.ID+".eml", m.Size)
	if _, err := io.Copy(w, rc); err != nil {
		c.log.Warn("console: message download interrupted", "message", m.ID, "err", err)
	}
}

// download sets the headers of a file download: an attachment (never
// shown inline), its declared type, no sniffing, nothing run.
func download(w http.ResponseWriter, contentType, filename string, size int64) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": filename}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	if size >= 0 {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
	}
}

func (c *Console) attachment(w http.ResponseWriter, r *http.Request, s *session) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 {
		c.errorPage(w, r, http.StatusNotFound, "Not found", "There is no such attachment.")
		return
	}
	m, rc, err := c.openMessage(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	defer rc.Close()
	found := false
	_, err = attachments(rc, n, func(p part, body io.Reader) error {
		found = true
		download(w, p.Type, p.Name, -1)
		_, err := io.Copy(w, body)
		return err
	})
	switch {
	case !found && err == nil:
		c.errorPage(w, r, http.StatusNotFound, "Not found", "The message has no attachment "+strconv.Itoa(n)+".")
	case !found:
		c.fail(w, r, fmt.Errorf("reading the attachments of %s: %w", m.ID, err))
	case err != nil:
		c.log.Warn("console: attachment download interrupted", "message", m.ID, "err", err)
	}
}

// Exports.

func (c *Console) startExport(w http.ResponseWriter, r *http.Request, s *session) {
	a, err := c.getArchive(r.Context(), r.PathValue("archive"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	req, err := formOf(r.PostForm).exportRequest(a.ID, c.cfg.Now())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	out, err := c.cfg.Archive.StartArchiveExport(r.Context(), req)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.log.Info("console: export started", "account", s.AccountID, "archive", a.ID, "export", deref(out.ExportId))
	http.Redirect(w, r, a.URL+"/exports/"+url.PathEscape(deref(out.ExportId)), http.StatusSeeOther)
}

// exportStatus is an export as its page and progress endpoint show it.
type exportStatus struct {
	ID        string    `json:"id"`
	State     string    `json:"state"`
	Total     int64     `json:"total"`
	Exported  int64     `json:"exported"`
	Percent   int       `json:"percent"`
	Done      bool      `json:"done"`
	Error     string    `json:"error_message,omitempty"`
	Download  string    `json:"download,omitempty"`
	Submitted time.Time `json:"submitted"`
	Completed time.Time `json:"completed,omitzero"`
	Location  string    `json:"-"`
	Page      string    `json:"-"`
	Progress  string    `json:"-"`
}

func (e exportStatus) refresh() int {
	if e.Done {
		return 0
	}
	return 2
}

// export returns an export of the archive of the request.
func (c *Console) export(r *http.Request, s *session) (archiveRef, *exportStatus, error) {
	a, err := c.getArchive(r.Context(), r.PathValue("archive"))
	if err != nil {
		return a, nil, err
	}
	id := r.PathValue("export")
	got, err := c.cfg.Archive.GetArchiveExport(r.Context(), &mm.GetArchiveExportRequest{ExportId: &id})
	if err != nil {
		return a, nil, err
	}
	if deref(got.ArchiveId) != a.ID {
		return a, nil, fault.NotFoundf("Export %s does not exist in archive %s", id, a.ID)
	}
	p, err := c.cfg.Archive.Progress(r.Context(), s.AccountID, id)
	if err != nil {
		return a, nil, err
	}
	base := a.URL + "/exports/" + url.PathEscape(id)
	e := &exportStatus{ID: id, State: string(p.State), Total: p.Total, Exported: p.Exported, Location: p.Location,
		Page: base, Progress: base + "/progress"}
	if st := got.Status; st != nil {
		e.Submitted, e.Completed, e.Error = timeOf(st.SubmissionTimestamp), timeOf(st.CompletionTimestamp), deref(st.ErrorMessage)
	}
	switch p.State {
	case mm.ExportStateCompleted:
		e.Done, e.Percent, e.Download = true, 100, base+"/download"
	case mm.ExportStateFailed, mm.ExportStateCancelled:
		e.Done = true
	}
	if !e.Done && p.Total > 0 {
		e.Percent = int(p.Exported * 100 / p.Total)
	}
	return a, e, nil
}

type exportData struct {
	Archive archiveRef
	Export  *exportStatus
}

func (d exportData) refresh() int { return d.Export.refresh() }

func (c *Console) exportPage(w http.ResponseWriter, r *http.Request, s *session) {
	a, e, err := c.export(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "export", "Export "+e.ID, s, exportData{Archive: a, Export: e})
}

// exportProgress answers the progress of an export as JSON, for the
// export page's progress bar.
func (c *Console) exportProgress(w http.ResponseWriter, r *http.Request, s *session) {
	_, e, err := c.export(r, s)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		status := http.StatusInternalServerError
		switch fault.KindOf(err) {
		case fault.NotFound:
			status = http.StatusNotFound
		case fault.Invalid:
			status = http.StatusBadRequest
		default:
			c.log.Error("console: export progress", "err", err)
			err = fmt.Errorf("could not read the export's progress")
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(e)
}

// exportDownload streams a completed export as a zip file of what it
// wrote: <message>.eml and <message>.metadata.json.
func (c *Console) exportDownload(w http.ResponseWriter, r *http.Request, s *session) {
	_, e, err := c.export(r, s)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	if e.State != string(mm.ExportStateCompleted) {
		c.fail(w, r, fault.Conflictf("Export %s is %s: it can be downloaded once it is COMPLETED", e.ID, e.State))
		return
	}
	ctx := r.Context()
	first, err := c.cfg.Blobs.List(ctx, e.Location, "", 1000)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	download(w, "application/zip", "export-"+e.ID+".zip", -1)
	zw := zip.NewWriter(w)
	page := first
	for len(page) > 0 {
		for _, info := range page {
			if err := c.zipBlob(ctx, zw, info.Key, strings.TrimPrefix(info.Key, e.Location)); err != nil {
				c.log.Warn("console: export download interrupted", "export", e.ID, "err", err)
				return
			}
		}
		if page, err = c.cfg.Blobs.List(ctx, e.Location, page[len(page)-1].Key, 1000); err != nil {
			c.log.Warn("console: export download interrupted", "export", e.ID, "err", err)
			return
		}
	}
	if err := zw.Close(); err != nil {
		c.log.Warn("console: export download interrupted", "export", e.ID, "err", err)
	}
}

func (c *Console) zipBlob(ctx context.Context, zw *zip.Writer, key, name string) error {
	rc, info, err := c.cfg.Blobs.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: info.ModTime})
	if err != nil {
		return err
	}
	_, err = io.Copy(f, rc)
	return err
}

// History.

type historyData struct {
	Archive  archiveRef
	Console  []SearchRecord
	Searches []taskRow
	Exports  []taskRow
}

type taskRow struct {
	ID, State, Error     string
	Submitted, Completed time.Time
	URL                  string
}

func (c *Console) historyPage(w http.ResponseWriter, r *http.Request, s *session) {
	a, err := c.getArchive(r.Context(), r.PathValue("archive"))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	console, err := c.cfg.Sessions.ListSearches(r.Context(), s.AccountID, a.ID, HistoryLen)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := historyData{Archive: a, Console: console}
	searches, err := c.cfg.Archive.ListArchiveSearches(r.Context(), &mm.ListArchiveSearchesRequest{ArchiveId: &a.ID, PageSize: ptr(int64(50))})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, x := range searches.Searches {
		row := taskRow{ID: deref(x.SearchId)}
		if st := x.Status; st != nil {
			row.State, row.Error = string(deref(st.State)), deref(st.ErrorMessage)
			row.Submitted, row.Completed = timeOf(st.SubmissionTimestamp), timeOf(st.CompletionTimestamp)
		}
		d.Searches = append(d.Searches, row)
	}
	exports, err := c.cfg.Archive.ListArchiveExports(r.Context(), &mm.ListArchiveExportsRequest{ArchiveId: &a.ID, PageSize: ptr(int64(50))})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, x := range exports.Exports {
		row := taskRow{ID: deref(x.ExportId), URL: a.URL + "/exports/" + url.PathEscape(deref(x.ExportId))}
		if st := x.Status; st != nil {
			row.State, row.Error = string(deref(st.State)), deref(st.ErrorMessage)
			row.Submitted, row.Completed = timeOf(st.SubmissionTimestamp), timeOf(st.CompletionTimestamp)
		}
		d.Exports = append(d.Exports, row)
	}
	c.render(w, r, http.StatusOK, "history", "History of "+a.Name, s, d)
}
