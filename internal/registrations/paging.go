package registrations

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// defaultPage is the page size when MaxResults is not given.
const defaultPage = 20

func pageSize(max *int64) int {
	if max == nil || *max <= 0 {
		return defaultPage
	}
	return int(*max)
}

// pageToken is a NextToken: where the next page starts, for one list.
type pageToken struct {
	List   string `json:"l"`
	At     int64  `json:"t,omitempty"` // created at, unix ms
	ID     string `json:"i,omitempty"`
	Offset int    `json:"o,omitempty"`
}

func encodeToken(t pageToken) *string {
	b, _ := json.Marshal(t)
	return ptr(base64.RawURLEncoding.EncodeToString(b))
}

// decodeToken reads the NextToken of list (a zero token for nil).
func decodeToken(tok *string, list string) (pageToken, error) {
	if tok == nil || *tok == "" {
		return pageToken{List: list}, nil
	}
	var t pageToken
	b, err := base64.RawURLEncoding.DecodeString(*tok)
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.List != list || t.Offset < 0 {
		return t, invalid("INVALID_NEXT_TOKEN", "NextToken is not one this operation returned")
	}
	return t, nil
}

func (t pageToken) cursor() Cursor {
	if t.ID == "" {
		return Cursor{}
	}
	return Cursor{CreatedAt: time.UnixMilli(t.At).UTC(), ID: t.ID}
}

// page cuts items (a whole list held in memory) at the token's offset and
// returns the page and the next token.
func page[T any](items []T, tok *string, list string, max *int64) ([]T, *string, error) {
	t, err := decodeToken(tok, list)
	if err != nil {
		return nil, nil, err
	}
	if t.Offset > len(items) {
		t.Offset = len(items)
	}
	items = items[t.Offset:]
	n := pageSize(max)
	if len(items) <= n {
		return items, nil, nil
	}
	return items[:n], encodeToken(pageToken{List: list, Offset: t.Offset + n}), nil
}
