// Package tts renders voice messages to audio with espeak-ng (Debian
// package espeak-ng), run as a process: text or SSML in, a WAV file out.
package tts

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Espeak is an sms.Synthesizer.
type Espeak struct {
	// Path of the espeak-ng binary (default: "espeak-ng" on PATH).
	Path string
}

// Available reports whether the binary can be found.
func (e Espeak) Available() bool {
	_, err := exec.LookPath(e.path())
	return err == nil
}

func (e Espeak) path() string {
	if e.Path != "" {
		return e.Path
	}
	return "espeak-ng"
}

// Synthesize returns the WAV of text; ssml makes espeak-ng read SSML
// markup (-m). The Polly voice IDs of the API have no espeak-ng
// counterpart; every voice speaks en-us.
func (e Espeak) Synthesize(ctx context.Context, text string, ssml bool, _ string) ([]byte, error) {
	args := []string{"--stdout", "-v", "en-us"}
	if ssml {
		args = append(args, "-m")
	}
	// The text comes on stdin so that no part of it is read as an option.
	cmd := exec.CommandContext(ctx, e.path(), args...)
	cmd.Stdin = strings.NewReader(text)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("espeak-ng: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	if out.Len() < 44 || !bytes.HasPrefix(out.Bytes(), []byte("RIFF")) {
		return nil, fmt.Errorf("espeak-ng produced no WAV audio")
	}
	return out.Bytes(), nil
}
