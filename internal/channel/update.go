package channel

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/pull"
	"github.com/ttsguard/ttsguard/internal/store"
)

// ErrUsage is wrapped by errors in what update was asked (an unknown model).
var ErrUsage = errors.New("cannot update as asked")

// Update outcomes.
const (
	UpToDate    = "up to date"    // the pin already is the channel's current version
	Updated     = "updated"       // the pin moved to the channel's current version
	Unpublished = "not published" // the channel has no version of the model
	Refused     = "refused"       // the refresh or the pull was refused
)

// ModelUpdate is the evidence of one model's update.
type ModelUpdate struct {
	Channel string       `json:"channel"`
	Model   string       `json:"model"`
	Outcome string       `json:"outcome"`
	From    string       `json:"from_root,omitempty"` // the pin before
	Target  *Descriptor  `json:"target,omitempty"`
	Pull    *pull.Result `json:"pull,omitempty"`
	Failure string       `json:"failure,omitempty"`
}

// UpdateResult is the evidence of `ttsguard update`.
type UpdateResult struct {
	Channels []*State      `json:"channels"`
	Models   []ModelUpdate `json:"models"`
	OK       bool          `json:"ok"`
}

// UpdateOptions configure Update.
type UpdateOptions struct {
	Policy  *policy.Policy
	Model   string // "" = every model of every channel
	Version string // ttsguard's, for provenance
	TLS     *tls.Config
	Now     time.Time // the reference time of expiry checks (tests); zero = now
}

// Update refreshes each channel of the policy that moves the asked models
// (Refresh) and moves each model's pin to the channel's current version: a
// pull of the target's source through every gate of `lock update`, whose
// root digest must be the target's. The first error is returned after every
// model was tried; each model's outcome is in the result.
func Update(ctx context.Context, o UpdateOptions) (*UpdateResult, error) {
	pol := o.Policy
	if o.Model != "" {
		if _, ok := pol.ChannelFor(o.Model); !ok {
			return nil, fmt.Errorf("%w: no channel in the policy moves %q (channels[].models)", ErrUsage, o.Model)
		}
	}
	storeDir, err := pol.StoreDir()
	if err != nil {
		return nil, err
	}
	// open (create) the store first: its folders get their modes and group
	// before the channel caches are made inside it
	if _, err := store.Open(storeDir, store.ServingGroup(pol.Run.Group)); err != nil {
		return nil, err
	}
	tlsCfg := o.TLS
	if tlsCfg == nil {
		if tlsCfg, err = pol.TLSConfig(); err != nil {
			return nil, err
		}
	}
	lockPath, err := pol.LockPath()
	if err != nil {
		return nil, err
	}
	res := &UpdateResult{OK: true}
	var first error
	note := func(m ModelUpdate, err error) {
		if err != nil {
			m.Failure = err.Error()
			res.OK = false
			if first == nil {
				first = err
			}
		}
		res.Models = append(res.Models, m)
	}
	for _, ch := range pol.Channels {
		var models []string
		for _, m := range ch.Models {
			if o.Model == "" || o.Model == m {
				if c, _ := pol.ChannelFor(m); c.Name == ch.Name {
					models = append(models, m)
				}
			}
		}
		if len(models) == 0 {
			continue
		}
		cl := &Client{Channel: ch, Cache: CacheDir(storeDir, ch.Name), TLS: tlsCfg, Now: o.Now}
		st, err := cl.Refresh(ctx)
		if err != nil {
			for _, m := range models {
				note(ModelUpdate{Channel: ch.Name, Model: m, Outcome: Refused}, err)
			}
			continue
		}
		res.Channels = append(res.Channels, st)
		for _, m := range models {
			note(updateModel(ctx, o, tlsCfg, lockPath, st, m))
		}
	}
	return res, first
}

func updateModel(ctx context.Context, o UpdateOptions, tlsCfg *tls.Config, lockPath string, st *State, name string) (ModelUpdate, error) {
	mu := ModelUpdate{Channel: st.Channel, Model: name}
	d, ok := st.Current(name)
	if !ok {
		mu.Outcome = Unpublished
		return mu, nil
	}
	mu.Target = &d
	lf, err := store.LoadLock(lockPath)
	if err != nil {
		mu.Outcome = Refused
		return mu, err
	}
	if e, ok := lf.Entries[name]; ok {
		mu.From = e.Root
		if e.Root == d.RootDigest {
			mu.Outcome = UpToDate
			return mu, nil
		}
	}
	po := pull.Options{Policy: o.Policy, Name: name, Update: true, ExpectRoot: d.RootDigest, Version: o.Version}
	if o.TLS != nil {
		po.TLS = tlsCfg
	}
	r, err := pull.Pull(ctx, po, []string{d.Source})
	mu.Pull = r
	if err != nil {
		mu.Outcome = Refused
		return mu, fmt.Errorf("channel %s: %s version %s from %s: %w", st.Channel, name, d.Version, d.Source, err)
	}
	mu.Outcome = Updated
	return mu, nil
}
