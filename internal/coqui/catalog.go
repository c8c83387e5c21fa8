package coqui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
)

// Limits on a catalog (coqui's own is about 50 KB with under 100 models).
const (
	MaxCatalogSize = 16 << 20 // bytes of a catalog file
	MaxURLs        = 256      // URLs of one entry
)

// ErrCatalog is the category of every error that says a catalog is
// unreadable or malformed.
var ErrCatalog = errors.New("invalid coqui catalog")

// How an entry's files are downloaded, as coqui's ModelManager does it.
const (
	// ShapeArchive: one zip (github_rls_url or hf_url given as one string);
	// coqui extracts it and moves every file to the top of the model folder.
	ShapeArchive = "archive"
	// ShapeFiles: a list of URLs (hf_url, or github_rls_url as a list); each
	// file is saved under its URL's last path segment.
	ShapeFiles = "files"
	// ShapeTarGz: one .tar.gz whose single top-level folder is flattened
	// (the fairseq MMS models).
	ShapeTarGz = "tar.gz"
	// ShapeNone: the entry names no URL and no repository (such as knnvc,
	// which coqui builds from other downloads); there is nothing to fetch.
	// (ShapeHub, a Hugging Face repository, is in hub.go.)
	ShapeNone = "none"
)

// File is one file of a ShapeFiles entry.
type File struct {
	URL string
	// Name is the file's name in coqui's model folder: the URL's last path
	// segment, except that the only "*.pt*" file of the list is named
	// model.pth, as coqui renames it after the download.
	Name string
}

// Entry is one model of a catalog.
type Entry struct {
	ID                            string // "tts_models/en/ljspeech/vits"
	Type, Language, Dataset, Name string
	// URLs are the download URLs, in catalog order: one archive (zip or
	// tar.gz) or the files of a list; none for ShapeNone and ShapeHub.
	URLs []string
	// Shape says how URLs are downloaded and laid out (Shape* constants).
	Shape string
	// URLKey is the catalog key the URLs come from: "github_rls_url" (which
	// coqui prefers when both are given) or "hf_url"; "" for a synthetic
	// entry or ShapeNone.
	URLKey string
	// Files are the URLs with their names in the model folder (ShapeFiles
	// only).
	Files []File
	// Hub is the Hugging Face repository of a ShapeHub entry (repo_id,
	// revision, allow, ignore); nil otherwise.
	Hub *HubRef
	// TOSRequired: coqui refuses to load the model without tos_agreed.txt
	// (see TOSAgreedFile).
	TOSRequired          bool
	License, Description string
	Author, Contact      string
	Commit               string
	// ModelHash is the catalog's model_hash (an MD5 coqui compares with the
	// downloaded hash.md5 to notice upstream updates; not a security check).
	ModelHash string
	// DefaultVocoder is the id of the vocoder coqui pairs with the model, or "".
	DefaultVocoder string
	// Synthetic: the entry is not in the catalog but built the way coqui's
	// ModelManager builds it (fairseq ids, XTTS version names).
	Synthetic bool
	// Raw is the catalog entry as decoded JSON (numbers as json.Number); nil
	// for a synthetic entry.
	Raw map[string]any
}

// Catalog is a parsed coqui catalog.
type Catalog struct {
	name    string
	entries map[string]*Entry
	ids     []string // sorted
}

// Name returns the name the catalog was loaded under (its path).
func (c *Catalog) Name() string { return c.name }

// IDs returns every model id of the catalog, sorted.
func (c *Catalog) IDs() []string { return slices.Clone(c.ids) }

// Len returns the number of models.
func (c *Catalog) Len() int { return len(c.ids) }

// LoadCatalog reads a catalog file in coqui's .models.json format; see
// ParseCatalog.
func LoadCatalog(path string) (*Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrCatalog, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrCatalog, path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w %q: not a regular file", ErrCatalog, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxCatalogSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrCatalog, path, err)
	}
	return ParseCatalog(path, data)
}

// catalogError is the error for one place in a catalog.
func catalogError(name, where, format string, args ...any) error {
	if where != "" {
		where += ": "
	}
	return fmt.Errorf("%w %q: %s%s", ErrCatalog, name, where, fmt.Sprintf(format, args...))
}

// ParseCatalog parses a catalog: a JSON object type -> language -> dataset ->
// model name -> entry, where "//" line comments outside strings are removed
// first, as coqui's read_json_with_comments does. Every key must be a valid
// id part (see ParseID); the keys coqui reads must have the types coqui
// expects (strings or null, tos_required a boolean, github_rls_url and hf_url
// a URL or a non-empty list of absolute http(s) URLs, repo_id a Hub repository
// id, allow and ignore a pattern or a list of patterns); other keys are kept
// in Entry.Raw. Errors name the catalog and the model, and wrap ErrCatalog.
func ParseCatalog(name string, data []byte) (*Catalog, error) {
	if len(data) > MaxCatalogSize {
		return nil, catalogError(name, "", "larger than %d bytes", MaxCatalogSize)
	}
	data = stripLineComments(data)
	top, err := object(data)
	if err != nil {
		return nil, catalogError(name, "", "%v", err)
	}
	c := &Catalog{name: name, entries: map[string]*Entry{}}
	for _, typ := range sortedKeys(top) {
		langs, err := level(top[typ], typ, "_models", "a model type")
		if err != nil {
			return nil, catalogError(name, typ, "%v", err)
		}
		for _, lang := range sortedKeys(langs) {
			datasets, err := level(langs[lang], lang, "", "a language")
			if err != nil {
				return nil, catalogError(name, typ+"/"+lang, "%v", err)
			}
			for _, ds := range sortedKeys(datasets) {
				models, err := level(datasets[ds], ds, "", "a dataset")
				if err != nil {
					return nil, catalogError(name, typ+"/"+lang+"/"+ds, "%v", err)
				}
				for _, m := range sortedKeys(models) {
					id := typ + "/" + lang + "/" + ds + "/" + m
					e, err := parseEntry(id, models[m])
					if err != nil {
						return nil, catalogError(name, id, "%v", err)
					}
					c.entries[id] = e
					c.ids = append(c.ids, id)
				}
			}
		}
	}
	slices.Sort(c.ids)
	return c, nil
}

// level decodes one level of the catalog tree after checking its key.
func level(raw json.RawMessage, key, suffix, what string) (map[string]json.RawMessage, error) {
	if !segment.MatchString(key) || len(key) > maxIDLen || !strings.HasSuffix(key, suffix) {
		return nil, fmt.Errorf("invalid key %q for %s", key, what)
	}
	return object(raw)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// stringKeys are the entry keys read as a string or null.
var stringKeys = []string{"description", "license", "author", "contact", "commit", "model_hash", "default_vocoder"}

// parseEntry decodes one model entry.
func parseEntry(id string, raw json.RawMessage) (*Entry, error) {
	typ, lang, ds, name, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	members, err := object(raw)
	if err != nil {
		return nil, err
	}
	e := &Entry{ID: id, Type: typ, Language: lang, Dataset: ds, Name: name}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&e.Raw); err != nil {
		return nil, err
	}
	strs := map[string]*string{"description": &e.Description, "license": &e.License, "author": &e.Author,
		"contact": &e.Contact, "commit": &e.Commit, "model_hash": &e.ModelHash, "default_vocoder": &e.DefaultVocoder}
	for _, k := range stringKeys {
		if v, ok := members[k]; ok {
			if err := nullableString(v, strs[k]); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	if v, ok := members["tos_required"]; ok {
		if err := json.Unmarshal(v, &e.TOSRequired); err != nil || jsonKind(v) != "a boolean" {
			return nil, fmt.Errorf("tos_required: want true or false, got %s", jsonKind(v))
		}
	}
	if e.DefaultVocoder != "" {
		if _, _, _, _, err := ParseID(e.DefaultVocoder); err != nil {
			return nil, fmt.Errorf("default_vocoder: %w", err)
		}
	}
	if e.Hub, err = parseHub(members); err != nil {
		return nil, err
	}
	// coqui downloads github_rls_url when present, else the repo_id
	// repository (coqui-tts 0.24 and later), else hf_url (coqui-ai/TTS).
	for _, k := range []string{"github_rls_url", "hf_url"} {
		v, ok := members[k]
		if !ok || e.URLKey != "" || (k == "hf_url" && e.Hub != nil) {
			continue
		}
		if err := e.setURLs(k, v); err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	switch {
	case e.URLKey != "":
		e.Hub = nil // not what coqui downloads
	case e.Hub != nil:
		e.Shape = ShapeHub
	default:
		e.Shape = ShapeNone
	}
	return e, nil
}

func nullableString(v json.RawMessage, dst *string) error {
	switch jsonKind(v) {
	case "null":
		*dst = ""
		return nil
	case "a string":
		return json.Unmarshal(v, dst)
	}
	return fmt.Errorf("want a string or null, got %s", jsonKind(v))
}

// setURLs reads github_rls_url or hf_url: one URL (an archive) or a list of
// file URLs.
func (e *Entry) setURLs(key string, v json.RawMessage) error {
	switch jsonKind(v) {
	case "a string":
		var u string
		if err := json.Unmarshal(v, &u); err != nil {
			return err
		}
		if err := checkURL(u); err != nil {
			return err
		}
		e.URLKey, e.Shape, e.URLs = key, ShapeArchive, []string{u}
		return nil
	case "a list":
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			return fmt.Errorf("want a list of URLs: %w", err)
		}
		if len(list) == 0 {
			return fmt.Errorf("empty list of URLs")
		}
		if len(list) > MaxURLs {
			return fmt.Errorf("more than %d URLs", MaxURLs)
		}
		files, err := filesOf(list)
		if err != nil {
			return err
		}
		e.URLKey, e.Shape, e.URLs, e.Files = key, ShapeFiles, list, files
		return nil
	}
	return fmt.Errorf("want a URL or a list of URLs, got %s", jsonKind(v))
}

// checkURL accepts an absolute http or https URL with a host and no
// userinfo. Whether a URL may be fetched is the trust policy's decision.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%q: want an absolute http or https URL without userinfo", s)
	}
	return nil
}

// filesOf names each URL of a file list the way coqui saves it: the last
// path segment (coqui splits the URL at "/"), then the single "*.pt*" file
// renamed model.pth. Names must be plain file names and unique.
func filesOf(list []string) ([]File, error) {
	files := make([]File, 0, len(list))
	names := make([]string, 0, len(list))
	seen := map[string]bool{}
	for _, s := range list {
		if err := checkURL(s); err != nil {
			return nil, err
		}
		u, _ := url.Parse(s)
		if u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("%q: a file URL with a query or fragment has no clear file name", s)
		}
		n := path.Base(u.Path)
		if u.Path == "" || strings.HasSuffix(u.Path, "/") || n == "." || n == ".." || n == "/" ||
			strings.ContainsAny(n, "\\\x00") || strings.ContainsFunc(n, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, fmt.Errorf("%q: no usable file name", s)
		}
		if seen[n] {
			return nil, fmt.Errorf("two URLs save to %q", n)
		}
		seen[n] = true
		files = append(files, File{URL: s, Name: n})
		names = append(names, n)
	}
	// (model.pth itself matches "*.pt*", so a rename never replaces a file.)
	if from, ok := CheckpointRename(names); ok {
		for i := range files {
			if files[i].Name == from {
				files[i].Name = "model.pth"
			}
		}
	}
	return files, nil
}
