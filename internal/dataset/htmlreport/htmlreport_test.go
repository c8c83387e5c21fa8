package htmlreport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"golang.org/x/net/html"

	"github.com/ttsguard/ttsguard/internal/dataset"
	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
	"github.com/ttsguard/ttsguard/internal/scan"
)

// Hostile strings a dataset can carry into the page.
const (
	idScript = `</script><script>alert(1)</script>`
	idQuote  = `q"uote'd&amp;<b>`
	idBidi   = "LJ\u202Egnp.exe"
	textEsc  = "The committee \x1b[8mmet\x1b]0;x\x07 twice during the winter."
)

// poisoned is a 44.1 kHz ljspeech dataset with a rate outlier pair
// (swapped transcripts), two inaudible tones, a missing and a silent clip,
// and hostile clip ids and transcripts.
func poisoned() *dstest.Dataset {
	rows := dstest.Base("LJ001-", 12)
	for i := range rows {
		rows[i].Clip.Rate = 44100
	}
	rows[0].Text, rows[11].Text = rows[11].Text, rows[0].Text
	rows[3].Clip.ToneHz, rows[3].Clip.ToneGain = 18500, 0.01
	rows[8].Clip.ToneHz, rows[8].Clip.ToneGain = 19200, 0.006
	rows[2].ID = idScript
	rows[4].ID, rows[4].Clip.Silent = idQuote, true
	rows[5].ID = idBidi
	rows[6].Text = textEsc
	d := dstest.LJSpeech("poisoned", rows)
	delete(d.Files, "wavs/"+idScript+".wav") // audio/missing
	return d
}

// speakers is a coqui dataset of two speakers, one with far less audio.
func speakers() *dstest.Dataset {
	return dstest.Coqui("speakers", dstest.Base("LJ002-", 12))
}

func audit(t testing.TB, d *dstest.Dataset) *dataset.Report {
	t.Helper()
	root, err := d.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := dataset.Audit(context.Background(), os.DirFS(root), root,
		dataset.Options{Formatter: d.Formatter, Workers: 2, LabelPoints: 2000})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func render(t testing.TB, rep *dataset.Report, opt Options) ([]byte, *html.Node) {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, rep, opt); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), doc
}

// DOM helpers.

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, c string) bool {
	return slices.Contains(strings.Fields(attr(n, "class")), c)
}

// all returns the elements under n named tag ("" for any) with class c
// ("" for any), in document order.
func all(n *html.Node, tag, c string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (tag == "" || n.Data == tag) && (c == "" || hasClass(n, c)) {
			out = append(out, n)
		}
		for k := n.FirstChild; k != nil; k = k.NextSibling {
			walk(k)
		}
	}
	walk(n)
	return out
}

func byID(n *html.Node, id string) *html.Node {
	for _, e := range all(n, "", "") {
		if attr(e, "id") == id {
			return e
		}
	}
	return nil
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for k := n.FirstChild; k != nil; k = k.NextSibling {
			walk(k)
		}
	}
	walk(n)
	return b.String()
}

// TestPageStructure: the summary, one scatter plot with every rate outlier
// marked, one spectrum per inaudible-tone finding, one bar per composition
// group, and every finding's clip in the findings table under its rule.
func TestPageStructure(t *testing.T) {
	rep := audit(t, poisoned())
	count := map[string]int{}
	for _, f := range rep.Findings {
		count[f.Rule]++
	}
	if count["label/rate-outlier"] != 2 || count["audio/inaudible-tone"] != 2 {
		t.Fatalf("the poisoned dataset's findings changed: %v", count)
	}
	_, doc := render(t, rep, Options{FailOn: scan.Medium, Version: "test", Generated: time.Unix(0, 0)})

	if v := byID(doc, "verdict"); v == nil || !hasClass(v, "fail") || !strings.Contains(text(v), "at or above medium") {
		t.Errorf("verdict %q", text(v))
	}
	if s := text(byID(doc, "summary")); !strings.Contains(s, "12 (as coqui reads them)") || !strings.Contains(s, "44100 Hz, 1 ch, pcm16") {
		t.Errorf("summary lacks rows or format: %q", s)
	}
	for _, c := range all(byID(doc, "counts"), "span", "sev") {
		sev := text(c)
		n := 0
		for _, f := range rep.Findings {
			if f.Severity.String() == sev {
				n++
			}
		}
		if got := strings.TrimSpace(text(c.Parent)); got != sev+" "+strconv.Itoa(n) {
			t.Errorf("count %q, want %q", got, sev+" "+strconv.Itoa(n))
		}
	}

	rate := byID(doc, "plot-rate")
	if n := len(all(rate, "svg", "")); n != 1 {
		t.Fatalf("%d SVGs in the rate plot", n)
	}
	outs := all(rate, "circle", "out")
	if len(outs) != count["label/rate-outlier"] {
		t.Errorf("%d outliers marked, %d rate-outlier findings", len(outs), count["label/rate-outlier"])
	}
	if pts := all(rate, "circle", "pt"); len(pts)+len(outs) != rep.Plots.PointsTotal {
		t.Errorf("%d dots for %d rows with audio", len(pts)+len(outs), rep.Plots.PointsTotal)
	}
	for _, f := range rep.Findings {
		if f.Rule != "label/rate-outlier" {
			continue
		}
		if !slices.ContainsFunc(outs, func(o *html.Node) bool { return strings.HasPrefix(text(o), visible(f.Clip)+" (") }) {
			t.Errorf("outlier %q has no marked dot", f.Clip)
		}
	}
	if len(all(rate, "line", "median")) != 1 {
		t.Errorf("no median rate line")
	}

	specs := all(byID(doc, "plots"), "figure", "plot-spectrum")
	if len(specs) != count["audio/inaudible-tone"] {
		t.Errorf("%d spectra for %d inaudible-tone findings", len(specs), count["audio/inaudible-tone"])
	}
	for _, s := range specs {
		p := all(s, "path", "spec")
		if len(p) != 1 || strings.Count(attr(p[0], "d"), "L") != 512 {
			t.Errorf("spectrum path: %d paths", len(p))
		}
		if len(all(s, "circle", "tone")) != 1 || len(all(s, "rect", "band")) != 1 {
			t.Errorf("spectrum lacks the tone mark or the band")
		}
	}

	if n := len(all(byID(doc, "plot-composition"), "rect", "bar")); n != len(rep.Composition) {
		t.Errorf("%d bars for %d composition groups", n, len(rep.Composition))
	}

	// the table: every finding in a row of its rule's group, with its clip
	groups := all(byID(doc, "findings"), "tbody", "rule")
	rows := 0
	for _, g := range groups {
		head := text(all(g, "tr", "group")[0])
		for _, tr := range all(g, "tr", "finding") {
			rows++
			if !strings.Contains(head, attr(tr, "data-rule")+":") {
				t.Errorf("row of %s under the group %q", attr(tr, "data-rule"), head)
			}
		}
	}
	if rows != len(rep.Findings) {
		t.Errorf("%d rows for %d findings", rows, len(rep.Findings))
	}
	cells := all(byID(doc, "findings"), "td", "clip")
	for _, f := range rep.Findings {
		if f.Clip == "" {
			continue
		}
		if !slices.ContainsFunc(cells, func(c *html.Node) bool { return text(c) == visible(f.Clip) }) {
			t.Errorf("finding %s of clip %q is not in the table", f.Rule, f.Clip)
		}
	}
	// groups: worst first, then the most findings
	var worst []scan.Severity
	for _, g := range groups {
		s, _ := dataset.ParseSeverity(text(all(g, "span", "sev")[0]))
		worst = append(worst, s)
	}
	if !slices.IsSortedFunc(worst, func(a, b scan.Severity) int { return int(b) - int(a) }) || len(worst) < 3 {
		t.Errorf("rule groups not worst first: %v", worst)
	}
}

// TestEscaping: hostile clip ids and transcripts neither add markup nor
// reach the page's text with their control, escape or bidi characters.
func TestEscaping(t *testing.T) {
	rep := audit(t, poisoned())
	raw, doc := render(t, rep, Options{FailOn: scan.Medium})
	checkInert(t, raw, doc)
	cells := all(doc, "td", "clip")
	for _, id := range []string{idScript, idQuote, idBidi} {
		if !slices.ContainsFunc(cells, func(c *html.Node) bool { return text(c) == visible(id) }) {
			t.Errorf("clip %q is not shown as %q", id, visible(id))
		}
	}
	if visible(idBidi) != `"LJ\u202egnp.exe"` {
		t.Errorf("bidi id shown as %s", visible(idBidi))
	}
	if !bytes.Contains(raw, []byte(`\x1b[8mmet`)) {
		t.Errorf("the terminal escape is not shown escaped")
	}
}

// checkInert asserts a page has no script, no external reference, no
// inline style beyond its hashed sheet, and no control, bidi or invisible
// character in any text or attribute.
func checkInert(t testing.TB, raw []byte, doc *html.Node) {
	t.Helper()
	if bytes.Contains(bytes.ToLower(raw), []byte("<script")) {
		t.Errorf("<script in the page's bytes")
	}
	for _, n := range all(doc, "", "") {
		switch n.Data {
		case "script", "iframe", "object", "embed", "img", "link", "base", "form", "a", "foreignobject", "use", "image":
			t.Errorf("a %s element", n.Data)
		}
		for _, a := range n.Attr {
			k := strings.ToLower(a.Key)
			if k == "style" || k == "src" || k == "href" || strings.HasPrefix(k, "on") || strings.HasSuffix(k, "href") {
				t.Errorf("attribute %s=%q on %s", a.Key, a.Val, n.Data)
			}
			if r, bad := hidden(a.Val); bad {
				t.Errorf("attribute %s of %s holds %U", a.Key, n.Data, r)
			}
		}
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			if r, bad := hidden(n.Data); bad {
				t.Errorf("text %q holds %U", n.Data, r)
			}
		}
		for k := n.FirstChild; k != nil; k = k.NextSibling {
			walk(k)
		}
	}
	walk(doc)
	styles := all(doc, "style", "")
	metas := all(doc, "meta", "")
	csp := ""
	for _, m := range metas {
		if strings.EqualFold(attr(m, "http-equiv"), "content-security-policy") {
			csp = attr(m, "content")
		}
	}
	if len(styles) != 1 {
		t.Fatalf("%d style elements", len(styles))
	}
	h := sha256.Sum256([]byte(text(styles[0])))
	want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
	if !strings.HasPrefix(csp, "default-src 'none';") || !strings.Contains(csp, want) || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q does not allow only the style sheet (%s)", csp, want)
	}
}

// hidden finds a character a page must not show raw: controls (but
// newline and tab of the markup), bidi and other format characters.
func hidden(s string) (rune, bool) {
	for _, r := range s {
		if r == '\n' || r == '\t' {
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			return r, true
		}
	}
	return 0, false
}

// TestComposition: one bar per speaker; a clean dataset passes with no
// findings and no spectra.
func TestComposition(t *testing.T) {
	rep := audit(t, speakers())
	_, doc := render(t, rep, Options{FailOn: scan.Medium})
	bars := all(byID(doc, "plot-composition"), "rect", "bar")
	if len(bars) != 2 || len(rep.Composition) != 2 {
		t.Fatalf("%d bars, %d groups", len(bars), len(rep.Composition))
	}
	for i, g := range rep.Composition {
		if got := text(bars[i]); !strings.HasPrefix(got, g.Speaker+": ") {
			t.Errorf("bar %d is %q, want speaker %s", i, got, g.Speaker)
		}
		if g.F0Clips == 0 || !strings.Contains(text(bars[i]), fmt.Sprintf("F0 %.0f Hz", g.F0Median)) {
			t.Errorf("bar %d (%q) lacks the F0 of %d clips", i, text(bars[i]), g.F0Clips)
		}
	}
	if v := byID(doc, "verdict"); !hasClass(v, "pass") {
		t.Errorf("clean dataset: verdict %q", text(v))
	}
	if byID(doc, "no-findings") == nil || len(all(doc, "figure", "plot-spectrum")) != 0 {
		t.Errorf("clean dataset: findings table or spectra present")
	}
}

// TestLimits: rows past MaxRowsPerRule are counted, not listed; past
// maxBars speakers, the most and the least are drawn; a report without
// plot data renders its notes.
func TestLimits(t *testing.T) {
	rep := &dataset.Report{Root: "r", Formatter: "ljspeech"}
	for i := range 7 {
		rep.Findings = append(rep.Findings, dataset.Finding{Rule: "audio/missing", Severity: scan.Medium, Clip: "c" + strconv.Itoa(i), Message: "m"})
	}
	rep.Findings = append(rep.Findings, dataset.Finding{Rule: "meta/path-escape", Severity: scan.High, Clip: "x", Message: "m"},
		dataset.Finding{Rule: "audio/clipping", Severity: scan.Low, Clip: "y", Message: "m"},
		dataset.Finding{Rule: "audio/zzz", Severity: scan.Low, Clip: "z1", Message: "m"},
		dataset.Finding{Rule: "audio/zzz", Severity: scan.Low, Clip: "z2", Message: "m"})
	for i := range 100 {
		rep.Composition = append(rep.Composition, dataset.Group{Speaker: "s" + strconv.Itoa(i), Split: "m.csv", Seconds: float64(i + 1)})
	}
	raw, doc := render(t, rep, Options{MaxRowsPerRule: 3, FailOn: scan.Critical})
	checkInert(t, raw, doc)
	var order []string
	for _, g := range all(doc, "tbody", "rule") {
		order = append(order, text(all(g, "code", "")[0]))
		if strings.Contains(text(g), "audio/missing") {
			if n := len(all(g, "tr", "finding")); n != 3 {
				t.Errorf("%d rows listed, want 3", n)
			}
			if m := all(g, "tr", "more"); len(m) != 1 || !strings.HasPrefix(text(m[0]), "4 more") {
				t.Errorf("no or wrong 'more' row")
			}
		}
	}
	if want := []string{"meta/path-escape", "audio/missing", "audio/zzz", "audio/clipping"}; !slices.Equal(order, want) {
		t.Errorf("groups %q, want %q", order, want)
	}
	if v := byID(doc, "verdict"); !hasClass(v, "pass") {
		t.Errorf("nothing at critical, verdict %q", text(v))
	}
	bars := all(byID(doc, "plot-composition"), "rect", "bar")
	if len(bars) != maxBars || !strings.HasPrefix(text(bars[0]), "s99:") || !strings.HasPrefix(text(bars[len(bars)-1]), "s0:") {
		t.Errorf("%d bars from %q to %q", len(bars), text(bars[0]), text(bars[len(bars)-1]))
	}
	if len(all(doc, "svg", "")) != 1 || !strings.Contains(text(byID(doc, "plots")), "No rows with decoded audio") {
		t.Errorf("a report without plot data draws plots")
	}
}

// TestWriteFile: the page replaces the file whole; a failed render or an
// unwritable place leaves the old file and no temporary one.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.html")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, nil, Options{}); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("nil report: error %v, want one naming %s", err, p)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("a failed render changed the file: %q", b)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "r.html"), &dataset.Report{}, Options{}); err == nil {
		t.Errorf("no error writing into a missing folder")
	}
	if err := WriteFile(p, &dataset.Report{Root: "r"}, Options{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.HasPrefix(b, []byte("<!DOCTYPE html>")) || !bytes.HasSuffix(b, []byte("</html>\n")) {
		t.Errorf("written page is not whole")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("left in the folder: %q", names)
	}
}

// FuzzRender: whatever a clip id, field or evidence holds, the page stays
// inert and shows the id in its visible form.
func FuzzRender(f *testing.F) {
	for _, s := range []string{idScript, idQuote, idBidi, textEsc, "\xff\xfe", "a\u2028b", "<svg onload=x>", "]]><!--", "\u200b"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, clip, msg string) {
		rep := &dataset.Report{Root: clip, Formatter: msg, MetaFiles: []string{clip},
			Findings:    []dataset.Finding{{Rule: msg, Severity: scan.High, File: clip, Line: 3, Clip: clip, Field: msg, Message: msg}},
			Composition: []dataset.Group{{Speaker: clip, Split: msg, Seconds: 1}},
			Plots: &dataset.Plots{Points: []dataset.LabelPoint{{Clip: clip, File: msg, Line: 1, Seconds: 1, Letters: 10, Outlier: true}}, PointsTotal: 1, MedianRate: 10,
				Spectra: []dataset.ClipSpectrum{{Clip: clip, File: msg, Audio: clip, Rate: 44100, BinHz: 44100.0 / 1024, BandHz: 16000, ToneHz: 18000, PowerDB: make([]float64, 513)}}, SpectraTotal: 1}}
		raw, doc := render(t, rep, Options{Version: msg})
		checkInert(t, raw, doc)
		cells := all(doc, "td", "clip")
		if len(cells) != 1 || text(cells[0]) != visible(clip) {
			t.Errorf("clip cell %q, want %q", text(cells[0]), visible(clip))
		}
	})
}

// TestSilenced: findings the policy silenced are listed apart, in a
// closed details element, and not in the findings table.
func TestSilenced(t *testing.T) {
	root, err := poisoned().Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := dataset.Audit(context.Background(), os.DirFS(root), root, dataset.Options{Formatter: "ljspeech", Workers: 2,
		Ignore: []dataset.Ignore{{Rule: "audio/missing", Reason: "test"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Silenced) != 1 {
		t.Fatalf("%d silenced", len(rep.Silenced))
	}
	raw, doc := render(t, rep, Options{FailOn: scan.Medium})
	checkInert(t, raw, doc)
	quiet := byID(doc, "silenced")
	if quiet == nil || len(all(quiet, "details", "")) != 1 {
		t.Fatal("no silenced section")
	}
	rows := all(quiet, "tr", "finding")
	if len(rows) != 1 || attr(rows[0], "data-rule") != "audio/missing" || text(all(rows[0], "td", "clip")[0]) != visible(idScript) {
		t.Errorf("silenced rows: %d", len(rows))
	}
	for _, tr := range all(byID(doc, "findings"), "tr", "finding") {
		if attr(tr, "data-rule") == "audio/missing" {
			t.Errorf("a silenced finding in the findings table")
		}
	}
}
