package smithy

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRender(t *testing.T) {
	t.Parallel()
	type inner struct {
		Name   *string
		Secret *string `sensitive:"true"`
		Count  *int64
	}
	name, secret, n := "n", "hunter2", int64(3)
	tests := []struct {
		in        any
		sensitive bool
		want      string
	}{
		{nil, false, "null"},
		{(*string)(nil), false, "null"},
		{"abc", false, "'abc'"},
		{"abc", true, "'***'"},
		{int64(-4), false, "-4"},
		{1.5, false, "1.5"},
		{true, false, "true"},
		{[]string{}, false, "'[]'"},
		{[]string{"a", "b"}, false, "'[a, b]'"},
		{map[string]int64{"b": 2, "a": 1}, false, "'{a=1, b=2}'"},
		{[]byte("xyz"), false, "'<3 bytes>'"},
		{[]inner{{Name: &name, Secret: &secret, Count: &n}, {}}, false, "'[{Name=n, Secret=***, Count=3}, {}]'"},
		{NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), false, "'2024-01-02T03:04:05.000Z'"},
		{strings.Repeat("é", 300), false, "'" + strings.Repeat("é", 256) + "...'"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Render(tt.in, tt.sensitive), "%#v", tt.in)
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	v := new(ValidationError)
	require.NoError(t, v.Err())

	v.StringMaxLen("a", strings.Repeat("é", 3), 3, false) // 3 characters, 6 bytes: fine
	v.StringMaxLen("b", "abcd", 3, false)
	v.StringMinLen("c", "é", 2, true)
	v.FloatMin("d", 0.25, 0.5, "0.5")
	v.ExactlyOne("e", []string{"A", "B", "C"}, true, false, true)
	v.ExactlyOne("f", []string{"A", "B"}, false, true) // fine
	Enum(v, "g", "X", []string{"A", "B"}, false)
	keyErrs := new(ValidationError)
	keyErrs.StringMaxLen("", "long", 2, false)
	v.MapKey("h", "long", keyErrs, false)
	v.MapKey("i", "ok", new(ValidationError), false) // no key violation
	v.MinLen(MemberPath("", "j"), []string{}, 0, 1, false)
	v.Required(ElemPath(MemberPath("k", "l"), 0))
	v.Required(KeyPath("m", "key"))

	require.Equal(t, []Violation{
		{Path: "b", Value: "'abcd'", Constraint: "Member must have length less than or equal to 3"},
		{Path: "c", Value: "'***'", Constraint: "Member must have length greater than or equal to 2"},
		{Path: "d", Value: "0.25", Constraint: "Member must have value greater than or equal to 0.5"},
		{Path: "e", Value: "'{A, C}'", Constraint: "Member must have exactly one member set"},
		{Path: "g", Value: "'X'", Constraint: "Member must satisfy enum value set: [A, B]"},
		{Path: "h", Value: "'long'", Constraint: "Map keys must satisfy constraint: [Member must have length less than or equal to 2]"},
		{Path: "j", Value: "'[]'", Constraint: "Member must have length greater than or equal to 1"},
		{Path: "k.l.1.member", Value: "null", Constraint: "Member must not be null"},
		{Path: "m.key.member", Value: "null", Constraint: "Member must not be null"},
	}, v.Violations)
	require.Equal(t, []string{"a", "b"}, SortedKeys(map[string]int{"b": 1, "a": 2}))
}
