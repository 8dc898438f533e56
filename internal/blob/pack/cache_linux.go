package pack

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCache asks the kernel to drop the cached pages of f that are on
// disk. Archived mail is written once and seldom read: kept in the page
// cache, an ingest of more mail than memory pushed the database's pages
// (the index that searches read) out of it, and the first searches after
// read them from the disk. Pages still dirty stay (their writeback is
// started).
func dropCache(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}
