package archive

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseJournalReport(t *testing.T) {
	t.Parallel()
	r, ok := parseJournalReport("Sender: \"A\" <a@x.example>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <1@x>\r\n" +
		"To: b@x.example\r\nTO: B@X.example\r\nCc: c@x.example, Expanded: list@x.example\r\n" +
		"Bcc: <d@x.example>, Forwarded: e@x.example\r\nRecipient: f@x.example\r\nOn-Behalf-Of: g@x.example\r\n" +
		"Sender: second@x.example\r\nnot a field\r\n")
	require.True(t, ok)
	require.Equal(t, "a@x.example", r.sender)
	require.Equal(t, "Grüße", r.subject)
	require.Equal(t, "<1@x>", r.messageID)
	require.Equal(t, []string{"b@x.example", "c@x.example", "list@x.example", "d@x.example", "e@x.example", "f@x.example"}, r.recipients)
	require.Equal(t, []string{"d@x.example"}, r.bcc)

	for _, text := range []string{
		"",
		"Sender: a@x\r\nMessage-ID: <1@x>\r\n",   // no recipient
		"Sender: a@x\r\nTo: b@x\r\n",             // no Message-ID
		"Message-ID: <1@x>\r\nTo: b@x\r\n",       // no Sender
		"Hello,\r\nplease see the attached.\r\n", // ordinary text
	} {
		_, ok := parseJournalReport(text)
		require.False(t, ok, text)
	}
}

func FuzzParseJournalReport(f *testing.F) {
	f.Add("Sender: a@x\r\nMessage-ID: <1@x>\r\nTo: b@x, Expanded: c@x\r\n")
	f.Add("Bcc: ,\r\nRecipient: <>, Forwarded:\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		r, ok := parseJournalReport(text)
		if ok && (r.sender == "" || len(r.recipients) == 0) {
			t.Fatalf("ok without sender or recipients: %+v", r)
		}
		for _, a := range r.recipients {
			if a == "" {
				t.Fatal("empty recipient")
			}
		}
	})
}
