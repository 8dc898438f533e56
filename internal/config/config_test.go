package config

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// defaults returns a Config with every setting at its default.
func defaults() *Config {
	c := &Config{}
	for _, v := range c.Vars() {
		*v.Ptr = v.Default
	}
	return c
}

func TestDefaultsValidate(t *testing.T) {
	t.Parallel()
	c := defaults()
	require.NoError(t, c.Validate())
	d, err := c.WebhookGiveUpDuration()
	require.NoError(t, err)
	require.Equal(t, 24*time.Hour, d)
}

func TestWebhookGiveUp(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{"": 0, "8s": 8 * time.Second, "90m": 90 * time.Minute, "168h": 168 * time.Hour} {
		c := defaults()
		c.WebhookGiveUp = v
		require.NoError(t, c.Validate(), v)
		d, err := c.WebhookGiveUpDuration()
		require.NoError(t, err)
		require.Equal(t, want, d, v)
	}
	for _, v := range []string{"0s", "-1h", "500ms", "169h", "soon", "24"} {
		c := defaults()
		c.WebhookGiveUp = v
		err := c.Validate()
		require.Error(t, err, v)
		require.True(t, strings.HasPrefix(err.Error(), "TIDINGS_WEBHOOK_GIVE_UP"), err.Error())
	}
}
