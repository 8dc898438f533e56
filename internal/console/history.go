package console

import "time"

// SearchRecord is a search run in the console.
type SearchRecord struct {
	AccountID, ArchiveID string
	At                   time.Time
	Query                string
	URL                  string
	Found                int
	More                 bool
}

// HistoryLen is how many console searches are kept per account and
// archive (Mail Manager searches and exports are listed from the archive,
// which keeps them 30 days).
const HistoryLen = 50
