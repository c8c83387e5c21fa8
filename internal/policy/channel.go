package policy

import (
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Channel is a TUF update channel a host follows (channels[i]; `ttsguard
// update`, internal/channel).
type Channel struct {
	// Name identifies the channel; unique in a policy, [a-z0-9._-].
	Name string
	// URL is the channel's metadata base URL (https; http only for the
	// loopback hosts the sources rules allow); its target files are under
	// URL/targets/.
	URL string
	// Root is the trusted root metadata file (root.json) the host starts
	// from; Load resolves a relative path against the policy's folder.
	Root string
	// RootSHA256 pins Root: the hex SHA-256 of its bytes.
	RootSHA256 string
	// Models are the model names the channel may move; a target for any
	// other name is ignored.
	Models []string
}

// Moves reports whether the channel may move model name's pin.
func (c Channel) Moves(name string) bool { return contains(c.Models, name) }

// ChannelFor returns the channel that may move model name (the first one).
func (p *Policy) ChannelFor(name string) (Channel, bool) {
	for _, c := range p.Channels {
		if c.Moves(name) {
			return c, true
		}
	}
	return Channel{}, false
}

var channelName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func (ps *parser) channels(p *Policy, n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return ps.wantType(n, "channels", "a list of channels")
	}
	seen := map[string]int{}
	for i, cn := range n.Content {
		key := fmt.Sprintf("channels[%d]", i)
		var c Channel
		var nodes = map[string]*yaml.Node{}
		err := ps.mapping(cn, key, []string{"name", "url", "root", "root_sha256", "models"}, func(k string, _, vn *yaml.Node) error {
			fk := join(key, k)
			nodes[k] = vn
			var err error
			switch k {
			case "name":
				c.Name, err = ps.str(vn, fk)
			case "url":
				c.URL, err = ps.str(vn, fk)
			case "root":
				if c.Root, err = ps.str(vn, fk); err == nil && c.Root != "" {
					err = ps.path(vn, fk, c.Root)
				}
			case "root_sha256":
				c.RootSHA256, err = ps.str(vn, fk)
			case "models":
				var list []string
				var items []*yaml.Node
				if list, items, err = ps.strList(vn, fk); err == nil {
					for j, m := range list {
						if m == "" {
							return ps.errf(items[j], fmt.Sprintf("%s[%d]", fk, j), "empty model name")
						}
						if contains(list[:j], m) {
							return ps.errf(items[j], fmt.Sprintf("%s[%d]", fk, j), "%q is listed twice", m)
						}
					}
					c.Models = list
				}
			}
			return err
		})
		if err != nil {
			return err
		}
		if cn.Kind != yaml.MappingNode {
			return ps.wantType(cn, key, "a mapping")
		}
		for _, k := range []string{"name", "url", "root", "root_sha256", "models"} {
			if vn := nodes[k]; vn == nil || isNull(vn) {
				return ps.errf(cn, join(key, k), "missing: a channel needs name, url, root, root_sha256 and models")
			}
		}
		if !channelName.MatchString(c.Name) {
			return ps.errf(nodes["name"], join(key, "name"), "channel name %q: want 1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit", c.Name)
		}
		if line, dup := seen[c.Name]; dup {
			return ps.errf(nodes["name"], join(key, "name"), "channel %q is given twice (first on line %d)", c.Name, line)
		}
		seen[c.Name] = nodes["name"].Line
		if why := badChannelURL(c.URL); why != "" {
			return ps.errf(nodes["url"], join(key, "url"), "%q: %s", c.URL, why)
		}
		if b, err := hex.DecodeString(c.RootSHA256); err != nil || len(b) != 32 || strings.ToLower(c.RootSHA256) != c.RootSHA256 {
			return ps.errf(nodes["root_sha256"], join(key, "root_sha256"), "%q: want 64 lowercase hex digits (sha256sum of the root file)", c.RootSHA256)
		}
		if len(c.Models) == 0 {
			return ps.errf(nodes["models"], join(key, "models"), "a channel must name the models it may move")
		}
		p.Channels = append(p.Channels, c)
	}
	return nil
}

// badChannelURL says what is wrong with a channel URL ("" if nothing): the
// same scheme rules as sources (https, or http to a loopback host).
func badChannelURL(s string) string {
	if _, err := parseSource(s); err != nil {
		return strings.TrimPrefix(err.Error(), fmt.Sprintf("%q", s)+": ")
	}
	return ""
}
