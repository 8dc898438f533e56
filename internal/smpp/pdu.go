package smpp

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// CommandID is a command_id value (5.1.2).
type CommandID uint32

// The command_ids this package encodes and decodes (5.1.2.1).
const (
	GenericNack         CommandID = 0x80000000
	BindReceiver        CommandID = 0x00000001
	BindReceiverResp    CommandID = 0x80000001
	BindTransmitter     CommandID = 0x00000002
	BindTransmitterResp CommandID = 0x80000002
	SubmitSM            CommandID = 0x00000004
	SubmitSMResp        CommandID = 0x80000004
	DeliverSM           CommandID = 0x00000005
	DeliverSMResp       CommandID = 0x80000005
	Unbind              CommandID = 0x00000006
	UnbindResp          CommandID = 0x80000006
	BindTransceiver     CommandID = 0x00000009
	BindTransceiverResp CommandID = 0x80000009
	EnquireLink         CommandID = 0x00000015
	EnquireLinkResp     CommandID = 0x80000015
	DataSM              CommandID = 0x00000103
	DataSMResp          CommandID = 0x80000103
)

var commandNames = map[CommandID]string{
	GenericNack:         "generic_nack",
	BindReceiver:        "bind_receiver",
	BindReceiverResp:    "bind_receiver_resp",
	BindTransmitter:     "bind_transmitter",
	BindTransmitterResp: "bind_transmitter_resp",
	SubmitSM:            "submit_sm",
	SubmitSMResp:        "submit_sm_resp",
	DeliverSM:           "deliver_sm",
	DeliverSMResp:       "deliver_sm_resp",
	Unbind:              "unbind",
	UnbindResp:          "unbind_resp",
	BindTransceiver:     "bind_transceiver",
	BindTransceiverResp: "bind_transceiver_resp",
	EnquireLink:         "enquire_link",
	EnquireLinkResp:     "enquire_link_resp",
	DataSM:              "data_sm",
	DataSMResp:          "data_sm_resp",
}

func (c CommandID) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return fmt.Sprintf("command 0x%08X", uint32(c))
}

// IsResponse reports whether c is a response command (bit 31 set, 5.1.2.1).
func (c CommandID) IsResponse() bool { return c&0x80000000 != 0 }

// Response is the command_id answering c.
func (c CommandID) Response() CommandID { return c | 0x80000000 }

// InterfaceVersion is the interface_version this client binds with (5.2.4).
const InterfaceVersion = 0x34

const (
	headerLen = 16
	// MaxPDULen bounds command_length. The specification sets no limit; a
	// PDU carrying a full 64 KB message_payload stays well below it.
	MaxPDULen = 70000
)

// Limits on C-Octet String fields, counting the terminating NUL (4.1 to 4.4).
const (
	maxSystemID     = 16
	maxPassword     = 9
	maxSystemType   = 13
	maxServiceType  = 6
	maxAddr         = 21
	maxAddressRange = 41
	maxTime         = 17
	maxMessageID    = 65
	maxShortMessage = 254
)

// PDU is one SMPP protocol data unit: the header (3.2) and a body that
// depends on the command.
type PDU struct {
	Command  CommandID
	Status   Status
	Sequence uint32
	// Body is *Bind, *BindResp, *ShortMessage (submit_sm, deliver_sm),
	// *MessageResp (submit_sm_resp, deliver_sm_resp, data_sm_resp) or *Data
	// (data_sm); nil for the commands without a body (unbind, unbind_resp,
	// enquire_link, enquire_link_resp, generic_nack) and for responses sent
	// without one.
	Body any
}

// Bind is the body of bind_transmitter, bind_receiver and bind_transceiver
// (4.1.1, 4.1.3, 4.1.5).
type Bind struct {
	SystemID         string
	Password         string
	SystemType       string
	InterfaceVersion byte
	AddrTON          byte
	AddrNPI          byte
	AddressRange     string
}

// BindResp is the body of the bind responses (4.1.2): the SMSC's system_id
// and optionally sc_interface_version.
type BindResp struct {
	SystemID string
	TLVs     TLVs
}

// ShortMessage is the body of submit_sm (4.4.1) and deliver_sm (4.6.1),
// which share one layout.
type ShortMessage struct {
	ServiceType          string
	SourceTON            byte
	SourceNPI            byte
	Source               string
	DestTON              byte
	DestNPI              byte
	Dest                 string
	ESMClass             byte
	ProtocolID           byte
	PriorityFlag         byte
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   byte
	ReplaceIfPresent     byte
	DataCoding           byte
	SMDefaultMsgID       byte
	// ShortMessage is at most 254 octets; longer content travels in the
	// message_payload TLV with ShortMessage empty (5.3.2.32).
	ShortMessage []byte
	TLVs         TLVs
}

// MessageResp is the body of submit_sm_resp (4.4.2), deliver_sm_resp (4.6.2)
// and data_sm_resp (4.7.2).
type MessageResp struct {
	MessageID string
	TLVs      TLVs // data_sm_resp only
}

// Data is the body of data_sm (4.7.1).
type Data struct {
	ServiceType        string
	SourceTON          byte
	SourceNPI          byte
	Source             string
	DestTON            byte
	DestNPI            byte
	Dest               string
	ESMClass           byte
	RegisteredDelivery byte
	DataCoding         byte
	TLVs               TLVs
}

// esm_class bits (5.2.12).
const (
	ESMClassTypeMask        = 0x3C
	ESMClassDeliveryReceipt = 0x04 // SMSC delivery receipt
	ESMClassIntermediate    = 0x20 // intermediate delivery notification
	ESMClassUDHI            = 0x40 // short_message begins with a user data header
)

// registered_delivery values (5.2.17).
const (
	RegisteredDeliveryNone      = 0x00
	RegisteredDeliveryAlways    = 0x01 // receipt on final success or failure
	RegisteredDeliveryOnFailure = 0x02
)

// DecodeError is a PDU that breaks the specification. Command and Sequence
// are set when the header could be read, so the peer can be answered with a
// generic_nack or an error response carrying Status.
type DecodeError struct {
	Command  CommandID
	Sequence uint32
	Status   Status // the command_status to answer with
	Reason   string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("smpp: invalid %s PDU: %s", e.Command, e.Reason)
}

// ReadPDU reads one PDU from r. A *DecodeError for a PDU whose length was
// valid leaves r positioned at the next PDU; any other error means the stream
// cannot be trusted any more.
func ReadPDU(r io.Reader) (*PDU, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < headerLen || n > MaxPDULen {
		return nil, &DecodeError{Status: StatusInvCmdLen, Reason: fmt.Sprintf("command_length %d out of range", n)}
	}
	buf := make([]byte, n)
	copy(buf, hdr[:])
	if _, err := io.ReadFull(r, buf[4:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return DecodePDU(buf)
}

// DecodePDU decodes exactly one PDU from b.
func DecodePDU(b []byte) (*PDU, error) {
	if len(b) < headerLen {
		return nil, &DecodeError{Status: StatusInvCmdLen, Reason: fmt.Sprintf("%d octets is shorter than a header", len(b))}
	}
	n := binary.BigEndian.Uint32(b)
	p := &PDU{
		Command:  CommandID(binary.BigEndian.Uint32(b[4:])),
		Status:   Status(binary.BigEndian.Uint32(b[8:])),
		Sequence: binary.BigEndian.Uint32(b[12:]),
	}
	fail := func(st Status, format string, args ...any) (*PDU, error) {
		return p, &DecodeError{Command: p.Command, Sequence: p.Sequence, Status: st, Reason: fmt.Sprintf(format, args...)}
	}
	if int64(n) != int64(len(b)) || n > MaxPDULen {
		return fail(StatusInvCmdLen, "command_length %d but %d octets", n, len(b))
	}
	if _, ok := commandNames[p.Command]; !ok {
		return fail(StatusInvCmdID, "unknown command_id")
	}
	r := &reader{b: b[headerLen:]}
	switch p.Command {
	case BindReceiver, BindTransmitter, BindTransceiver:
		body := &Bind{}
		body.SystemID = r.cstring(maxSystemID, "system_id")
		body.Password = r.cstring(maxPassword, "password")
		body.SystemType = r.cstring(maxSystemType, "system_type")
		body.InterfaceVersion = r.byte("interface_version")
		body.AddrTON = r.byte("addr_ton")
		body.AddrNPI = r.byte("addr_npi")
		body.AddressRange = r.cstring(maxAddressRange, "address_range")
		p.Body = body
	case BindReceiverResp, BindTransmitterResp, BindTransceiverResp:
		// 4.1.2: the body may be left out of an error response.
		if len(r.b) > 0 || p.Status == StatusOK {
			body := &BindResp{}
			body.SystemID = r.cstring(maxSystemID, "system_id")
			body.TLVs = r.tlvs()
			p.Body = body
		}
	case SubmitSM, DeliverSM:
		body := &ShortMessage{}
		r.addresses(&body.ServiceType, &body.SourceTON, &body.SourceNPI, &body.Source, &body.DestTON, &body.DestNPI, &body.Dest)
		body.ESMClass = r.byte("esm_class")
		body.ProtocolID = r.byte("protocol_id")
		body.PriorityFlag = r.byte("priority_flag")
		body.ScheduleDeliveryTime = r.cstring(maxTime, "schedule_delivery_time")
		body.ValidityPeriod = r.cstring(maxTime, "validity_period")
		body.RegisteredDelivery = r.byte("registered_delivery")
		body.ReplaceIfPresent = r.byte("replace_if_present_flag")
		body.DataCoding = r.byte("data_coding")
		body.SMDefaultMsgID = r.byte("sm_default_msg_id")
		smLen := int(r.byte("sm_length"))
		if r.err == nil && smLen > maxShortMessage {
			return fail(StatusInvMsgLen, "sm_length %d over %d", smLen, maxShortMessage)
		}
		body.ShortMessage = r.bytes(smLen, "short_message")
		body.TLVs = r.tlvs()
		p.Body = body
	case SubmitSMResp, DeliverSMResp, DataSMResp:
		if len(r.b) > 0 || (p.Status == StatusOK && p.Command != DeliverSMResp) {
			body := &MessageResp{}
			body.MessageID = r.cstring(maxMessageID, "message_id")
			if p.Command == DataSMResp {
				body.TLVs = r.tlvs()
			}
			p.Body = body
		}
	case DataSM:
		body := &Data{}
		r.addresses(&body.ServiceType, &body.SourceTON, &body.SourceNPI, &body.Source, &body.DestTON, &body.DestNPI, &body.Dest)
		body.ESMClass = r.byte("esm_class")
		body.RegisteredDelivery = r.byte("registered_delivery")
		body.DataCoding = r.byte("data_coding")
		body.TLVs = r.tlvs()
		p.Body = body
	}
	if r.err != nil {
		return fail(r.status, "%v", r.err)
	}
	if len(r.b) != 0 {
		return fail(StatusInvCmdLen, "%d octets after the body", len(r.b))
	}
	return p, nil
}

// Encode returns the wire form of p, with command_length filled in. It fails
// on a body of the wrong type for the command or a field over its limit.
func (p *PDU) Encode() ([]byte, error) {
	w := &writer{b: make([]byte, headerLen, 64)}
	switch body := p.Body.(type) {
	case nil:
	case *Bind:
		if !isBind(p.Command) {
			return nil, p.wrongBody()
		}
		w.cstring(body.SystemID, maxSystemID, "system_id")
		w.cstring(body.Password, maxPassword, "password")
		w.cstring(body.SystemType, maxSystemType, "system_type")
		w.b = append(w.b, body.InterfaceVersion, body.AddrTON, body.AddrNPI)
		w.cstring(body.AddressRange, maxAddressRange, "address_range")
	case *BindResp:
		if !isBind(p.Command&^0x80000000) || !p.Command.IsResponse() {
			return nil, p.wrongBody()
		}
		w.cstring(body.SystemID, maxSystemID, "system_id")
		w.tlvs(body.TLVs)
	case *ShortMessage:
		if p.Command != SubmitSM && p.Command != DeliverSM {
			return nil, p.wrongBody()
		}
		w.addresses(body.ServiceType, body.SourceTON, body.SourceNPI, body.Source, body.DestTON, body.DestNPI, body.Dest)
		w.b = append(w.b, body.ESMClass, body.ProtocolID, body.PriorityFlag)
		w.cstring(body.ScheduleDeliveryTime, maxTime, "schedule_delivery_time")
		w.cstring(body.ValidityPeriod, maxTime, "validity_period")
		w.b = append(w.b, body.RegisteredDelivery, body.ReplaceIfPresent, body.DataCoding, body.SMDefaultMsgID)
		if len(body.ShortMessage) > maxShortMessage {
			w.fail("short_message of %d octets over %d", len(body.ShortMessage), maxShortMessage)
		}
		w.b = append(w.b, byte(len(body.ShortMessage)))
		w.b = append(w.b, body.ShortMessage...)
		w.tlvs(body.TLVs)
	case *MessageResp:
		if p.Command != SubmitSMResp && p.Command != DeliverSMResp && p.Command != DataSMResp {
			return nil, p.wrongBody()
		}
		w.cstring(body.MessageID, maxMessageID, "message_id")
		if p.Command == DataSMResp {
			w.tlvs(body.TLVs)
		} else if len(body.TLVs) > 0 {
			w.fail("%s has no optional parameters", p.Command)
		}
	case *Data:
		if p.Command != DataSM {
			return nil, p.wrongBody()
		}
		w.addresses(body.ServiceType, body.SourceTON, body.SourceNPI, body.Source, body.DestTON, body.DestNPI, body.Dest)
		w.b = append(w.b, body.ESMClass, body.RegisteredDelivery, body.DataCoding)
		w.tlvs(body.TLVs)
	default:
		return nil, p.wrongBody()
	}
	if p.Body == nil && hasMandatoryBody(p.Command) && (p.Status == StatusOK || !p.Command.IsResponse()) {
		return nil, fmt.Errorf("smpp: %s needs a body", p.Command)
	}
	if w.err != nil {
		return nil, fmt.Errorf("smpp: encoding %s: %w", p.Command, w.err)
	}
	if len(w.b) > MaxPDULen {
		return nil, fmt.Errorf("smpp: %s of %d octets over %d", p.Command, len(w.b), MaxPDULen)
	}
	binary.BigEndian.PutUint32(w.b[0:], uint32(len(w.b)))
	binary.BigEndian.PutUint32(w.b[4:], uint32(p.Command))
	binary.BigEndian.PutUint32(w.b[8:], uint32(p.Status))
	binary.BigEndian.PutUint32(w.b[12:], p.Sequence)
	return w.b, nil
}

func (p *PDU) wrongBody() error {
	return fmt.Errorf("smpp: %s cannot carry a %T body", p.Command, p.Body)
}

func isBind(c CommandID) bool {
	return c == BindReceiver || c == BindTransmitter || c == BindTransceiver
}

// hasMandatoryBody reports whether c has mandatory parameters. deliver_sm_resp
// carries an (unused) message_id; a nil body there encodes as an empty one.
func hasMandatoryBody(c CommandID) bool {
	switch c {
	case BindReceiver, BindTransmitter, BindTransceiver, SubmitSM, DeliverSM, DataSM,
		BindReceiverResp, BindTransmitterResp, BindTransceiverResp, SubmitSMResp, DataSMResp:
		return true
	}
	return false
}

// reader consumes a PDU body; the first error sticks and later reads return
// zero values, so decoders read straight through and check once.
type reader struct {
	b      []byte
	err    error
	status Status
}

func (r *reader) setErr(st Status, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
		r.status = st
	}
}

func (r *reader) byte(field string) byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.setErr(StatusInvCmdLen, "body ends before %s", field)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// cstring reads a C-Octet String of at most max octets including its NUL
// (3.1).
func (r *reader) cstring(max int, field string) string {
	if r.err != nil {
		return ""
	}
	i := 0
	for i < len(r.b) && i < max && r.b[i] != 0 {
		i++
	}
	if i == len(r.b) {
		r.setErr(StatusInvCmdLen, "%s is not NUL-terminated", field)
		return ""
	}
	if i == max {
		r.setErr(StatusInvParLen, "%s longer than %d octets", field, max-1)
		return ""
	}
	s := string(r.b[:i])
	r.b = r.b[i+1:]
	return s
}

// addresses reads the service_type and the source and destination
// addresses that submit_sm, deliver_sm and data_sm begin with.
func (r *reader) addresses(serviceType *string, srcTON, srcNPI *byte, src *string, dstTON, dstNPI *byte, dst *string) {
	*serviceType = r.cstring(maxServiceType, "service_type")
	*srcTON = r.byte("source_addr_ton")
	*srcNPI = r.byte("source_addr_npi")
	*src = r.cstring(maxAddr, "source_addr")
	*dstTON = r.byte("dest_addr_ton")
	*dstNPI = r.byte("dest_addr_npi")
	*dst = r.cstring(maxAddr, "destination_addr")
}

func (r *reader) bytes(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.setErr(StatusInvMsgLen, "body ends inside %s", field)
		return nil
	}
	out := make([]byte, n)
	copy(out, r.b[:n])
	r.b = r.b[n:]
	if n == 0 {
		return nil
	}
	return out
}

// tlvs reads the optional parameters that fill the rest of the body (3.2.3).
func (r *reader) tlvs() TLVs {
	var out TLVs
	for r.err == nil && len(r.b) > 0 {
		if len(r.b) < 4 {
			r.setErr(StatusInvOptParStream, "truncated optional parameter header")
			return nil
		}
		tag := Tag(binary.BigEndian.Uint16(r.b))
		n := int(binary.BigEndian.Uint16(r.b[2:]))
		if len(r.b)-4 < n {
			r.setErr(StatusInvOptParStream, "optional parameter %s of %d octets overruns the PDU", tag, n)
			return nil
		}
		v := make([]byte, n)
		copy(v, r.b[4:4+n])
		out = append(out, TLV{Tag: tag, Value: v})
		r.b = r.b[4+n:]
	}
	return out
}

type writer struct {
	b   []byte
	err error
}

func (w *writer) fail(format string, args ...any) {
	if w.err == nil {
		w.err = fmt.Errorf(format, args...)
	}
}

func (w *writer) cstring(s string, max int, field string) {
	if len(s) > max-1 {
		w.fail("%s longer than %d octets", field, max-1)
	}
	if strings.IndexByte(s, 0) >= 0 {
		w.fail("%s contains a NUL", field)
	}
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
}

func (w *writer) addresses(serviceType string, srcTON, srcNPI byte, src string, dstTON, dstNPI byte, dst string) {
	w.cstring(serviceType, maxServiceType, "service_type")
	w.b = append(w.b, srcTON, srcNPI)
	w.cstring(src, maxAddr, "source_addr")
	w.b = append(w.b, dstTON, dstNPI)
	w.cstring(dst, maxAddr, "destination_addr")
}

func (w *writer) tlvs(ts TLVs) {
	for _, t := range ts {
		if len(t.Value) > 0xFFFF {
			w.fail("optional parameter %s of %d octets", t.Tag, len(t.Value))
			return
		}
		w.b = binary.BigEndian.AppendUint16(w.b, uint16(t.Tag))
		w.b = binary.BigEndian.AppendUint16(w.b, uint16(len(t.Value)))
		w.b = append(w.b, t.Value...)
	}
}
