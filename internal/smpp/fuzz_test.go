package smpp

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzDecodePDU checks that decoding never panics and that whatever decodes
// encodes again and decodes to the same PDU. Its seed corpus is in
// testdata/fuzz/FuzzDecodePDU; seedPDUs below are added too.
func FuzzDecodePDU(f *testing.F) {
	for _, p := range seedPDUs() {
		b, err := p.Encode()
		require.NoError(f, err)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePDU(b)
		if err != nil {
			return
		}
		out, err := p.Encode()
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", p, err)
		}
		back, err := DecodePDU(out)
		if err != nil {
			t.Fatalf("re-encoded PDU does not decode: %v", err)
		}
		require.Equal(t, p, back)
		// A second round is byte-exact: encoding is canonical.
		again, err := back.Encode()
		require.NoError(t, err)
		require.Equal(t, out, again)
	})
}

// seedPDUs is one PDU of each kind, with the optional parameters the client
// reads.
func seedPDUs() []*PDU {
	receipt := &ShortMessage{
		SourceTON: 1, SourceNPI: 1, Source: "447700900123", Dest: "Tidings",
		ESMClass:     ESMClassDeliveryReceipt,
		ShortMessage: []byte("id:abc sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Hello"),
	}
	receipt.TLVs.SetCString(TagReceiptedMessageID, "abc")
	receipt.TLVs.SetUint(TagMessageState, 1, uint32(StateDelivered))
	receipt.TLVs.Set(TagNetworkErrorCode, []byte{3, 0, 1})
	long := &ShortMessage{Source: "Tidings", Dest: "447700900123", ESMClass: ESMClassUDHI, DataCoding: DataCodingUCS2,
		ShortMessage: append(concatUDH(7, 2, 1), EncodeUCS2("Привет")...)}
	sar := &ShortMessage{Source: "1", Dest: "2"}
	sar.TLVs.SetUint(TagSARMsgRefNum, 2, 9)
	sar.TLVs.SetUint(TagSARTotalSegments, 1, 2)
	sar.TLVs.SetUint(TagSARSegmentSeqnum, 1, 1)
	sar.TLVs.SetUint(TagUserMessageReference, 2, 42)
	payload := &Data{Source: "1", Dest: "2"}
	payload.TLVs.Set(TagMessagePayload, make([]byte, 300))
	return []*PDU{
		{Command: BindTransceiver, Sequence: 1, Body: &Bind{SystemID: "tidings", Password: "secret", InterfaceVersion: 0x34}},
		{Command: BindTransmitter, Sequence: 1, Body: &Bind{SystemID: "t", AddressRange: "^44"}},
		{Command: BindReceiver, Sequence: 1, Body: &Bind{SystemID: "t"}},
		{Command: BindTransceiverResp, Sequence: 1, Body: &BindResp{SystemID: "SMSC", TLVs: TLVs{{Tag: TagSCInterfaceVersion, Value: []byte{0x34}}}}},
		{Command: BindTransceiverResp, Status: StatusInvPaswd, Sequence: 1},
		{Command: SubmitSM, Sequence: 2, Body: &ShortMessage{Source: "Tidings", Dest: "447700900123", RegisteredDelivery: 1, ShortMessage: []byte("Hello")}},
		{Command: SubmitSM, Sequence: 3, Body: long},
		{Command: SubmitSM, Sequence: 4, Body: sar},
		{Command: SubmitSMResp, Sequence: 2, Body: &MessageResp{MessageID: "abc"}},
		{Command: SubmitSMResp, Status: StatusThrottled, Sequence: 2},
		{Command: DeliverSM, Sequence: 5, Body: receipt},
		{Command: DeliverSMResp, Sequence: 5, Body: &MessageResp{}},
		{Command: DataSM, Sequence: 6, Body: payload},
		{Command: DataSMResp, Sequence: 6, Body: &MessageResp{MessageID: "d1"}},
		{Command: EnquireLink, Sequence: 7},
		{Command: EnquireLinkResp, Sequence: 7},
		{Command: Unbind, Sequence: 8},
		{Command: UnbindResp, Sequence: 8},
		{Command: GenericNack, Status: StatusInvCmdID, Sequence: 9},
	}
}

// FuzzInbound feeds deliver_sm and data_sm bodies to the inbound path
// (header parsing, receipt text, reassembly, decoding): it must not panic.
func FuzzInbound(f *testing.F) {
	for _, p := range seedPDUs() {
		if p.Command == DeliverSM || p.Command == DataSM || p.Command == SubmitSM {
			b, err := p.Encode()
			require.NoError(f, err)
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, packed bool) {
		p, err := DecodePDU(b)
		if err != nil {
			return
		}
		c := &Client{cfg: Config{GSMPacked: packed,
			OnReceipt: func(context.Context, Receipt) error { return nil },
			OnMessage: func(context.Context, Incoming) error { return nil },
		}, log: slog.New(slog.DiscardHandler), mo: newReassembler(time.Minute), ctx: context.Background()}
		if sm, ok := p.Body.(*ShortMessage); ok {
			p.Command = DeliverSM
			c.handleInbound(p)
			sm.ESMClass ^= ESMClassDeliveryReceipt
			c.handleInbound(p)
		} else if p.Command == DataSM {
			c.handleInbound(p)
		}
	})
}

func FuzzParseReceiptText(f *testing.F) {
	f.Add("id:0123456789 sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Hello")
	f.Add("ID:x stat:UNDELIV text:id:y")
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := ParseReceiptText(s)
		if !ok {
			require.Equal(t, Receipt{}, r)
		}
	})
}
