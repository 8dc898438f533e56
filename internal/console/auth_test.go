package console

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	require.Equal(t, argon2Params{time: 3, memory: 64 << 10, threads: 2}, realArgon, "RFC 9106 4, second option")
	key := "a long enough password"
	hash := hashPassword(key, realArgon)
	require.True(t, strings.HasPrefix(hash, "$argon2id$v=19$m=65536,t=3,p=2$"), hash)
	ok, err := VerifyPassword(hash, key)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = VerifyPassword(hash, key+"x")
	require.NoError(t, err)
	require.False(t, ok)
	_, err = VerifyPassword("$2a$10$bcrypt", key)
	require.Error(t, err)
	_, err = VerifyPassword("$argon2id$v=19$m=65536,t=3,p=2$AAAA$AAAA", key)
	require.Error(t, err, "a hash shorter than 16 bytes is refused")
}
