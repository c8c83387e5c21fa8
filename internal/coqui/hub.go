package coqui

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/ttsguard/ttsguard/internal/hub"
)

// ShapeHub: a Hugging Face repository (repo_id), which coqui fetches with
// huggingface_hub.snapshot_download(repo_id, allow_patterns=allow,
// ignore_patterns=ignore): every file of the revision's commit that the
// patterns select, under its path in the repository.
const ShapeHub = "hub"

// HubRef is the Hugging Face repository of a ShapeHub entry.
type HubRef struct {
	RepoID string // OWNER/NAME (hub.ParseRepoID)
	// Revision is the catalog's "revision", "" when absent (the Hub's
	// default branch, main). coqui 0.28 does not read the key; ttsguard
	// honours it, as a more specific pin.
	Revision string
	// Allow and Ignore are the catalog's "allow" and "ignore" patterns
	// (hub.Patterns semantics): nil when absent or null; one string is a
	// list of one, as huggingface_hub accepts.
	Allow, Ignore []string
}

// Patterns returns the entry's allow/ignore lists.
func (h *HubRef) Patterns() hub.Patterns { return hub.Patterns{Allow: h.Allow, Ignore: h.Ignore} }

// RevisionOrDefault is Revision, or hub.DefaultRevision when empty.
func (h *HubRef) RevisionOrDefault() string {
	if h.Revision == "" {
		return hub.DefaultRevision
	}
	return h.Revision
}

func (h *HubRef) clone() *HubRef {
	if h == nil {
		return nil
	}
	out := *h
	out.Allow, out.Ignore = slices.Clone(h.Allow), slices.Clone(h.Ignore)
	return &out
}

// hubKeys are the entry keys of a Hugging Face entry.
var hubKeys = []string{"repo_id", "revision", "allow", "ignore"}

// parseHub reads repo_id, revision, allow and ignore; it returns nil when
// the entry has none of them. Any of the last three without repo_id is an
// error, as is a bad repo id, revision or pattern list.
func parseHub(members map[string]json.RawMessage) (*HubRef, error) {
	found := false
	for _, k := range hubKeys {
		_, ok := members[k]
		found = found || ok
	}
	if !found {
		return nil, nil
	}
	h := &HubRef{}
	if err := nullableString(members["repo_id"], &h.RepoID); err != nil || h.RepoID == "" {
		return nil, fmt.Errorf("repo_id: want a repository id such as \"OWNER/NAME\" with revision, allow or ignore, got %s", jsonKind(members["repo_id"]))
	}
	if err := hub.ParseRepoID(h.RepoID); err != nil {
		return nil, fmt.Errorf("repo_id: %w", err)
	}
	if v, ok := members["revision"]; ok {
		if err := nullableString(v, &h.Revision); err != nil {
			return nil, fmt.Errorf("revision: %w", err)
		}
		if h.Revision != "" {
			if err := hub.ValidRevision(h.Revision); err != nil {
				return nil, fmt.Errorf("revision: %w", err)
			}
		}
	}
	var err error
	if h.Allow, err = patternList(members, "allow"); err != nil {
		return nil, err
	}
	if h.Ignore, err = patternList(members, "ignore"); err != nil {
		return nil, err
	}
	if err := h.Patterns().Check(); err != nil {
		return nil, err
	}
	return h, nil
}

// patternList reads a pattern list: absent or null (nil), one string, or a
// list of strings (kept non-nil when empty).
func patternList(members map[string]json.RawMessage, key string) ([]string, error) {
	v, ok := members[key]
	if !ok {
		return nil, nil
	}
	switch jsonKind(v) {
	case "null":
		return nil, nil
	case "a string":
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		return []string{s}, nil
	case "a list":
		list := []string{}
		if err := json.Unmarshal(v, &list); err != nil {
			return nil, fmt.Errorf("%s: want a list of patterns: %w", key, err)
		}
		return list, nil
	}
	return nil, fmt.Errorf("%s: want a pattern or a list of patterns, got %s", key, jsonKind(v))
}
