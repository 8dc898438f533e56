package pack

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// canPunch tells whether the file system of dir frees punched ranges.
func canPunch(t *testing.T, dir string) bool {
	f, err := os.CreateTemp(dir, "punch")
	require.NoError(t, err)
	defer os.Remove(f.Name())
	defer f.Close()
	_, err = f.Write(make([]byte, 8192))
	require.NoError(t, err)
	ok, err := punch(f, 0, 8192)
	return ok && err == nil
}
