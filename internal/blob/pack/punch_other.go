//go:build !linux

package pack

import "os"

// Where hole punching is not available, freeing does nothing: the space
// of freed objects comes back when their segment is deleted by hand.

func punch(*os.File, int64, int64) (supported bool, err error) { return false, nil }
func trim(*os.File, int64, int64) (empty bool, err error)      { return false, nil }
func dataRanges(*os.File) ([][2]int64, error)                  { return nil, nil }
