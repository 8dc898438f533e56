package smpp

import (
	"encoding/binary"
	"fmt"
)

// Tag is an optional parameter tag (5.3.2).
type Tag uint16

// The optional parameters this package reads or writes (5.3.2).
const (
	TagReceiptedMessageID   Tag = 0x001E
	TagUserMessageReference Tag = 0x0204
	TagSourcePort           Tag = 0x020A
	TagDestinationPort      Tag = 0x020B
	TagSARMsgRefNum         Tag = 0x020C
	TagSARTotalSegments     Tag = 0x020E
	TagSARSegmentSeqnum     Tag = 0x020F
	TagSCInterfaceVersion   Tag = 0x0210
	TagNetworkErrorCode     Tag = 0x0423
	TagMessagePayload       Tag = 0x0424
	TagDeliveryFailReason   Tag = 0x0425
	TagMessageState         Tag = 0x0427
)

var tagNames = map[Tag]string{
	TagReceiptedMessageID:   "receipted_message_id",
	TagUserMessageReference: "user_message_reference",
	TagSourcePort:           "source_port",
	TagDestinationPort:      "destination_port",
	TagSARMsgRefNum:         "sar_msg_ref_num",
	TagSARTotalSegments:     "sar_total_segments",
	TagSARSegmentSeqnum:     "sar_segment_seqnum",
	TagSCInterfaceVersion:   "sc_interface_version",
	TagNetworkErrorCode:     "network_error_code",
	TagMessagePayload:       "message_payload",
	TagDeliveryFailReason:   "delivery_failure_reason",
	TagMessageState:         "message_state",
}

func (t Tag) String() string {
	if n, ok := tagNames[t]; ok {
		return n
	}
	return fmt.Sprintf("tag 0x%04X", uint16(t))
}

// TLV is one optional parameter (3.2.3); its length is len(Value).
type TLV struct {
	Tag   Tag
	Value []byte
}

// TLVs is the optional parameters of a PDU, in wire order.
type TLVs []TLV

// Get returns the value of the first parameter with tag t.
func (ts TLVs) Get(t Tag) ([]byte, bool) {
	for _, tlv := range ts {
		if tlv.Tag == t {
			return tlv.Value, true
		}
	}
	return nil, false
}

// Set replaces the parameter with tag t, or appends it.
func (ts *TLVs) Set(t Tag, v []byte) {
	for i := range *ts {
		if (*ts)[i].Tag == t {
			(*ts)[i].Value = v
			return
		}
	}
	*ts = append(*ts, TLV{Tag: t, Value: v})
}

// Uint reads an integer parameter of 1, 2 or 4 octets; ok is false if the
// parameter is absent or of another size.
func (ts TLVs) Uint(t Tag, size int) (uint32, bool) {
	v, ok := ts.Get(t)
	if !ok || len(v) != size {
		return 0, false
	}
	switch size {
	case 1:
		return uint32(v[0]), true
	case 2:
		return uint32(binary.BigEndian.Uint16(v)), true
	case 4:
		return binary.BigEndian.Uint32(v), true
	}
	return 0, false
}

// SetUint sets an integer parameter of 1, 2 or 4 octets.
func (ts *TLVs) SetUint(t Tag, size int, n uint32) {
	var v []byte
	switch size {
	case 1:
		v = []byte{byte(n)}
	case 2:
		v = binary.BigEndian.AppendUint16(nil, uint16(n))
	default:
		v = binary.BigEndian.AppendUint32(nil, n)
	}
	ts.Set(t, v)
}

// CString reads a C-Octet String parameter such as receipted_message_id. A
// missing terminating NUL, which some SMSCs leave out, is tolerated.
func (ts TLVs) CString(t Tag) (string, bool) {
	v, ok := ts.Get(t)
	if !ok {
		return "", false
	}
	if n := len(v); n > 0 && v[n-1] == 0 {
		v = v[:n-1]
	}
	for _, c := range v {
		if c == 0 {
			return "", false
		}
	}
	return string(v), true
}

// SetCString sets a C-Octet String parameter.
func (ts *TLVs) SetCString(t Tag, s string) {
	ts.Set(t, append([]byte(s), 0))
}

// MessageState is a message_state value (5.2.28).
type MessageState byte

const (
	StateEnroute       MessageState = 1
	StateDelivered     MessageState = 2
	StateExpired       MessageState = 3
	StateDeleted       MessageState = 4
	StateUndeliverable MessageState = 5
	StateAccepted      MessageState = 6
	StateUnknown       MessageState = 7
	StateRejected      MessageState = 8
)

var stateNames = map[MessageState]string{
	StateEnroute:       "ENROUTE",
	StateDelivered:     "DELIVERED",
	StateExpired:       "EXPIRED",
	StateDeleted:       "DELETED",
	StateUndeliverable: "UNDELIVERABLE",
	StateAccepted:      "ACCEPTED",
	StateUnknown:       "UNKNOWN",
	StateRejected:      "REJECTED",
}

func (s MessageState) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("state %d", byte(s))
}

// Final reports whether no further receipt follows a message in state s.
func (s MessageState) Final() bool {
	switch s {
	case StateDelivered, StateExpired, StateDeleted, StateUndeliverable, StateRejected:
		return true
	}
	return false
}

// NetworkError is the network_error_code parameter (5.3.2.31): the network
// type (1 ANSI-136, 2 IS-95, 3 GSM, ...) and its error code.
type NetworkError struct {
	Type byte
	Code uint16
}

func (e NetworkError) String() string { return fmt.Sprintf("%d/%d", e.Type, e.Code) }
