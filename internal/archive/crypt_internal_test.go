package archive

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"
)

func sealAll(t *testing.T, key, ad, plain []byte, writes int) []byte {
	t.Helper()
	var out bytes.Buffer
	sw, err := newSealWriter(&out, key, ad)
	require.NoError(t, err)
	// Written in uneven pieces, as zstd does.
	step := max(1, len(plain)/max(1, writes))
	for p := plain; len(p) > 0; {
		n := min(step, len(p))
		_, err := sw.Write(p[:n])
		require.NoError(t, err)
		p = p[n:]
	}
	require.NoError(t, sw.Close())
	return out.Bytes()
}

func openAll(key, ad, blob []byte) ([]byte, error) {
	or, err := newOpenReader(iotest.HalfReader(bytes.NewReader(blob)), key, ad)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(or)
}

func TestCryptRoundTrip(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	rand.Read(key)
	ad := cryptAD("a", "b", "c")
	for _, size := range []int{0, 1, 100, cryptChunk - 1, cryptChunk, cryptChunk + 1, 3 * cryptChunk, 3*cryptChunk + 17} {
		plain := make([]byte, size)
		rand.Read(plain)
		for _, writes := range []int{1, 7} {
			blob := sealAll(t, key, ad, plain, writes)
			chunks := size/cryptChunk + 1
			if size > 0 && size%cryptChunk == 0 {
				chunks--
			}
			require.Equal(t, len(cryptMagic)+cryptPrefix+size+16*chunks, len(blob), "size %d", size)
			got, err := openAll(key, ad, blob)
			require.NoError(t, err, "size %d", size)
			require.Equal(t, plain, got)

			// Another message's associated data, another key: no.
			_, err = openAll(key, cryptAD("a", "b", "d"), blob)
			require.ErrorIs(t, err, errDecrypt)
			other := bytes.Clone(key)
			other[0] ^= 1
			_, err = openAll(other, ad, blob)
			require.ErrorIs(t, err, errDecrypt)
			// Cut at a chunk boundary: the last chunk is missing, which
			// the final-chunk flag tells.
			if size > cryptChunk {
				_, err = openAll(key, ad, blob[:len(cryptMagic)+cryptPrefix+cryptChunk+16])
				require.ErrorIs(t, err, errDecrypt, "size %d", size)
			}
		}
	}
}

// BenchmarkSealOpen: the cost encryption adds to a message's compressed
// bytes, per byte.
func BenchmarkSealOpen(b *testing.B) {
	key := make([]byte, 32)
	plain := make([]byte, 1<<20)
	rand.Read(plain)
	ad := cryptAD("a", "b", "c")
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		var out bytes.Buffer
		sw, _ := newSealWriter(&out, key, ad)
		sw.Write(plain)
		if err := sw.Close(); err != nil {
			b.Fatal(err)
		}
		or, err := newOpenReader(bytes.NewReader(out.Bytes()), key, ad)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, or); err != nil {
			b.Fatal(err)
		}
	}
}
