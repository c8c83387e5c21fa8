package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"github.com/ttsguard/ttsguard/internal/audit"
	"github.com/ttsguard/ttsguard/internal/channel"
	"github.com/ttsguard/ttsguard/internal/pull"
)

type channelSummary struct{ *channel.Summary }

func (r channelSummary) Text(w io.Writer) error {
	var b strings.Builder
	if d := r.Published; d != nil {
		fmt.Fprintf(&b, "published %s version %s (%s, root %s)\n", d.Name, d.Version, d.Source, d.RootDigest)
	}
	fmt.Fprintf(&b, "channel %s: root v%d, targets v%d, snapshot v%d, timestamp v%d (expires %s)\n", r.Dir, r.Root, r.Targets, r.Snapshot, r.Timestamp, r.Expires.Format(time.RFC3339))
	for _, f := range r.Files {
		fmt.Fprintf(&b, "  wrote %s\n", f)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// roleKeyFlags are the --ROLE-key flags of the publisher commands.
type roleKeyFlags map[string]*[]string

func addRoleKeyFlags(c *cobra.Command, roles ...string) roleKeyFlags {
	f := roleKeyFlags{}
	for _, role := range roles {
		v := new([]string)
		c.Flags().StringArrayVar(v, role+"-key", nil, "private key file (PEM, ECDSA P-256 as keygen writes it, or Ed25519) of the "+role+" role (repeatable)")
		f[role] = v
	}
	return f
}

// signers loads the keys given for each role.
func (f roleKeyFlags) signers() (channel.Keys, error) {
	keys := channel.Keys{}
	for role, files := range f {
		s, err := loadSigners(*files)
		if err != nil {
			return nil, err
		}
		keys[role] = s
	}
	return keys, nil
}

// loadSigners loads private key files; a bad one is a usage error.
func loadSigners(files []string) ([]*channel.Signer, error) {
	var out []*channel.Signer
	for _, p := range files {
		s, err := channel.LoadSigner(p)
		if err != nil {
			return nil, usageError{err}
		}
		out = append(out, s)
	}
	return out, nil
}

// parseThresholds reads --threshold N (every role) or ROLE=N (repeatable).
func parseThresholds(list []string) (map[string]int, error) {
	out := map[string]int{}
	for _, s := range list {
		role, n, ok := strings.Cut(s, "=")
		if !ok {
			role, n = "", s
		}
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 || v > 16 {
			return nil, usagef("--threshold %q: want N or ROLE=N with N from 1 to 16", s)
		}
		switch role {
		case "":
			for _, r := range channel.Roles {
				out[r] = v
			}
		case metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP:
			out[role] = v
		default:
			return nil, usagef("--threshold %q: unknown role %q (root, targets, snapshot, timestamp)", s, role)
		}
	}
	return out, nil
}

func newChannelCmd(g *globals) *cobra.Command {
	c := &cobra.Command{Use: "channel", Short: "Publish a TUF update channel: which version of each model a fleet should run (docs/fleet.md)"}
	// init
	var thresholds []string
	var expires time.Duration
	initCmd := &cobra.Command{
		Use:   "init DIR --root-key F --targets-key F --snapshot-key F --timestamp-key F [--threshold N|ROLE=N]... [--expires DURATION]",
		Short: "Create a channel folder: root, targets, snapshot and timestamp metadata signed by the given keys",
		Args:  cobra.ExactArgs(1),
	}
	initKeys := addRoleKeyFlags(initCmd, channel.Roles...)
	initCmd.RunE = func(c *cobra.Command, args []string) error {
		keys, err := initKeys.signers()
		if err != nil {
			return err
		}
		th, err := parseThresholds(thresholds)
		if err != nil {
			return err
		}
		s, err := channel.Init(args[0], keys, channel.InitOptions{Thresholds: th, Expiry: map[string]time.Duration{metadata.ROOT: expires}})
		if err != nil {
			return err
		}
		return g.printer().Print(channelSummary{s})
	}
	initCmd.Flags().StringArrayVar(&thresholds, "threshold", nil, "signatures a role needs: N for every role, or ROLE=N (repeatable); default 1")
	initCmd.Flags().DurationVar(&expires, "expires", channel.DefaultExpiry[metadata.ROOT], "how long the root metadata is valid")

	// publish
	var version, root, from, policyPath string
	var tsExpires time.Duration
	pub := &cobra.Command{
		Use:   "publish DIR NAME --version V [--root sha256:...|--from DIR] --targets-key F --snapshot-key F --timestamp-key F oci://...|https://...",
		Short: "Publish a model version (its source and OMS root digest) as the channel's current version of NAME",
		Long: "The root digest the target carries is what every host's pull must hash to: --root gives it, --from DIR " +
			"hashes a model folder as pull does, and by default it is the root of NAME's current version in this " +
			"host's store (pull it first: the same gates the fleet will run).",
		Args: cobra.ExactArgs(3),
	}
	pubKeys := addRoleKeyFlags(pub, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP)
	pub.RunE = func(c *cobra.Command, args []string) error {
		dir, name, source := args[0], args[1], args[2]
		if version == "" {
			return usagef("--version is required")
		}
		digest, err := publishRoot(c, name, root, from, policyPath)
		if err != nil {
			return err
		}
		keys, err := pubKeys.signers()
		if err != nil {
			return err
		}
		d := channel.Descriptor{Name: name, Version: version, Source: source, RootDigest: digest}
		s, err := channel.Publish(dir, d, keys, map[string]time.Duration{metadata.TIMESTAMP: tsExpires}, time.Time{})
		if err != nil {
			return err
		}
		return g.printer().Print(channelSummary{s})
	}
	pub.Flags().StringVar(&version, "version", "", "the model version's name in the channel (required)")
	pub.Flags().StringVar(&root, "root", "", "the OMS root digest (sha256:...) the model's bytes hash to")
	pub.Flags().StringVar(&from, "from", "", "a model folder to hash for the root digest")
	pub.Flags().StringVar(&policyPath, "policy", "", "trust policy whose store holds NAME (when neither --root nor --from is given)")
	pub.Flags().DurationVar(&tsExpires, "timestamp-expires", channel.DefaultExpiry[metadata.TIMESTAMP], "how long the new timestamp is valid")

	// timestamp
	var tsKeys []string
	var tsFor time.Duration
	ts := &cobra.Command{
		Use:   "timestamp DIR --timestamp-key F [--expires DURATION]",
		Short: "Sign a fresh timestamp for the current state (run it before the last one expires, or hosts report the channel frozen)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			signers, err := loadSigners(tsKeys)
			if err != nil {
				return err
			}
			s, err := channel.Timestamp(args[0], signers, tsFor, time.Time{})
			if err != nil {
				return err
			}
			return g.printer().Print(channelSummary{s})
		},
	}
	ts.Flags().StringArrayVar(&tsKeys, "timestamp-key", nil, "private key file of the timestamp role (repeatable)")
	ts.Flags().DurationVar(&tsFor, "expires", channel.DefaultExpiry[metadata.TIMESTAMP], "how long the timestamp is valid")

	// rotate-root
	var oldRoot, newRoot, rotThresholds []string
	var rotExpires time.Duration
	rot := &cobra.Command{
		Use:   "rotate-root DIR --old-root-key F [--root-key F]... [--targets-key F]... [--snapshot-key F]... [--timestamp-key F]... [--threshold ROLE=N]...",
		Short: "Write the next root version: replace the keys of the roles given (their old keys are revoked), signed by the current and new root keys",
		Args:  cobra.ExactArgs(1),
	}
	rotKeys := roleKeyFlags{}
	for _, role := range []string{metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		v := new([]string)
		rot.Flags().StringArrayVar(v, role+"-key", nil, "the "+role+" role's new key (public or private key file; repeatable)")
		rotKeys[role] = v
	}
	rot.RunE = func(c *cobra.Command, args []string) error {
		newKeys := map[string][]*metadata.Key{}
		for role, files := range rotKeys {
			for _, p := range *files {
				k, _, err := channel.LoadPublicKey(p)
				if err != nil {
					return usageError{err}
				}
				newKeys[role] = append(newKeys[role], k)
			}
		}
		olds, err := loadSigners(oldRoot)
		if err != nil {
			return err
		}
		news, err := loadSigners(newRoot)
		if err != nil {
			return err
		}
		for _, s := range news {
			newKeys[metadata.ROOT] = append(newKeys[metadata.ROOT], s.Key)
		}
		th, err := parseThresholds(rotThresholds)
		if err != nil {
			return err
		}
		s, err := channel.RotateRoot(args[0], newKeys, th, olds, news, rotExpires, time.Time{})
		if err != nil {
			return err
		}
		return g.printer().Print(channelSummary{s})
	}
	rot.Flags().StringArrayVar(&oldRoot, "old-root-key", nil, "a current root private key (repeatable: a threshold of them signs)")
	rot.Flags().StringArrayVar(&newRoot, "root-key", nil, "a new root private key (repeatable; default: keep the current root keys)")
	rot.Flags().StringArrayVar(&rotThresholds, "threshold", nil, "ROLE=N: a role's new threshold (repeatable)")
	rot.Flags().DurationVar(&rotExpires, "expires", channel.DefaultExpiry[metadata.ROOT], "how long the new root is valid")
	c.AddCommand(initCmd, pub, ts, rot)
	return c
}

// publishRoot is the root digest publish puts in the target (see its Long).
func publishRoot(c *cobra.Command, name, root, from, policyPath string) (string, error) {
	switch {
	case root != "" && from != "":
		return "", usagef("give --root or --from, not both")
	case root != "":
		return root, nil
	case from != "":
		dir, err := existingDir("--from", from)
		if err != nil {
			return "", err
		}
		d, err := pull.RootDigest(c.Context(), dir)
		if err != nil {
			return "", usagef("--from %q: %v", from, err)
		}
		return d, nil
	}
	_, st, err := openStoreToRead(policyPath, "ls")
	if err != nil {
		return "", err
	}
	if st == nil {
		return "", usagef("no store: give --root or --from, or pull %s first", name)
	}
	v, err := st.Get(name)
	if err != nil {
		return "", usagef("%s in the store: %v (give --root or --from, or pull it first)", name, err)
	}
	return v.Root, nil
}

type updateResult struct{ *channel.UpdateResult }

func (r updateResult) Text(w io.Writer) error {
	var b strings.Builder
	for _, s := range r.Channels {
		fmt.Fprintf(&b, "channel %s: root v%d, timestamp v%d (expires %s), snapshot v%d, targets v%d\n", s.Channel, s.Root, s.Timestamp, s.TimestampExpires.Format(time.RFC3339), s.Snapshot, s.Targets)
	}
	for _, m := range r.Models {
		fmt.Fprintf(&b, "%-13s %s", m.Outcome, m.Model)
		if m.Target != nil {
			fmt.Fprintf(&b, " -> %s (%s, %s)", m.Target.Version, m.Target.Source, m.Target.RootDigest)
		}
		b.WriteByte('\n')
		if m.Pull != nil && m.Pull.Changes != "" {
			fmt.Fprintf(&b, "  %s\n", m.Pull.Changes)
		}
		if m.Failure != "" {
			fmt.Fprintf(&b, "  %s\n", m.Failure)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func newUpdateCmd(g *globals) *cobra.Command {
	var policyPath string
	c := &cobra.Command{
		Use:   "update [--policy F] [NAME]",
		Short: "Follow the policy's TUF channels: move each model's pin to its channel's current version, through every gate of lock update",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			pol, err := loadPolicyFor(policyPath, "update")
			if err != nil {
				return err
			}
			if len(pol.Channels) == 0 {
				return usagef("the policy %s has no channels: nothing to update from (docs/policy.md, channels)", pol.Path)
			}
			o := channel.UpdateOptions{Policy: pol, Version: Version()}
			if len(args) == 1 {
				o.Model = args[0]
			}
			r, err := channel.Update(c.Context(), o)
			if r == nil {
				return err
			}
			if perr := g.printer().Print(updateResult{r}); perr != nil && err == nil {
				return perr
			}
			for _, m := range r.Models {
				if lerr := logEventAfter(g, pol, updateEvent(m), true, err); lerr != nil {
					return lerr
				}
			}
			return pullErr(err)
		},
	}
	c.Flags().StringVar(&policyPath, "policy", "", "trust policy file (its channels: section)")
	return c
}

// updateEvent is the audit log event of one model's update.
func updateEvent(m channel.ModelUpdate) audit.Event {
	e := audit.Event{Command: "update", Model: m.Model, OK: m.Failure == ""}
	e.Detail = "channel " + m.Channel + ": " + m.Outcome
	if m.Target != nil {
		e.Root = m.Target.RootDigest
		e.Detail += fmt.Sprintf(" %s from %s", m.Target.Version, m.Target.Source)
	}
	if m.From != "" && m.Outcome == channel.Updated {
		e.Detail += "; was " + m.From
	}
	if m.Pull != nil && m.Pull.Root != "" {
		e.Root = m.Pull.Root
	}
	if m.Failure != "" {
		e.Detail = firstLine(m.Failure) // names the channel
	}
	return e
}
