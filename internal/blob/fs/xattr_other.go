//go:build !linux && !darwin

package fs

import (
	"errors"
	"os"
)

func setSum(*os.File, string) error   { return errors.ErrUnsupported }
func getSum(*os.File) (string, error) { return "", errors.ErrUnsupported }
func pathSum(string) (string, error)  { return "", errors.ErrUnsupported }
