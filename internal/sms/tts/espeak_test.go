package tts

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEspeak(t *testing.T) {
	t.Parallel()
	e := Espeak{}
	if !e.Available() {
		t.Fatal("espeak-ng is not installed (Debian package espeak-ng; scripts/test.sh installs it)")
	}
	ctx := context.Background()
	plain, err := e.Synthesize(ctx, "Your code is 1 2 3 4", false, "JOANNA")
	require.NoError(t, err)
	require.Equal(t, "WAVE", string(plain[8:12]))
	require.Equal(t, uint16(1), binary.LittleEndian.Uint16(plain[20:22]), "PCM")

	ssml, err := e.Synthesize(ctx, `<speak>Your code is <break time="1s"/> 1 2 3 4</speak>`, true, "")
	require.NoError(t, err)
	// The markup is read, not spoken: the break makes it longer than the
	// plain text, and spelling the tags out would make it much longer still.
	require.Greater(t, len(ssml), len(plain))
	spoken, err := e.Synthesize(ctx, `<speak>Your code is <break time="1s"/> 1 2 3 4</speak>`, false, "")
	require.NoError(t, err)
	require.Greater(t, len(spoken), len(ssml), "without -m the tags are spoken")

	// Text that looks like an option is spoken, not parsed.
	_, err = e.Synthesize(ctx, "--help", false, "")
	require.NoError(t, err)
	_, err = Espeak{Path: "/nonexistent/espeak-ng"}.Synthesize(ctx, "x", false, "")
	require.Error(t, err)
}
