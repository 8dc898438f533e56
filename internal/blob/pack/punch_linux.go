package pack

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// block is the granularity of hole punching assumed when trimming the
// partial blocks at the ends of a freed range.
const block = 4096

const punchMode = unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE

// punch frees [off, off+n) of f. The file system frees the whole blocks
// of the range and zeroes the partial ones at its ends.
func punch(f *os.File, off, n int64) (supported bool, err error) {
	if err := unix.Fallocate(int(f.Fd()), punchMode, off, n); err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
			return false, nil // space comes back only when the segment goes
		}
		return false, err
	}
	return true, nil
}

// trim punches the blocks of [off, off+n) of a sealed segment that hold
// only zeros and tells whether f has no data left. Punching an all-zero
// block changes no byte (zeros read back as zeros): it frees the blocks
// that freed objects shared, whatever order they went in. Only for
// segments nobody writes to: a block of zeros in the one being appended
// to may be bytes reserved but not yet written.
func trim(f *os.File, off, n int64) (empty bool, err error) {
	fd := int(f.Fd())
	buf := make([]byte, block)
	for b := off / block * block; b < off+n; b += block {
		k, err := f.ReadAt(buf, b)
		if err != nil && k == 0 {
			break // past the end
		}
		if allZero(buf[:k]) {
			if err := unix.Fallocate(fd, punchMode, b, block); err != nil {
				return false, err
			}
		}
	}
	if _, err := unix.Seek(fd, 0, unix.SEEK_DATA); errors.Is(err, unix.ENXIO) {
		return true, nil
	} else if err != nil && !errors.Is(err, unix.EINVAL) {
		return false, err
	}
	return false, nil
}

// dataRanges lists the regions of f that hold data, not holes.
func dataRanges(f *os.File) ([][2]int64, error) {
	fd := int(f.Fd())
	var out [][2]int64
	for off := int64(0); ; {
		start, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		end, err := unix.Seek(fd, start, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		out = append(out, [2]int64{start, end})
		off = end
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
