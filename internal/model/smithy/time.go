package smithy

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Time is a model timestamp. Each protocol has its own default format:
// epoch seconds in awsJson1_0 and restJson1 bodies, CBOR tag 1 in
// rpcv2Cbor, ISO 8601 (date-time) in awsQuery XML.
type Time struct{ time.Time }

// NewTime returns a pointer to a Time, for optional members.
func NewTime(t time.Time) *Time { return &Time{t} }

// EpochSeconds returns t as fractional seconds since the epoch, millisecond precision.
func (t Time) EpochSeconds() float64 {
	return float64(t.UnixMilli()) / 1000
}

func fromEpoch(f float64) Time {
	sec, frac := math.Modf(f)
	return Time{time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC()}
}

// MarshalJSON writes epoch seconds (RFC: Smithy timestampFormat epoch-seconds).
func (t Time) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, t.EpochSeconds(), 'f', -1, 64), nil
}

// UnmarshalJSON accepts epoch seconds, or an RFC 3339 string.
func (t *Time) UnmarshalJSON(b []byte) error {
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		*t = fromEpoch(f)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("timestamp: want epoch seconds or RFC 3339 string")
	}
	return t.UnmarshalText([]byte(s))
}

// MarshalText writes ISO 8601 with milliseconds, as awsQuery does.
func (t Time) MarshalText() ([]byte, error) {
	return []byte(t.UTC().Format("2006-01-02T15:04:05.000Z")), nil
}

// UnmarshalText accepts RFC 3339, with or without fractional seconds.
func (t *Time) UnmarshalText(b []byte) error {
	p, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return fmt.Errorf("timestamp: %q is not RFC 3339", b)
	}
	t.Time = p.UTC()
	return nil
}

// MarshalCBOR writes tag 1 (epoch-based date/time) with a float, as the
// Smithy RPC v2 CBOR protocol requires.
func (t Time) MarshalCBOR() ([]byte, error) {
	return cbor.Marshal(cbor.Tag{Number: 1, Content: t.EpochSeconds()})
}

// UnmarshalCBOR accepts tag 1 with an integer or float, or a bare number.
func (t *Time) UnmarshalCBOR(b []byte) error {
	var raw cbor.RawTag
	if err := cbor.Unmarshal(b, &raw); err == nil {
		if raw.Number != 1 {
			return fmt.Errorf("timestamp: CBOR tag %d, want 1", raw.Number)
		}
		b = raw.Content
	}
	var f float64
	if err := cbor.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("timestamp: want CBOR tag 1 with a number")
	}
	*t = fromEpoch(f)
	return nil
}
