package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tidings/tidings/internal/fault"
	"github.com/tidings/tidings/internal/store"
	"github.com/tidings/tidings/internal/templates"
)

// RunTemplates runs the conformance suite of templates.Store; open returns
// a fresh, empty database for each test.
func RunTemplates(t *testing.T, open func(t *testing.T) *store.DB) {
	tests := []struct {
		name string
		fn   func(t *testing.T, ctx context.Context, st templates.Store)
	}{
		{"CreateGet", testTemplatesCreateGet},
		{"Update", testTemplatesUpdate},
		{"UpdateTags", testTemplatesUpdateTags},
		{"Delete", testTemplatesDelete},
		{"List", testTemplatesList},
		{"Quota", testTemplatesQuota},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			t.Cleanup(cancel)
			tt.fn(t, ctx, open(t).Templates())
		})
	}
}

func testTemplatesUpdateTags(t *testing.T, ctx context.Context, st templates.Store) {
	in := &templates.Template{AccountID: "111111111111", Name: "tagged", Subject: "s", Text: "t",
		Tags: []templates.Tag{{Key: "team", Value: "growth"}}}
	require.NoError(t, st.CreateTemplate(ctx, in, 10))
	err := st.UpdateTemplateTags(ctx, "111111111111", "tagged", func(have []templates.Tag) ([]templates.Tag, error) {
		require.Equal(t, in.Tags, have)
		return append(have, templates.Tag{Key: "env", Value: "prod"}), nil
	})
	require.NoError(t, err)
	got, err := st.GetTemplate(ctx, "111111111111", "tagged")
	require.NoError(t, err)
	require.Equal(t, []templates.Tag{{Key: "team", Value: "growth"}, {Key: "env", Value: "prod"}}, got.Tags)
	require.Equal(t, in.UpdatedAt, got.UpdatedAt, "tagging is not an update of the template")

	refused := fault.Invalidf("no")
	err = st.UpdateTemplateTags(ctx, "111111111111", "tagged", func([]templates.Tag) ([]templates.Tag, error) { return nil, refused })
	require.ErrorIs(t, err, refused)
	got, err = st.GetTemplate(ctx, "111111111111", "tagged")
	require.NoError(t, err)
	require.Len(t, got.Tags, 2, "unchanged when fn fails")

	err = st.UpdateTemplateTags(ctx, "111111111111", "tagged", func([]templates.Tag) ([]templates.Tag, error) { return nil, nil })
	require.NoError(t, err)
	got, err = st.GetTemplate(ctx, "111111111111", "tagged")
	require.NoError(t, err)
	require.Empty(t, got.Tags)

	err = st.UpdateTemplateTags(ctx, "222222222222", "tagged", func(have []templates.Tag) ([]templates.Tag, error) { return have, nil })
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

func testTemplatesCreateGet(t *testing.T, ctx context.Context, st templates.Store) {
	in := &templates.Template{AccountID: "111111111111", Name: "welcome", Subject: "Hi {{name}}",
		HTML: "<p>Olá {{name}} 🎉</p>", Text: "Hi {{name}}", Tags: []templates.Tag{{Key: "team", Value: "growth"}}}
	before := time.Now().Add(-time.Second)
	require.NoError(t, st.CreateTemplate(ctx, in, 10))
	require.True(t, in.CreatedAt.After(before))
	require.Equal(t, in.CreatedAt, in.UpdatedAt)

	got, err := st.GetTemplate(ctx, "111111111111", "welcome")
	require.NoError(t, err)
	require.Equal(t, in, got)

	// Names are per account and case-sensitive.
	_, err = st.GetTemplate(ctx, "222222222222", "welcome")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	_, err = st.GetTemplate(ctx, "111111111111", "Welcome")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	require.Equal(t, "Template Welcome does not exist.", err.Error())

	dup := *in
	dup.Subject = "other"
	err = st.CreateTemplate(ctx, &dup, 10)
	require.True(t, fault.Is(err, fault.Conflict), "%v", err)
	got, err = st.GetTemplate(ctx, "111111111111", "welcome")
	require.NoError(t, err)
	require.Equal(t, "Hi {{name}}", got.Subject, "a refused create changes nothing")

	other := &templates.Template{AccountID: "222222222222", Name: "welcome"}
	require.NoError(t, st.CreateTemplate(ctx, other, 10))
	got, err = st.GetTemplate(ctx, "222222222222", "welcome")
	require.NoError(t, err)
	require.Empty(t, got.Tags)
	require.Empty(t, got.HTML)
}

func testTemplatesUpdate(t *testing.T, ctx context.Context, st templates.Store) {
	in := &templates.Template{AccountID: "1", Name: "t", Subject: "s1", HTML: "h1", Text: "t1", Tags: []templates.Tag{{Key: "k", Value: "v"}}}
	require.NoError(t, st.CreateTemplate(ctx, in, 10))
	up := &templates.Template{AccountID: "1", Name: "t", Subject: "s2", Text: "t2"}
	require.NoError(t, st.UpdateTemplate(ctx, up))
	got, err := st.GetTemplate(ctx, "1", "t")
	require.NoError(t, err)
	require.Equal(t, "s2", got.Subject)
	require.Equal(t, "", got.HTML)
	require.Equal(t, "t2", got.Text)
	require.Equal(t, in.Tags, got.Tags, "tags are kept")
	require.Equal(t, in.CreatedAt, got.CreatedAt)
	require.False(t, got.UpdatedAt.Before(got.CreatedAt))

	err = st.UpdateTemplate(ctx, &templates.Template{AccountID: "2", Name: "t"})
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
}

func testTemplatesDelete(t *testing.T, ctx context.Context, st templates.Store) {
	require.NoError(t, st.CreateTemplate(ctx, &templates.Template{AccountID: "1", Name: "t"}, 10))
	err := st.DeleteTemplate(ctx, "2", "t")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	require.NoError(t, st.DeleteTemplate(ctx, "1", "t"))
	_, err = st.GetTemplate(ctx, "1", "t")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	err = st.DeleteTemplate(ctx, "1", "t")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	// The name is free again.
	require.NoError(t, st.CreateTemplate(ctx, &templates.Template{AccountID: "1", Name: "t"}, 10))
}

func testTemplatesList(t *testing.T, ctx context.Context, st templates.Store) {
	// Byte order: upper case before lower case, "-" before digits.
	names := []string{"b", "B", "a-1", "a1", "a_1", "Z", "zz"}
	for _, n := range names {
		require.NoError(t, st.CreateTemplate(ctx, &templates.Template{AccountID: "1", Name: n, HTML: "body"}, 100))
	}
	require.NoError(t, st.CreateTemplate(ctx, &templates.Template{AccountID: "2", Name: "other"}, 100))
	want := []string{"B", "Z", "a-1", "a1", "a_1", "b", "zz"}
	var got []string
	after := ""
	for {
		page, err := st.ListTemplates(ctx, "1", after, 3)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 3)
		for _, tp := range page {
			require.Empty(t, tp.HTML, "a listing carries no parts")
			require.False(t, tp.CreatedAt.IsZero())
			got = append(got, tp.Name)
		}
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].Name
	}
	require.Equal(t, want, got)
	none, err := st.ListTemplates(ctx, "3", "", 10)
	require.NoError(t, err)
	require.Empty(t, none)
}

func testTemplatesQuota(t *testing.T, ctx context.Context, st templates.Store) {
	for i := range 3 {
		require.NoError(t, st.CreateTemplate(ctx, &templates.Template{AccountID: "1", Name: fmt.Sprint("t", i)}, 3))
	}
	err := st.CreateTemplate(ctx, &templates.Template{AccountID: "1", Name: "t3"}, 3)
	require.True(t, fault.Is(err, fault.QuotaExceeded), "%v", err)
	// A taken name is a conflict even at the quota.
	err = st.CreateTemplate(ctx, &templates.Template{AccountID: "1", Name: "t0"}, 3)
	require.True(t, fault.Is(err, fault.Conflict), "%v", err)
	_, err = st.GetTemplate(ctx, "1", "t3")
	require.True(t, fault.Is(err, fault.NotFound), "%v", err)
	// The quota is per account.
	require.NoError(t, st.CreateTemplate(ctx, &templates.Template{AccountID: "2", Name: "t3"}, 3))
	require.NoError(t, st.DeleteTemplate(ctx, "1", "t0"))
	require.NoError(t, st.CreateTemplate(ctx, &templates.Template{AccountID: "1", Name: "t3"}, 3))
}
