package archive

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/nativeapi"
)

// The native search: GET /v1/archives/{id}/messages?q=…, with the query
// language of mail clients:
//
//	budget report          both words, anywhere (subject, sender,
//	                       recipients, body, attachment names)
//	"quarterly report"     the words in a row
//	from:alice             in the From header or envelope sender
//	to:bob cc:bob          in To, Cc or the envelope recipients
//	subject:invoice        in the subject
//	subject:"due today"    a phrase in the subject
//	has:attachment         with an attachment (-has:attachment: without)
//	after:2024-05-01       received on or after that day (UTC)
//	before:2024-06-01      received before that day (UTC)
//	-word  -from:x  -"a b" negation of any term
//
// Words are matched whole, without case or accents ("resume" finds
// "Résumé"); an address or any text with punctuation is the phrase of its
// words ("alice@example.com" is "alice example com"). Terms combine with
// AND. Results are ranked by relevance (BM25 on SQLite, ts_rank on
// PostgreSQL) in windows of the newest RankWindow matches (see Scored for
// queries of addresses only), newest first without words, and paginated.

// NativePrefix is the path the native search handler serves under; mount
// NativeHandler there.
const NativePrefix = "/v1/archives/"

const (
	nativeDefaultPage = 20
	nativeMaxPage     = 100
	maxQueryTerms     = 32
	maxQueryLen       = 2048
	maxOffset         = 10000
)

// ParseQuery parses a native query into q's Must, Not, HasAttachments,
// Since and Until.
func ParseQuery(s string) (*Query, error) {
	if len(s) > maxQueryLen {
		return nil, fault.Invalidf("the query is longer than %d bytes", maxQueryLen)
	}
	q := &Query{}
	terms := 0
	rest := strings.TrimSpace(s)
	for rest != "" {
		var tok string
		var quoted bool
		tok, quoted, rest = nextQueryToken(rest)
		neg := false
		if !quoted && strings.HasPrefix(tok, "-") && len(tok) > 1 {
			neg, tok = true, tok[1:]
		}
		if tok == "" {
			continue
		}
		field, value := FieldAny, tok
		if !quoted {
			if name, v, ok := strings.Cut(tok, ":"); ok {
				// A value may be quoted: subject:"a b".
				if v == "" && strings.HasPrefix(rest, `"`) {
					v, _, rest = nextQueryToken(rest)
				} else {
					v = strings.Trim(v, `"`)
				}
				switch strings.ToLower(name) {
				case "from":
					field, value = FieldSender, v
				case "to", "cc":
					field, value = FieldRecipients, v
				case "subject":
					field, value = FieldSubject, v
				case "has":
					switch strings.ToLower(v) {
					case "attachment", "attachments":
						b := !neg
						q.HasAttachments = &b
						continue
					}
					return nil, fault.Invalidf("unknown has:%s (has:attachment is known)", v)
				case "before", "after":
					d, err := parseDay(v)
					if err != nil {
						return nil, err
					}
					if neg {
						return nil, fault.Invalidf("-%s: is not supported; use the other of before: and after:", name)
					}
					if strings.EqualFold(name, "before") {
						q.Until = d
					} else {
						q.Since = d
					}
					continue
				}
				// Any other name: the text as it is ("re:foo" is "re foo").
			}
		}
		tokens := Tokens(value)
		if len(tokens) == 0 {
			continue
		}
		terms++
		if terms > maxQueryTerms {
			return nil, fault.Invalidf("the query has more than %d terms", maxQueryTerms)
		}
		t := Term{Field: field, Tokens: tokens}
		if neg {
			q.Not = append(q.Not, t)
		} else {
			q.Must = append(q.Must, t)
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return nil, fault.Invalidf("after: must be a day before before:")
	}
	return q, nil
}

// nextQueryToken returns the next token of s: a "quoted string" (quoted
// true) or a run without spaces in which a quoted part may stand
// (subject:"a b").
func nextQueryToken(s string) (tok string, quoted bool, rest string) {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if strings.HasPrefix(s, `"`) {
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return s[1:], true, ""
		}
		return s[1 : 1+end], true, s[2+end:]
	}
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, false, ""
	}
	// field:"quoted value": the quote ends the token, not the space.
	if c := strings.Index(s[:i], `:"`); c >= 0 {
		if end := strings.IndexByte(s[c+2:], '"'); end >= 0 {
			i = c + 2 + end + 1
		}
	}
	return s[:i], false, s[i:]
}

func parseDay(v string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02", "2006/01/02"} {
		if d, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return d, nil
		}
	}
	return time.Time{}, fault.Invalidf("bad date %q: use YYYY-MM-DD", v)
}

// NativeResult is a page of native search results.
type NativeResult struct {
	Messages      []NativeMessage `json:"messages"`
	NextPageToken string          `json:"next_page_token,omitempty"`
}

// NativeMessage is one message of a NativeResult.
type NativeMessage struct {
	ID             string    `json:"id"`
	ReceivedAt     time.Time `json:"received_at"`
	Subject        string    `json:"subject,omitempty"`
	From           string    `json:"from,omitempty"`
	To             string    `json:"to,omitempty"`
	Cc             string    `json:"cc,omitempty"`
	Date           string    `json:"date,omitempty"`
	MessageID      string    `json:"message_id,omitempty"`
	EnvelopeFrom   string    `json:"envelope_from,omitempty"`
	EnvelopeTo     []string  `json:"envelope_to,omitempty"`
	HasAttachments bool      `json:"has_attachments"`
	Attachments    []string  `json:"attachments,omitempty"`
	Size           int64     `json:"size"`
	Malformed      bool      `json:"malformed,omitempty"`
	Score          float64   `json:"score"`
}

// SearchNative runs a native query q over an archive of the account and
// returns one page of pageSize (default 20, at most 100) results, after
// the page that token (a NextPageToken of the same query) ends.
func (s *Service) SearchNative(ctx context.Context, accountID, archiveID, q string, pageSize int, token string) (*NativeResult, error) {
	if _, err := s.archive(ctx, accountID, archiveID, false); err != nil {
		return nil, err
	}
	switch {
	case pageSize < 0:
		return nil, fault.Invalidf("page_size must be positive")
	case pageSize == 0:
		pageSize = nativeDefaultPage
	case pageSize > nativeMaxPage:
		pageSize = nativeMaxPage
	}
	query, err := ParseQuery(q)
	if err != nil {
		return nil, err
	}
	offset, err := decodePageToken(token, archiveID, q)
	if err != nil {
		return nil, err
	}
	query.AccountID, query.ArchiveID = accountID, archiveID
	query.Offset, query.Limit = offset, pageSize+1
	hits, err := s.store.SearchMessages(ctx, query)
	if err != nil {
		return nil, err
	}
	out := &NativeResult{Messages: make([]NativeMessage, 0, min(len(hits), pageSize))}
	if len(hits) > pageSize {
		hits = hits[:pageSize]
		if next := offset + pageSize; next <= maxOffset {
			out.NextPageToken = encodePageToken(next, archiveID, q)
		}
	}
	for _, h := range hits {
		m := h.Message
		out.Messages = append(out.Messages, NativeMessage{
			ID: m.ID, ReceivedAt: m.ReceivedAt, Subject: m.Meta.Subject, From: m.Meta.From,
			To: m.Meta.To, Cc: m.Meta.Cc, Date: m.Meta.Date, MessageID: m.Meta.MessageID,
			EnvelopeFrom: m.Meta.EnvelopeFrom, EnvelopeTo: m.Meta.EnvelopeTo,
			HasAttachments: m.HasAttachments, Attachments: m.Meta.Attachments,
			Size: m.Size, Malformed: m.Malformed, Score: h.Score,
		})
	}
	return out, nil
}

// Page tokens carry the offset of the next page and a digest of the
// query, so that a token is refused with another query.
func queryDigest(archiveID, q string) string {
	h := sha256.Sum256([]byte(archiveID + "\x00" + q))
	return base64.RawURLEncoding.EncodeToString(h[:6])
}

func encodePageToken(offset int, archiveID, q string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(offset) + "." + queryDigest(archiveID, q)))
}

func decodePageToken(token, archiveID, q string) (int, error) {
	if token == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return 0, fault.Invalidf("bad page_token")
	}
	num, digest, ok := strings.Cut(string(b), ".")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 0 || n > maxOffset || digest != queryDigest(archiveID, q) {
		return 0, fault.Invalidf("bad page_token (a token continues the query that gave it)")
	}
	return n, nil
}

// Authenticator checks the credentials of an HTTP request (SigV4, as the
// AWS API does) and returns the caller.
type Authenticator = nativeapi.Authenticator

// NativeHandler serves GET NativePrefix{archiveId}/messages?q=&page_size=
// &page_token= for callers auth accepts, answering JSON: a NativeResult,
// or {"error": {"code", "message"}}.
func (s *Service) NativeHandler(auth Authenticator) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+NativePrefix+"{id}/messages", func(w http.ResponseWriter, r *http.Request) {
		r, p, ok := nativeapi.Authenticate(w, r, auth)
		if !ok {
			return
		}
		qv := r.URL.Query()
		size := 0
		if v := qv.Get("page_size"); v != "" {
			var err error
			if size, err = strconv.Atoi(v); err != nil || size < 1 {
				nativeapi.WriteError(w, fault.Invalidf("page_size must be a positive integer"), 0)
				return
			}
		}
		res, err := s.SearchNative(r.Context(), p.AccountID, r.PathValue("id"), qv.Get("q"), size, qv.Get("page_token"))
		if err != nil {
			if fault.KindOf(err) == fault.Internal {
				s.log.Error("native archive search failed", "account", p.AccountID, "err", err)
			}
			nativeapi.WriteError(w, err, 0)
			return
		}
		nativeapi.WriteJSON(w, 0, res)
	})
	mux.HandleFunc(NativePrefix, func(w http.ResponseWriter, r *http.Request) {
		nativeapi.WriteError(w, fault.NotFoundf("no such resource: %s %s", r.Method, r.URL.Path), 0)
	})
	return mux
}
