package coqui

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ErrNotFound is the category of a model id a catalog does not have
// (*NotFoundError wraps it).
var ErrNotFound = errors.New("model not in the coqui catalog")

// NotFoundError is a model id that Resolve cannot resolve.
type NotFoundError struct {
	ID      string
	Catalog string
	Close   []string // catalog ids close to ID, best first (at most 5)
}

func (e *NotFoundError) Error() string {
	s := fmt.Sprintf("model %q is not in the coqui catalog %q", e.ID, e.Catalog)
	if len(e.Close) > 0 {
		s += "; close matches: " + strings.Join(e.Close, ", ")
	}
	return s
}

// Unwrap returns ErrNotFound.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// Where coqui's ModelManager (idiap/coqui-ai-TTS, TTS/utils/manage.py)
// downloads the models it builds without a catalog entry.
const (
	fairseqURLPrefix = "https://dl.fbaipublicfiles.com/mms/tts/"
	xttsURLPrefix    = "https://huggingface.co/coqui/XTTS-v2/resolve/"
)

// xttsFiles are the files of an XTTS-v2 version, in coqui's order.
var xttsFiles = []string{"model.pth", "config.json", "vocab.json", "hash.md5", "speakers_xtts.pth"}

// xttsVersion is coqui's test for a version in an XTTS name.
var xttsVersion = regexp.MustCompile(`v\d+\.\d+\.\d+`)

// Resolve returns a copy of the entry of a model id, resolved the way coqui's
// ModelManager._set_model_item does:
//
//   - an id whose dataset is "fairseq" (tts_models/<iso639-3>/fairseq/vits)
//     is Meta's MMS model: one tar.gz at
//     https://dl.fbaipublicfiles.com/mms/tts/<language>.tar.gz, whatever the
//     catalog holds (coqui looks for "fairseq" in the id first);
//   - an XTTS name without slashes (xtts_v2.0.2, xtts) is
//     tts_models/multilingual/multi-dataset/<name>, the five XTTS-v2 files at
//     the Hugging Face revision the name carries (main without one), terms
//     of service required;
//   - any other id must be in the catalog exactly (case-sensitive).
//
// A model that is not found is a *NotFoundError (wrapping ErrNotFound) that
// lists close matches; a malformed id is an error from ParseID.
func (c *Catalog) Resolve(id string) (*Entry, error) {
	if !strings.Contains(id, "/") && strings.Contains(id, "xtts") && segment.MatchString(id) && len(id) <= maxIDLen-40 {
		return xttsEntry(id), nil
	}
	typ, lang, ds, name, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	if ds == "fairseq" && typ == TypeTTS {
		return fairseqEntry(id, lang, name), nil
	}
	if e, ok := c.entries[id]; ok {
		return e.clone(), nil
	}
	return nil, &NotFoundError{ID: id, Catalog: c.name, Close: c.closeMatches(id)}
}

// clone copies an entry deeply enough that callers may change it.
func (e *Entry) clone() *Entry {
	out := *e
	out.URLs = slices.Clone(e.URLs)
	out.Files = slices.Clone(e.Files)
	out.Hub = e.Hub.clone()
	if e.Raw != nil {
		out.Raw = deepCopy(e.Raw).(map[string]any)
	}
	return &out
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

func fairseqEntry(id, lang, name string) *Entry {
	return &Entry{
		ID: id, Type: TypeTTS, Language: lang, Dataset: "fairseq", Name: name,
		URLs: []string{fairseqURLPrefix + lang + ".tar.gz"}, Shape: ShapeTarGz,
		License: "CC BY-NC 4.0", Author: "fairseq",
		Description: "this model is released by Meta under Fairseq repo. Visit https://github.com/facebookresearch/fairseq/tree/main/examples/mms for more info.",
		Synthetic:   true,
	}
}

func xttsEntry(name string) *Entry {
	version := "main"
	if xttsVersion.MatchString(name) {
		// coqui takes the text after the last "_" as the revision.
		version = name[strings.LastIndex(name, "_")+1:]
	}
	e := &Entry{
		ID: TypeTTS + "/multilingual/multi-dataset/" + name, Type: TypeTTS, Language: "multilingual",
		Dataset: "multi-dataset", Name: name, Shape: ShapeFiles, TOSRequired: true,
		License: "CPML", Contact: "info@coqui.ai", Synthetic: true,
	}
	for _, f := range xttsFiles {
		u := xttsURLPrefix + version + "/" + f
		e.URLs = append(e.URLs, u)
		e.Files = append(e.Files, File{URL: u, Name: f})
	}
	return e
}

// closeMatches returns up to 5 catalog ids close to id: a small edit
// distance, or the same model name, best first.
func (c *Catalog) closeMatches(id string) []string {
	if len(id) > maxIDLen {
		return nil
	}
	type cand struct {
		id   string
		dist int
	}
	name := id[strings.LastIndex(id, "/")+1:]
	limit := max(3, len(id)/4)
	var cands []cand
	for _, other := range c.ids {
		d := distance(strings.ToLower(id), strings.ToLower(other))
		if other[strings.LastIndex(other, "/")+1:] == name {
			d = min(d, limit)
		}
		if d <= limit {
			cands = append(cands, cand{other, d})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if a.dist != b.dist {
			return a.dist - b.dist
		}
		return strings.Compare(a.id, b.id)
	})
	var out []string
	for i := 0; i < len(cands) && i < 5; i++ {
		out = append(out, cands[i].id)
	}
	return out
}

// distance is the Levenshtein distance between a and b, in bytes.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
