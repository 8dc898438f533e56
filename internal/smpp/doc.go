// Package smpp is a small SMPP 3.4 client (an ESME in the specification's
// words): PDU encoding and decoding with strict bounds checks, GSM 03.38 and
// UCS-2 text with concatenation, and a Client that binds to an SMSC, submits
// messages through a window of outstanding requests under a throughput limit,
// keeps the bind alive with enquire_link, reconnects with exponential backoff,
// and hands delivery receipts and mobile-originated messages to callbacks.
//
// Section numbers in comments refer to the SMPP v3.4 specification
// (issue 1.2, 1999).
//
// Text in data_coding 0 is sent as GSM 03.38 default-alphabet septets, one per
// octet (unpacked), which is what SMPP SMSCs expect unless configured
// otherwise; Config.GSMPacked switches to 7-bit packing for the SMSCs that
// want it.
package smpp
