package smpp

import (
	"strconv"
	"strings"
	"time"
)

// Receipt is a delivery receipt: a deliver_sm (or data_sm) with the SMSC
// delivery receipt esm_class (5.2.12). Its fields come from the
// receipted_message_id, message_state and network_error_code parameters when
// present, else from the text of Appendix B:
//
//	id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
type Receipt struct {
	MessageID string       // the id submit_sm_resp gave
	State     MessageState // zero if neither the parameter nor stat: says
	Stat      string       // stat: as written (DELIVRD, UNDELIV, ...)
	Err       string       // err: as written
	// NetworkError is the network_error_code parameter, if present.
	NetworkError *NetworkError
	Submitted    int // sub:
	Delivered    int // dlvrd:
	// SubmitDate and DoneDate are read as UTC (the format has no zone); zero
	// if absent or unreadable.
	SubmitDate, DoneDate time.Time
	Text                 string // text: the first characters of the message
	// Intermediate is set for an intermediate delivery notification rather
	// than a final receipt.
	Intermediate bool
	Source, Dest string // the receipt's source (the handset) and destination
	Raw          string // the short message text as received
}

// Final reports whether the receipt reports a final state.
func (r *Receipt) Final() bool { return !r.Intermediate && r.State.Final() }

var statStates = map[string]MessageState{
	"ENROUTE": StateEnroute,
	"DELIVRD": StateDelivered, "DELIVERED": StateDelivered,
	"EXPIRED": StateExpired,
	"DELETED": StateDeleted,
	"UNDELIV": StateUndeliverable, "UNDELIVERABLE": StateUndeliverable,
	"ACCEPTD": StateAccepted, "ACCEPTED": StateAccepted,
	"UNKNOWN": StateUnknown,
	"REJECTD": StateRejected, "REJECTED": StateRejected,
}

// receiptKeys are the fields of the receipt text in their usual order.
var receiptKeys = []string{"id:", "sub:", "dlvrd:", "submit date:", "done date:", "stat:", "err:", "text:"}

// ParseReceiptText reads the receipt text format of SMPP 3.4 Appendix B.
// Field names match without regard to case; missing fields stay zero; text:
// runs to the end. ok is false if the text has neither id: nor stat:.
func ParseReceiptText(s string) (r Receipt, ok bool) {
	// Lower ASCII only: strings.ToLower can change lengths, and the indexes
	// found in lower must hold in s.
	lb := []byte(s)
	for i, c := range lb {
		if 'A' <= c && c <= 'Z' {
			lb[i] = c + 'a' - 'A'
		}
	}
	lower := string(lb)
	type span struct{ key, start, end int }
	var found []span
	from := 0
	for k, key := range receiptKeys {
		i := indexKey(lower, key, from)
		if i < 0 {
			continue
		}
		found = append(found, span{key: k, start: i, end: i + len(key)})
		from = i + len(key)
	}
	values := map[string]string{}
	for i, f := range found {
		end := len(s)
		if i+1 < len(found) {
			end = found[i+1].start
		}
		v := s[f.end:end]
		if receiptKeys[f.key] != "text:" {
			v = strings.TrimSpace(v)
		}
		values[receiptKeys[f.key]] = v
	}
	id, hasID := values["id:"]
	stat, hasStat := values["stat:"]
	if !hasID && !hasStat {
		return Receipt{}, false
	}
	r.MessageID = id
	r.Stat = stat
	r.State = statStates[strings.ToUpper(stat)]
	r.Err = values["err:"]
	r.Submitted, _ = strconv.Atoi(values["sub:"])
	r.Delivered, _ = strconv.Atoi(values["dlvrd:"])
	r.SubmitDate = parseReceiptDate(values["submit date:"])
	r.DoneDate = parseReceiptDate(values["done date:"])
	r.Text = values["text:"]
	return r, true
}

// indexKey finds key at or after from where it starts the text or follows a
// space, so "id:" is not found inside "dlvrd:id:".
func indexKey(s, key string, from int) int {
	for from <= len(s) {
		i := strings.Index(s[from:], key)
		if i < 0 {
			return -1
		}
		i += from
		if i == 0 || s[i-1] == ' ' {
			return i
		}
		from = i + 1
	}
	return -1
}

// parseReceiptDate reads YYMMDDhhmm, or YYMMDDhhmmss as many SMSCs write.
func parseReceiptDate(s string) time.Time {
	for _, layout := range []string{"0601021504", "060102150405"} {
		if len(s) == len(layout) {
			if t, err := time.Parse(layout, s); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}
