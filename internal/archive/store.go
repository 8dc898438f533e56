package archive

import (
	"context"
	"time"
)

// Message is the metadata row of one archived message.
type Message struct {
	AccountID string
	ArchiveID string
	ID        string // ArchivedMessageId
	// ReceivedAt is when the gateway received the message (ms precision).
	ReceivedAt time.Time
	// BlobKey names the compressed raw message in the blob store.
	BlobKey string
	// Size is the raw message's length in bytes, StoredSize the blob's.
	Size       int64
	StoredSize int64
	// SHA256 is the hex SHA-256 of the raw message as received.
	SHA256 string
	// Compression of the blob: "zstd".
	Compression string
	// DataKeyID names the data key (see Keys) the blob is encrypted
	// under, after compression; "" when it is not encrypted.
	DataKeyID string
	// Malformed: the MIME structure could not be parsed in full (the raw
	// message is kept as received all the same).
	Malformed      bool
	HasAttachments bool
	Meta           Meta
}

// Meta is everything shown of a message besides its body: the fields of a
// GetArchiveSearchResults row and of GetArchiveMessage's Metadata and
// Envelope. Header values are decoded (RFC 2047) text.
type Meta struct {
	Subject         string   `json:"subject,omitempty"`
	From            string   `json:"from,omitempty"`
	To              string   `json:"to,omitempty"`
	Cc              string   `json:"cc,omitempty"`
	Date            string   `json:"date,omitempty"`
	MessageID       string   `json:"message_id,omitempty"`
	InReplyTo       string   `json:"in_reply_to,omitempty"`
	XMailer         string   `json:"x_mailer,omitempty"`
	XOriginalMailer string   `json:"x_original_mailer,omitempty"`
	XPriority       string   `json:"x_priority,omitempty"`
	Received        []string `json:"received,omitempty"`
	Attachments     []string `json:"attachments,omitempty"`

	EnvelopeFrom string   `json:"envelope_from,omitempty"`
	EnvelopeTo   []string `json:"envelope_to,omitempty"`
	Helo         string   `json:"helo,omitempty"`

	IngressPointID  string `json:"ingress_point_id,omitempty"`
	TrafficPolicyID string `json:"traffic_policy_id,omitempty"`
	RuleSetID       string `json:"rule_set_id,omitempty"`
	SourceARN       string `json:"source_arn,omitempty"`
	SenderHostname  string `json:"sender_hostname,omitempty"`
	SenderIP        string `json:"sender_ip,omitempty"`
	TLSProtocol     string `json:"tls_protocol,omitempty"`
	TLSCipherSuite  string `json:"tls_cipher_suite,omitempty"`

	SPF   string `json:"spf,omitempty"`
	DKIM  string `json:"dkim,omitempty"`
	DMARC string `json:"dmarc,omitempty"`

	// Problems says why a message is Malformed.
	Problems []string `json:"problems,omitempty"`

	// Journal is set for a journal report; the header fields above are
	// then the journaled message's.
	Journal *Journal `json:"journal,omitempty"`
}

// SearchEnvelopeFrom is what the ENVELOPE_FROM filter and the sender
// index hold besides the From header: the SMTP envelope sender, and a
// journal report's sender (the original's envelope sender).
func (m *Meta) SearchEnvelopeFrom() []string {
	out := []string{m.EnvelopeFrom}
	if m.Journal != nil && m.Journal.Sender != "" {
		out = append(out, m.Journal.Sender)
	}
	return out
}

// SearchEnvelopeTo is what the ENVELOPE_TO filter and the recipient index
// hold besides the To and Cc headers: the SMTP envelope recipients, and a
// journal report's recipients (the original's, Bcc and groups included).
func (m *Meta) SearchEnvelopeTo() []string {
	out := append([]string(nil), m.EnvelopeTo...)
	if m.Journal != nil {
		out = append(out, m.Journal.Recipients...)
	}
	return out
}

// Document is what the full-text index holds of a message: the tokens of
// each field, made by Tokens. Sender is the From header and envelope
// sender; Recipients the To and Cc headers and envelope recipients; Body
// the attachment file names and the body text.
type Document struct {
	Subject    []string
	Sender     []string
	Recipients []string
	Body       []string
}

// MaxIndexTokens bounds the tokens of a Document: PostgreSQL positions
// stop at 16383, and both databases must index the same words.
const MaxIndexTokens = 16000

// Field names a searchable field of a message.
type Field int

const (
	FieldAny Field = iota
	FieldSubject
	FieldSender
	FieldRecipients
	FieldBody
)

// Attribute names a metadata attribute a Mail Manager filter tests.
type Attribute string

const (
	AttrTo             Attribute = "TO"
	AttrFrom           Attribute = "FROM"
	AttrCc             Attribute = "CC"
	AttrSubject        Attribute = "SUBJECT"
	AttrEnvelopeTo     Attribute = "ENVELOPE_TO"
	AttrEnvelopeFrom   Attribute = "ENVELOPE_FROM"
	AttrHasAttachments Attribute = "HAS_ATTACHMENTS"
)

// Condition is one Mail Manager filter condition: the attribute contains
// (case-insensitively, see Fold) any of Values, or for AttrHasAttachments
// equals Bool.
type Condition struct {
	Attr   Attribute
	Values []string // folded
	Bool   bool
}

// Cursor positions a listing ordered newest first.
type Cursor struct {
	ReceivedAt time.Time
	ID         string
}

// Filter selects messages of one archive the Mail Manager way. Messages
// come newest first (ReceivedAt, then ID, descending).
type Filter struct {
	AccountID string
	ArchiveID string
	// Since (inclusive) and Until (exclusive) bound ReceivedAt.
	Since, Until time.Time
	// Include: every condition holds. Unless: none does.
	Include []Condition
	Unless  []Condition
	// After, when set, continues a listing after that message.
	After *Cursor
	Limit int
}

// Term is a word or a phrase (several tokens in a row) of a native query,
// in one field or any.
type Term struct {
	Field  Field
	Tokens []string
}

// Query is a native full-text query over one archive.
type Query struct {
	AccountID string
	ArchiveID string
	// Must: every term matches. Not: no term matches.
	Must []Term
	Not  []Term
	// HasAttachments, when set, must equal the message's.
	HasAttachments *bool
	// Since (inclusive) and Until (exclusive) bound ReceivedAt when set.
	Since, Until time.Time
	Offset       int
	Limit        int
	// Window is how many matches are ranked together (RankWindow when
	// 0); see RankWindow.
	Window int
}

// RankWindow is how many matches of a query with words are ranked
// together. Results are the newest RankWindow matches (by when they were
// archived) ordered by relevance, then newest first; then the window of
// the matches archived before them, and so on. Ranking every match of a
// common word would take time in the number of matches; this way a page
// takes time in its offset plus one window, on an archive of any size.
// Over 1,000,000 messages a window of 5,000 took a common word 42 ms,
// one of 2,000 24 ms.
const RankWindow = 2000

// Scored reports whether q's matches are told apart by relevance. Not
// when every term names an address (from:, to:), whose scores would only
// tell the lengths of the address fields apart. Nor when a term other
// than an address is a phrase: quoted words, or a word of a script
// written without spaces (Chinese, Japanese, Korean), which is a phrase
// of its characters. Scoring counts the messages that have each phrase,
// over the whole archive, for its weight: at 1,000,000 messages that took
// a phrase of common words 150 ms and a Japanese word 250-400 ms, where
// a word takes about 10. The matches of a query not scored score 0:
// newest first within a window.
func (q *Query) Scored() bool {
	for _, t := range q.Not {
		if !t.address() && len(t.Tokens) > 1 {
			return false
		}
	}
	words := false
	for _, t := range q.Must {
		if t.address() {
			continue
		}
		if len(t.Tokens) > 1 {
			return false
		}
		words = true
	}
	return words
}

// address reports whether t names an address field (from:, to:).
func (t Term) address() bool { return t.Field == FieldSender || t.Field == FieldRecipients }

// Hit is a message found by a Query and its relevance, higher better
// (comparable within one query only; 0 without Must terms).
type Hit struct {
	Message *Message
	Score   float64
}

// TaskKind tells searches from exports.
type TaskKind string

const (
	TaskSearch TaskKind = "search"
	TaskExport TaskKind = "export"
)

// Task is an archive search or export.
type Task struct {
	AccountID string
	Kind      TaskKind
	ID        string
	ArchiveID string
	// State holds an mm.SearchState or mm.ExportState.
	State string
	// Request is the domain's JSON of what was asked.
	Request     []byte
	Error       string
	SubmittedAt time.Time
	CompletedAt time.Time // zero until done
	// Total and Done count messages: found / exported.
	Total, Done int64
}

// Insert is a message to store and its index entries.
type Insert struct {
	Message *Message
	Doc     *Document
}

// ArchiveRef names an archive.
type ArchiveRef struct{ AccountID, ArchiveID string }

// Job is a background job inserted with a task; it has river.JobArgs'
// shape so the store can hand it to the queue unchanged.
type Job interface{ Kind() string }

// Store is what the archive needs from the database. Implementations live
// under internal/store and pass internal/store/storetest's archive suite.
// Errors: fault.NotFound for a missing message or task, fault.Conflict for
// an ID taken.
type Store interface {
	// InsertMessage stores the metadata row and the index entries of m in
	// one transaction. Times are kept to the millisecond.
	InsertMessage(ctx context.Context, m *Message, doc *Document) error
	// InsertMessages stores several messages in one transaction: all or
	// none.
	InsertMessages(ctx context.Context, batch []Insert) error
	GetMessage(ctx context.Context, accountID, id string) (*Message, error)
	// FilterMessages lists messages the Mail Manager way.
	FilterMessages(ctx context.Context, f *Filter) ([]*Message, error)
	// CountMessages counts what FilterMessages would list without a limit.
	CountMessages(ctx context.Context, f *Filter) (int64, error)
	// SearchMessages runs a native query: ranked when it has Must terms,
	// newest first otherwise.
	SearchMessages(ctx context.Context, q *Query) ([]Hit, error)
	// ArchiveMessages returns up to limit messages of one archive received
	// before `before` (any when it is zero), oldest first.
	ArchiveMessages(ctx context.Context, accountID, archiveID string, before time.Time, limit int) ([]*Message, error)
	// Archives lists the archives that hold messages, of every account.
	Archives(ctx context.Context) ([]ArchiveRef, error)
	// DeleteMessages removes the rows and index entries of msgs (by
	// account and ID) in one transaction; missing ones are skipped.
	DeleteMessages(ctx context.Context, msgs []*Message) error

	// CreateTask inserts t and enqueues job in one transaction.
	CreateTask(ctx context.Context, t *Task, job Job) error
	GetTask(ctx context.Context, accountID string, kind TaskKind, id string) (*Task, error)
	// UpdateTask writes State, Error, CompletedAt, Total and Done of t if
	// its stored state is one of from (any when from is empty), and
	// reports whether it did.
	UpdateTask(ctx context.Context, t *Task, from ...string) (bool, error)
	// CompleteSearch stores the result IDs of search t, in order, and
	// updates it as UpdateTask does, in one transaction; nothing is stored
	// when the state is not one of from.
	CompleteSearch(ctx context.Context, t *Task, ids []string, from ...string) (bool, error)
	// SearchResults returns the messages a search found, in order; those
	// deleted since are left out.
	SearchResults(ctx context.Context, accountID, searchID string) ([]*Message, error)
	// ListTasks lists tasks of an archive submitted at or after since,
	// newest first, after the task `after` ("" for the first page).
	ListTasks(ctx context.Context, accountID, archiveID string, kind TaskKind, since time.Time, after string, limit int) ([]*Task, error)
	// DeleteTasks removes tasks (and search results) submitted before
	// cutoff, of every account; it returns how many.
	DeleteTasks(ctx context.Context, cutoff time.Time) (int64, error)
	// DeleteArchiveTasks removes the tasks of one archive.
	DeleteArchiveTasks(ctx context.Context, accountID, archiveID string) error
}
