package cli

import (
	"fmt"
	"time"

	"github.com/ttsguard/ttsguard/internal/channel"
	"github.com/ttsguard/ttsguard/internal/policy"
)

// auditChannel is one update channel in an audit: its last verified
// timestamp (the host's cache) and whether it has expired.
type auditChannel struct {
	Name   string          `json:"name"`
	OK     bool            `json:"ok"`
	Status *channel.Status `json:"status,omitempty"`
	Detail string          `json:"detail"`
}

// auditChannels adds each channel of the policy to r and returns how many
// failed: a last-known timestamp that has expired (the host has seen no
// fresh one since: a frozen channel, or a mirror withholding updates) or a
// channel never refreshed.
func auditChannels(r *auditResult, storeRoot string, pol *policy.Policy) int {
	failed := 0
	now := time.Now().UTC()
	for _, ch := range pol.Channels {
		c := auditChannel{Name: ch.Name}
		s, err := channel.CachedStatus(channel.CacheDir(storeRoot, ch.Name), ch.Name, now)
		switch {
		case err != nil:
			c.Detail = "FAILED: never refreshed (run ttsguard update): " + err.Error()
		case s.Expired:
			c.Status = s
			c.Detail = fmt.Sprintf("FAILED: frozen: the last verified timestamp (v%d) expired at %s; no fresh one since (run ttsguard update; a mirror that keeps serving the old one is a freeze attack)", s.Timestamp, s.TimestampExpires.Format(time.RFC3339))
		default:
			c.OK, c.Status = true, s
			c.Detail = fmt.Sprintf("timestamp v%d valid until %s", s.Timestamp, s.TimestampExpires.Format(time.RFC3339))
		}
		if !c.OK {
			failed++
			r.OK = false
		}
		r.Channels = append(r.Channels, c)
	}
	return failed
}
