//go:build linux || darwin

package fs

import (
	"errors"
	"os"
	"regexp"

	"golang.org/x/sys/unix"
)

const sumAttr = "user.tidings.sha256"

var hexSum = regexp.MustCompile(`\A[0-9a-f]{64}\z`)

// setSum records the digest on the open file; errors.ErrUnsupported where
// the file system keeps no user attributes.
func setSum(f *os.File, sum string) error {
	err := unix.Fsetxattr(int(f.Fd()), sumAttr, []byte(sum), 0)
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
		return errors.ErrUnsupported
	}
	return err
}

func getSum(f *os.File) (string, error) {
	return checkSum(readAttr(func(buf []byte) (int, error) { return unix.Fgetxattr(int(f.Fd()), sumAttr, buf) }))
}

func pathSum(path string) (string, error) {
	return checkSum(readAttr(func(buf []byte) (int, error) { return unix.Getxattr(path, sumAttr, buf) }))
}

func readAttr(get func([]byte) (int, error)) (string, error) {
	buf := make([]byte, 128)
	n, err := get(buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// checkSum refuses an attribute that is not a digest (set by hand, cut).
func checkSum(s string, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if !hexSum.MatchString(s) {
		return "", errors.New("malformed digest attribute")
	}
	return s, nil
}
