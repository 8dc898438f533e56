package smpp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

func TestEncodeKnownPDUs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		pdu  PDU
		wire string
	}{
		{"enquire_link", PDU{Command: EnquireLink, Sequence: 1}, "00000010 00000015 00000000 00000001"},
		{"generic_nack", PDU{Command: GenericNack, Status: StatusInvCmdID, Sequence: 7}, "00000010 80000000 00000003 00000007"},
		{"bind_transceiver", PDU{Command: BindTransceiver, Sequence: 2, Body: &Bind{SystemID: "test", Password: "pw", InterfaceVersion: 0x34}},
			"0000001D 00000009 00000000 00000002 7465737400 707700 00 34 00 00 00"},
		{"bind_transceiver_resp", PDU{Command: BindTransceiverResp, Sequence: 2, Body: &BindResp{SystemID: "SMSC", TLVs: TLVs{{Tag: TagSCInterfaceVersion, Value: []byte{0x34}}}}},
			"0000001A 80000009 00000000 00000002 534D534300 0210 0001 34"},
		{"submit_sm", PDU{Command: SubmitSM, Sequence: 3, Body: &ShortMessage{
			SourceTON: 5, Source: "Tidings", DestTON: 1, DestNPI: 1, Dest: "447700900123",
			RegisteredDelivery: 1, ShortMessage: []byte("Hi"),
		}}, "00000036 00000004 00000000 00000003 00 05 00 54696469 6E677300 01 01 34343737 30303930 3031323300 00 00 00 00 00 01 00 00 00 02 4869"},
		{"submit_sm_resp", PDU{Command: SubmitSMResp, Sequence: 3, Body: &MessageResp{MessageID: "abc"}}, "00000014 80000004 00000000 00000003 61626300"},
		{"submit_sm_resp error without body", PDU{Command: SubmitSMResp, Status: StatusThrottled, Sequence: 3}, "00000010 80000004 00000058 00000003"},
		{"deliver_sm_resp", PDU{Command: DeliverSMResp, Sequence: 9, Body: &MessageResp{}}, "00000011 80000005 00000000 00000009 00"},
		{"unbind", PDU{Command: Unbind, Sequence: 4}, "00000010 00000006 00000000 00000004"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.pdu.Encode()
			require.NoError(t, err)
			require.Equal(t, mustHex(t, tc.wire), b)
			back, err := DecodePDU(b)
			require.NoError(t, err)
			require.Equal(t, &tc.pdu, back)
		})
	}
}

func TestDecodeRejectsMalformedPDUs(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		wire   string
		status Status
	}{
		{"short header", "00000010 00000015 0000", StatusInvCmdLen},
		{"length disagrees", "00000011 00000015 00000000 00000001", StatusInvCmdLen},
		{"unknown command", "00000010 00000099 00000000 00000001", StatusInvCmdID},
		{"trailing octets", "00000011 00000015 00000000 00000001 00", StatusInvCmdLen},
		{"system_id not terminated", "00000014 00000009 00000000 00000002 74657374", StatusInvCmdLen},
		{"system_id too long", "LEN 00000009 00000000 00000002 3132333435363738393031323334353637 00 00 00 34 00 00 00", StatusInvParLen},
		{"short_message overruns", "LEN 00000004 00000000 00000003 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 05 4869", StatusInvMsgLen},
		{"tlv overruns", "LEN 80000009 00000000 00000002 5300 0210 0005 34", StatusInvOptParStream},
		{"tlv header truncated", "LEN 80000009 00000000 00000002 5300 0210 00", StatusInvOptParStream},
		{"ok submit_sm_resp without body", "00000010 80000004 00000000 00000003", StatusInvCmdLen},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wire := tc.wire
			if rest, ok := strings.CutPrefix(wire, "LEN "); ok {
				n := len(mustHex(t, rest)) + 4
				wire = fmt.Sprintf("%08X %s", n, rest)
			}
			_, err := DecodePDU(mustHex(t, wire))
			var de *DecodeError
			require.True(t, errors.As(err, &de), "got %v", err)
			require.Equal(t, tc.status, de.Status, de.Reason)
		})
	}
}

func TestReadPDURejectsHugeLength(t *testing.T) {
	t.Parallel()
	_, err := ReadPDU(bytes.NewReader(mustHex(t, "7FFFFFFF 00000015 00000000 00000001")))
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	require.Equal(t, StatusInvCmdLen, de.Status)

	_, err = ReadPDU(bytes.NewReader(mustHex(t, "00000020 00000015")))
	require.Error(t, err)
}

func TestEncodeRejectsBadFields(t *testing.T) {
	t.Parallel()
	_, err := (&PDU{Command: SubmitSM, Body: &ShortMessage{Dest: strings.Repeat("1", 21)}}).Encode()
	require.ErrorContains(t, err, "destination_addr")
	_, err = (&PDU{Command: SubmitSM, Body: &ShortMessage{ShortMessage: make([]byte, 255)}}).Encode()
	require.ErrorContains(t, err, "short_message")
	_, err = (&PDU{Command: SubmitSM, Body: &Bind{}}).Encode()
	require.Error(t, err)
	_, err = (&PDU{Command: SubmitSM}).Encode()
	require.ErrorContains(t, err, "needs a body")
	_, err = (&PDU{Command: BindTransceiver, Body: &Bind{SystemID: "a\x00b"}}).Encode()
	require.ErrorContains(t, err, "NUL")
}

func TestStatusNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, "ESME_RINVPASWD", StatusInvPaswd.String())
	require.Equal(t, "ESME_RTHROTTLED", StatusThrottled.String())
	require.Equal(t, "0x00000400", Status(0x400).String())
	require.True(t, StatusThrottled.Temporary())
	require.False(t, StatusInvDstAdr.Temporary())
	err := error(&StatusError{Command: BindTransceiver, Status: StatusInvPaswd})
	require.EqualError(t, err, "smpp: bind_transceiver rejected with ESME_RINVPASWD")
	require.False(t, IsRetryable(err))
	require.True(t, IsRetryable(&StatusError{Command: SubmitSM, Status: StatusMsgQFul}))
}

func TestTLVAccessors(t *testing.T) {
	t.Parallel()
	var ts TLVs
	ts.SetUint(TagSARMsgRefNum, 2, 0x1234)
	ts.SetUint(TagMessageState, 1, uint32(StateDelivered))
	ts.SetCString(TagReceiptedMessageID, "m-1")
	n, ok := ts.Uint(TagSARMsgRefNum, 2)
	require.True(t, ok)
	require.EqualValues(t, 0x1234, n)
	_, ok = ts.Uint(TagSARMsgRefNum, 1) // wrong size
	require.False(t, ok)
	id, ok := ts.CString(TagReceiptedMessageID)
	require.True(t, ok)
	require.Equal(t, "m-1", id)
	ts.Set(TagReceiptedMessageID, []byte("m-2")) // no NUL, as some SMSCs send it
	id, _ = ts.CString(TagReceiptedMessageID)
	require.Equal(t, "m-2", id)
	require.Equal(t, "message_state", TagMessageState.String())
}
