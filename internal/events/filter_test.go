package events

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
)

func TestFilter(t *testing.T) {
	t.Parallel()
	bounce := `{"eventType":"Bounce","bounce":{"bounceType":"Permanent","recipients":["a@x.example","b@y.example"]},"n":3,"ok":true}`
	cases := []struct {
		policy string
		want   bool
	}{
		{`{"eventType":["Bounce","Complaint"]}`, true},
		{`{"eventType":["Delivery"]}`, false},
		{`{"eventType":["bounce"]}`, false},
		{`{"eventType":[{"equals-ignore-case":"bounce"}]}`, true},
		{`{"eventType":[{"prefix":"Bou"}]}`, true},
		{`{"eventType":[{"suffix":"nce"}]}`, true},
		{`{"eventType":[{"anything-but":["Open","Click"]}]}`, true},
		{`{"eventType":[{"anything-but":"Bounce"}]}`, false},
		{`{"bounce":{"bounceType":["Permanent"]}}`, true},
		{`{"bounce":{"bounceType":["Transient"]}}`, false},
		{`{"bounce":{"recipients":[{"suffix":"@y.example"}]}}`, true},
		{`{"bounce":{"recipients":["c@z.example"]}}`, false},
		{`{"mail":[{"exists":false}]}`, true},
		{`{"mail":[{"exists":true}]}`, false},
		{`{"bounce":{"nested":[{"exists":false}]}}`, true},
		{`{"n":[3]}`, true},
		{`{"n":[3.0]}`, true},
		{`{"n":["3"]}`, false},
		{`{"n":[{"numeric":[">",1,"<=",3]}]}`, true},
		{`{"n":[{"numeric":["<",3]}]}`, false},
		{`{"ok":[true]}`, true},
		{`{"ok":[false]}`, false},
		{`{"eventType":["Bounce"],"n":[4]}`, false}, // every key must match
		{`{"missing":["x"]}`, false},
	}
	for _, c := range cases {
		f, err := ParseFilter(c.policy)
		require.NoError(t, err, c.policy)
		require.Equal(t, c.want, f.Match([]byte(bounce)), c.policy)
	}
	f, err := ParseFilter(`{"eventType":["Bounce"]}`)
	require.NoError(t, err)
	require.False(t, f.Match([]byte("not json")), "a body that is not JSON matches no filter")
	require.False(t, f.Match([]byte(`["Bounce"]`)))
	require.True(t, (*Filter)(nil).Match([]byte("anything")))
}

func TestFilterInvalid(t *testing.T) {
	t.Parallel()
	for _, p := range []string{
		``, `[]`, `"x"`, `{}`, `{"a":"Bounce"}`, `{"a":[]}`, `{"a":{}}`, `{"a":[null]}`, `{"a":[["x"]]}`,
		`{"a":[{"prefix":1}]}`, `{"a":[{"exists":"yes"}]}`, `{"a":[{"numeric":[">"]}]}`, `{"a":[{"numeric":["!",1]}]}`,
		`{"a":[{"nope":"x"}]}`, `{"a":[{"prefix":"a","suffix":"b"}]}`, `{"a":[{"anything-but":[true]}]}`,
	} {
		_, err := ParseFilter(p)
		require.True(t, fault.Is(err, fault.Invalid), "%s: %v", p, err)
	}
}
