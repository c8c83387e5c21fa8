package pull

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/ttsguard/ttsguard/internal/coqui"
	"github.com/ttsguard/ttsguard/internal/fetch"
	"github.com/ttsguard/ttsguard/internal/hub"
	"github.com/ttsguard/ttsguard/internal/lineage"
	"github.com/ttsguard/ttsguard/internal/manifest"
	"github.com/ttsguard/ttsguard/internal/oci"
	"github.com/ttsguard/ttsguard/internal/oms"
	"github.com/ttsguard/ttsguard/internal/policy"
	"github.com/ttsguard/ttsguard/internal/store"
	"github.com/ttsguard/ttsguard/internal/weightdiff"
)

// ErrUsage is wrapped by errors in what the caller asked for (sources, name,
// catalog id); the rest of the message says what is wrong with it.
var ErrUsage = errors.New("cannot pull as asked")

// Options configure a pull.
type Options struct {
	Policy    *policy.Policy // required
	Catalog   string         // coqui .models.json; "" = the installed TTS package's
	Name      string         // store name; "" = derived from the source
	AcceptTOS bool           // accept coqui's terms of service for tos_required models
	Frozen    bool           // refuse models the lock file does not pin
	Signature string         // OMS bundle to use instead of the model's own model.sig
	Update    bool           // lock update: accept a new upstream version, report the diff
	Version   string         // ttsguard version, for provenance
	// ExpectRoot, when set, is the OMS root digest the download must hash
	// to (an update channel's target): any other root is refused before a
	// gate runs or anything is stored.
	ExpectRoot string
	Progress   func(fetch.Progress)
	// TLS overrides the policy's TLS configuration (tests).
	TLS *fetchTLS

	requirement bool          // a requirement's pull: its own are not pulled (deps.go)
	hubPatterns *hub.Patterns // a requirement's allow/ignore patterns
}

// Result is the evidence of a pull.
type Result struct {
	Name      string               `json:"name"`
	Requested []string             `json:"requested"`
	Dir       string               `json:"path,omitempty"` // the read-only model folder
	Root      string               `json:"root_digest,omitempty"`
	Files     int                  `json:"files"`
	Bytes     int64                `json:"bytes"`
	Sources   []store.SourceRecord `json:"sources,omitempty"`
	Gates     []Gate               `json:"gates"`
	Pinned    string               `json:"pin"` // "matched", "added", "updated"
	Changes   string               `json:"changes,omitempty"`
	Revision  *store.LockRevision  `json:"revision,omitempty"` // the Hugging Face commit pulled (hub.go)
	OCI       *store.LockOCI       `json:"oci,omitempty"`      // the OCI manifest pulled (oci.go)
	Requires  []*Result            `json:"requires,omitempty"` // the pulls of its requirements (deps.go)
	Diff      *weightdiff.Result   `json:"diff,omitempty"`     // against the version it replaces (update.go)
	TOS       string               `json:"tos,omitempty"`
	ElapsedMS float64              `json:"elapsed_ms"`
	OK        bool                 `json:"ok"`
	Failure   string               `json:"failure,omitempty"`
}

// plan is what a pull will fetch.
type plan struct {
	name      string
	requested []string
	urls      []string
	names     []string // file names in the model folder for urls (coqui file lists), or ""
	local     string
	tosReq    bool
	license   coqui.License // of a coqui catalog entry
	coquiID   string
	hub       *hubPlan // a Hugging Face repository (hub.go)
	oci       *oci.Ref // an OCI registry artifact (oci.go)
}

// resolve turns the arguments into a plan.
func resolve(o Options, args []string) (*plan, error) {
	p := &plan{requested: args}
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: no source given", ErrUsage)
	}
	if len(args) == 1 {
		// A policy model name pulls from the policy's source.
		if m, ok := o.Policy.Models[args[0]]; ok && (m.Source != "" || len(m.URLs) > 0) {
			p.name = args[0]
			if len(m.URLs) > 0 {
				args = m.URLs
			} else {
				args = []string{m.Source}
			}
		}
	}
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "http://"):
			p.urls = append(p.urls, a)
		case hub.IsSource(a):
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: a Hugging Face source %q cannot be combined with others", ErrUsage, a)
			}
			var err error
			if p.hub, err = hubSource(a); err != nil {
				return nil, err
			}
			if o.hubPatterns != nil {
				p.hub.patterns = *o.hubPatterns
			}
		case oci.IsSource(a):
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: an OCI source %q cannot be combined with others", ErrUsage, a)
			}
			var err error
			if p.oci, err = ociSource(a); err != nil {
				return nil, err
			}
		case exists(a):
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: a local source %q cannot be combined with others", ErrUsage, a)
			}
			p.local = a
		default:
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: %q is not an https URL or an existing file, and a coqui model id cannot be combined with other sources", ErrUsage, a)
			}
			e, err := catalogEntry(o.Catalog, a)
			if err != nil {
				return nil, fmt.Errorf("%w: %q is not an https URL, an hf://OWNER/REPO repository, an oci://HOST/REPO:TAG artifact, an existing file or folder, or a coqui model id: %w", ErrUsage, a, err)
			}
			p.license = e.LicenseInfo()
			p.coquiID, p.urls, p.tosReq, p.hub = e.ID, e.URLs, e.TOSRequired, hubEntry(e)
			for _, f := range e.Files {
				p.names = append(p.names, f.Name)
			}
		}
	}
	switch {
	case o.Name != "":
		p.name = o.Name
	case p.name != "":
	case p.coquiID != "":
		p.name = p.coquiID
	case p.hub != nil:
		p.name = p.hub.repo
	case p.oci != nil:
		p.name = p.oci.Repository[strings.LastIndex(p.oci.Repository, "/")+1:]
	case p.local != "":
		p.name = strings.TrimSuffix(filepath.Base(filepath.Clean(p.local)), filepath.Ext(p.local))
	case len(p.urls) == 1:
		p.name = urlName(p.urls[0])
	default:
		return nil, fmt.Errorf("%w: several URLs form one model: give it a --name", ErrUsage)
	}
	if _, err := store.EscapeName(p.name); err != nil {
		return nil, fmt.Errorf("%w: model name %q: %v (give a --name)", ErrUsage, p.name, err)
	}
	return p, nil
}

func catalogEntry(catalog, id string) (*coqui.Entry, error) {
	if catalog == "" {
		c, err := coqui.FindInstalledCatalog()
		if err != nil {
			return nil, err
		}
		catalog = c
	}
	cat, err := coqui.LoadCatalog(catalog)
	if err != nil {
		return nil, err
	}
	e, err := cat.Resolve(id)
	if err != nil {
		return nil, err
	}
	if len(e.URLs) == 0 && e.Hub == nil {
		return nil, fmt.Errorf("catalog %q: %s has no download URL", catalog, id)
	}
	return e, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// urlName is the file name of a URL without archive extensions.
func urlName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	b := path.Base(u.Path)
	for _, ext := range []string{".tar.gz", ".tgz", ".zip", ".tar"} {
		b = strings.TrimSuffix(b, ext)
	}
	return b
}

// Pull runs the whole pipeline. On any failure the store is unchanged and the
// Result (when not nil) says which gate failed.
func Pull(ctx context.Context, o Options, args []string) (*Result, error) {
	t0 := time.Now()
	p, err := resolve(o, args)
	if err != nil {
		return nil, err
	}
	r := &Result{Name: p.name, Requested: p.requested}
	fail := func(err error) (*Result, error) {
		r.Failure = err.Error()
		r.ElapsedMS = float64(time.Since(t0).Microseconds()) / 1000
		return r, err
	}
	mp := o.Policy.ModelPolicy(p.name)
	if p.tosReq {
		if !o.AcceptTOS && !mp.TOSAccepted {
			return fail(fmt.Errorf("%w: %s requires accepting its terms of service (coqui tos_required): %s; read them, then pull with --accept-tos or set tos_accepted in the policy", ErrGate, p.name, p.license))
		}
		r.TOS = "accepted"
	}
	root, err := o.Policy.StoreDir()
	if err != nil {
		return nil, err
	}
	opts, err := store.Options(o.Policy)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(root, opts...)
	if err != nil {
		return nil, err
	}
	stage, cleanup, err := st.Stage()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	model := filepath.Join(stage, "model")
	dl := filepath.Join(stage, "download")
	for _, d := range []string{model, dl} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	archives := map[string]string{}
	hashed := map[string]known{}
	var alts map[string][]oci.Alternate // other bundles a registry attached (oci.go)
	switch {
	case p.hub != nil:
		recs, rev, err := downloadHub(ctx, o, p.name, p.hub, model, dl, hashed)
		r.Sources, r.Revision = recs, rev
		if err != nil {
			return fail(err)
		}
	case p.oci != nil:
		recs, pin, a, err := downloadOCI(ctx, o, p.name, *p.oci, model, hashed)
		r.Sources, r.OCI, alts = recs, pin, a
		if err != nil {
			return fail(err)
		}
	case p.local != "":
		sum, err := placeLocal(ctx, p.local, model, dl, hashed)
		if err != nil {
			return fail(err)
		}
		if sum != "" {
			abs, _ := filepath.Abs(p.local)
			archives[abs] = sum
		}
	default:
		recs, err := download(ctx, o, p.urls, p.names, model, dl, hashed)
		r.Sources = recs
		if err != nil {
			return fail(err)
		}
		for _, rec := range recs {
			archives[rec.URL] = rec.SHA256
		}
	}
	sigFile := ""
	if o.Signature != "" {
		if _, err := (localCopy{}).copyOne(ctx, o.Signature, filepath.Join(model, "model.sig")); err != nil {
			return fail(fmt.Errorf("signature %q: %w", o.Signature, err))
		}
	}
	if _, err := os.Lstat(filepath.Join(model, "model.sig")); err == nil {
		sigFile = "model.sig"
	}
	attFile := "" // the training provenance, stored beside the signature
	if _, err := os.Lstat(filepath.Join(model, oms.ProvenanceFile)); err == nil {
		attFile = oms.ProvenanceFile
	}
	if p.tosReq {
		if err := os.WriteFile(filepath.Join(model, coqui.TOSAgreedFile), []byte(coqui.TOSAgreedContent()), 0o600); err != nil {
			return fail(err)
		}
	}
	fg, err := filesGate(model, p.name, mp) // files.exclude, before hashing (files.go)
	if err != nil {
		r.Gates = append(r.Gates, fg)
		return fail(err)
	}
	m, known, err := buildManifest(ctx, model, hashed)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrGate, err))
	}
	entry := lockEntry(p, archives, m)
	entry.Revision, entry.OCI = r.Revision, r.OCI
	r.Root, r.Files, r.Bytes = entry.Root, m.Files, m.Bytes
	if o.ExpectRoot != "" {
		g := Gate{Name: "channel", OK: entry.Root == o.ExpectRoot, Detail: "the download hashes to the channel target's root digest " + o.ExpectRoot}
		if !g.OK {
			g.Detail = fmt.Sprintf("the download hashes to %s, the channel's signed target names %s: refusing bytes the channel did not publish", entry.Root, o.ExpectRoot)
		}
		r.Gates = append(r.Gates, g)
		if !g.OK {
			return fail(fmt.Errorf("%w: %s: channel: %s", ErrGate, p.name, g.Detail))
		}
	}

	// Gates and commit run inside one update of the lock file: pulls that
	// share it take turns from the pin check to the pin's update, so the pin
	// a pull checks is the pin it commits under (a concurrent lock update
	// cannot move it in between). A gate that fails writes nothing.
	lockPath, err := o.Policy.LockPath()
	if err != nil {
		return nil, err
	}
	var v *store.Version
	committed := false
	err = store.UpdateLock(lockPath, func(lf *store.LockFile) error {
		// Gate 1: pins.
		g, newPin, err := pinGate(o, lf, p.name, entry)
		g.Detail += revisionNote(g, entry.Revision) + ociNote(g, entry.OCI) // hub.go, oci.go
		r.Gates = append(r.Gates, g)
		if err != nil {
			return err
		}
		r.Pinned = newPin
		if newPin == "updated" {
			r.Changes = g.Detail
		}
		// Gate 2: signature.
		g, signer, err := withAlternates(model, oci.SignatureFile, alts[oci.SignatureFile], func() (Gate, string, error) {
			return signatureGate(ctx, o.Policy, p.name, model, filepath.Join(model, "model.sig"), known)
		})
		r.Gates = append(r.Gates, g)
		if err != nil {
			return err
		}
		// Gate 2b: training provenance (provenance.go).
		g, _, err = withAlternates(model, oms.ProvenanceFile, alts[oms.ProvenanceFile], func() (Gate, *lineage.Record, error) {
			return provenanceGate(ctx, o.Policy, p.name, model, known)
		})
		r.Gates = append(r.Gates, g)
		if err != nil {
			return err
		}
		// Gate 3: scan (checkpoints and coqui configs).
		g, summary, err := scanGate(ctx, o.Policy, model)
		r.Gates = append(r.Gates, g)
		if err != nil {
			return err
		}
		// Gate 4: what the new version changes, against the version it
		// replaces (update.go).
		ug, diff, err := updateGate(ctx, o, st, lf, p.name, model, entry.Root, m.Items)
		r.Diff = diff
		if ug != nil {
			r.Gates = append(r.Gates, *ug)
		}
		if err != nil {
			return err
		}
		prov := store.Provenance{Name: p.name, Requested: strings.Join(p.requested, " "), Sources: r.Sources, Time: t0.UTC(),
			Root: entry.Root, Signer: signer, SignatureFile: sigFile, AttestationFile: attFile, ScanSummary: summary, TTSGuardVersion: o.Version}
		if v, err = st.CommitHashed(ctx, p.name, model, m.Items, prov); err != nil {
			return err
		}
		committed = true
		if newPin == "matched" && !revisionAdded(lf, p.name, entry) { // hub.go
			return store.ErrUnchanged
		}
		lf.Entries[p.name] = entry
		return nil
	})
	r.Gates = append(r.Gates, fg) // reported after the others
	if err != nil && committed {
		return fail(fmt.Errorf("the model is stored but the lock file was not updated: %w", err))
	}
	if err != nil {
		return fail(err)
	}
	r.Dir, r.OK = v.Dir, true
	// The model is stored and pinned (OK); a requirement that fails is the
	// pull's error and its "requires" gate (deps.go).
	if err := pullRequires(ctx, o, p, r); err != nil {
		return fail(err)
	}
	r.ElapsedMS = float64(time.Since(t0).Microseconds()) / 1000
	return r, nil
}

func lockEntry(p *plan, archives map[string]string, m *manifest.Manifest) store.LockEntry {
	files := map[string]string{}
	for _, it := range m.Items {
		files[it.File] = fmt.Sprintf("%x", it.Digest)
	}
	if len(archives) == 0 {
		archives = nil
	}
	return store.LockEntry{Name: p.name, Source: p.requested, Archives: archives, Root: m.Root().String(), Files: files, Updated: time.Now().UTC().Truncate(time.Second)}
}

// pinGate checks the model against the policy pin and the lock file.
func pinGate(o Options, lf *store.LockFile, name string, got store.LockEntry) (Gate, string, error) {
	g := Gate{Name: "pin"}
	if d := o.Policy.ModelPolicy(name).Digest; d != "" && d != got.Root {
		g.Detail = fmt.Sprintf("the policy pins %s, the download hashes to %s", d, got.Root)
		return g, "", fmt.Errorf("%w: %s: pin: %s", ErrGate, name, g.Detail)
	}
	pinned, diff, err := lf.Check(name, got)
	changes := diff.String()
	if moved := revisionMoved(lf, name, got) + ociMoved(lf, name, got); moved != "" { // hub.go, oci.go
		changes = moved + "; " + changes
		if err == nil {
			err = store.ErrPinMismatch
		}
	}
	switch {
	case err != nil && o.Update:
		g.OK, g.Detail = true, "lock updated: "+changes
		return g, "updated", nil
	case err != nil:
		g.Detail = fmt.Sprintf("differs from the lock file (%s): %s; run `ttsguard lock update %s` to accept the new version", lf.Path, changes, name)
		return g, "", fmt.Errorf("%w: %s: pin: %s", ErrGate, name, g.Detail)
	case !pinned && o.Frozen:
		g.Detail = fmt.Sprintf("not pinned in %s and --frozen forbids adding pins", lf.Path)
		return g, "", fmt.Errorf("%w: %s: pin: %s", ErrGate, name, g.Detail)
	case !pinned:
		g.OK, g.Detail = true, fmt.Sprintf("first pull: pinned %s in %s (trust on first use)", got.Root, lf.Path)
		return g, "added", nil
	}
	g.OK, g.Detail = true, "matches the lock file"
	return g, "matched", nil
}
