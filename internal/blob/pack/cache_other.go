//go:build !linux

package pack

import "os"

func dropCache(*os.File) {}
