package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMasterKey(t *testing.T) {
	t.Parallel()
	valid := func() *Config {
		c := &Config{}
		for _, v := range c.Vars() {
			*v.Ptr = v.Default
		}
		return c
	}
	c := valid()
	require.NoError(t, c.Validate())
	k, err := c.MasterKeyBytes()
	require.NoError(t, err)
	require.Nil(t, k)

	c.MasterKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // 0…31
	require.NoError(t, c.Validate())
	k, err = c.MasterKeyBytes()
	require.NoError(t, err)
	require.Len(t, k, 32)
	require.Equal(t, byte(31), k[31])

	for _, bad := range []string{"not base64!", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd", strings.Repeat("A", 64)} {
		c.MasterKey = bad
		require.ErrorContains(t, c.Validate(), "TIDINGS_MASTER_KEY", bad)
	}
}
