package fs_test

import (
	"testing"

	"github.com/tidings/tidings/internal/blob"
	"github.com/tidings/tidings/internal/blob/blobtest"
	"github.com/tidings/tidings/internal/blob/fs"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := fs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
