package htmlreport

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/ttsguard/ttsguard/internal/scan"
)

// chromium finds the browser: $TTSGUARD_CHROMIUM_BIN, else chromium,
// chromium-browser or google-chrome on PATH.
func chromium(t *testing.T) string {
	if b := os.Getenv("TTSGUARD_CHROMIUM_BIN"); b != "" {
		return b
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatal("TTSGUARD_CHROMIUM=1 but no chromium on PATH (scripts/e2e-html.sh installs Debian's)")
	return ""
}

// headless runs the browser on page with args; it returns stdout and
// stderr (console messages are logged there).
func headless(t *testing.T, bin, page string, args ...string) (stdout, stderr []byte) {
	t.Helper()
	// a guard against a hung browser, not a measure of speed
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), "file://"+page)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, e.Bytes())
	}
	return o.Bytes(), e.Bytes()
}

// shot is a rendered page: what a reader would see.
type shot struct {
	img  image.Image
	dom  *html.Node
	logs string
}

func render2(t *testing.T, page, keep string) shot {
	t.Helper()
	bin := chromium(t)
	dir := t.TempDir()
	pngPath := filepath.Join(dir, "page.png")
	_, logs := headless(t, bin, page, "--window-size=1280,3600", "--screenshot="+pngPath)
	dump, logs2 := headless(t, bin, page, "--dump-dom")
	f, err := os.Open(pngPath)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dom, err := html.Parse(bytes.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	if keep != "" {
		b, _ := os.ReadFile(pngPath)
		os.WriteFile(keep+".png", b, 0o644)
		os.WriteFile(keep+".dom.html", dump, 0o644)
	}
	return shot{img: img, dom: dom, logs: string(logs) + string(logs2)}
}

// colour counts the pixels within tol (per channel) of an RGB colour and
// finds the first row holding at least 5 of them (-1 when none): a stray
// antialiased pixel elsewhere does not place a plot.
func colour(img image.Image, rgb uint32, tol int) (n, firstRow int) {
	want := [3]int{int(rgb >> 16 & 0xff), int(rgb >> 8 & 0xff), int(rgb & 0xff)}
	firstRow = -1
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		inRow := 0
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			got := [3]int{int(r >> 8), int(g >> 8), int(bl >> 8)}
			ok := true
			for i := range got {
				if d := got[i] - want[i]; d > tol || d < -tol {
					ok = false
				}
			}
			if ok {
				n++
				inRow++
			}
		}
		if inRow >= 5 && firstRow < 0 {
			firstRow = y
		}
	}
	return n, firstRow
}

// nonWhite is the share of pixels that are not (near) white.
func nonWhite(img image.Image) float64 {
	b := img.Bounds()
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 < 245 || g>>8 < 245 || bl>>8 < 245 {
				n++
			}
		}
	}
	return float64(n) / float64(b.Dx()*b.Dy())
}

// checkRendered holds for every page: the browser applied the style sheet
// (the CSP let it through), ran nothing, and drew something.
func checkRendered(t *testing.T, s shot) {
	t.Helper()
	if strings.Contains(s.logs, "Content Security Policy") || strings.Contains(s.logs, "Refused to") {
		t.Errorf("the browser refused something:\n%s", s.logs)
	}
	if n := len(all(s.dom, "script", "")); n > 0 {
		t.Errorf("%d script elements in the rendered DOM", n)
	}
	if len(all(s.dom, "svg", "")) == 0 {
		t.Errorf("no SVG in the rendered DOM")
	}
	if f := nonWhite(s.img); f < 0.01 {
		t.Errorf("the screenshot is blank: %.2f%% not white", 100*f)
	}
	// the verdict box is coloured only when the style sheet applied
	fail, _ := colour(s.img, 0xfde2e1, 3)
	pass, _ := colour(s.img, 0xdff3e4, 3)
	if fail+pass < 500 {
		t.Errorf("no verdict background (%d px): the style sheet was not applied", fail+pass)
	}
}

// TestChromium renders the poisoned dataset's report (and every page
// named in $TTSGUARD_HTML_FILES, space-separated) in a real headless
// Chromium: the dumped DOM holds the plots and the table, and the
// screenshot shows the plots, top to bottom, in their colours (not a pixel
// comparison). TTSGUARD_CHROMIUM=1 runs it; scripts/e2e-html.sh installs
// chromium and runs it; $TTSGUARD_HTML_OUT keeps the screenshots and DOMs.
func TestChromium(t *testing.T) {
	if os.Getenv("TTSGUARD_CHROMIUM") != "1" {
		t.Skip("TTSGUARD_CHROMIUM=1 runs the headless Chromium check")
	}
	keep := func(name string) string {
		if d := os.Getenv("TTSGUARD_HTML_OUT"); d != "" {
			return filepath.Join(d, name)
		}
		return ""
	}
	t.Run("poisoned", func(t *testing.T) {
		rep := audit(t, poisoned())
		page := filepath.Join(t.TempDir(), "report.html")
		if k := keep("poisoned"); k != "" {
			page = k + ".html"
		}
		if err := WriteFile(page, rep, Options{FailOn: scan.Medium, Version: "e2e", Generated: time.Now()}); err != nil {
			t.Fatal(err)
		}
		s := render2(t, page, keep("poisoned"))
		checkRendered(t, s)
		count := map[string]int{}
		for _, f := range rep.Findings {
			count[f.Rule]++
		}
		// the DOM as the browser built it
		svgs := len(all(s.dom, "svg", ""))
		if want := 1 + count["audio/inaudible-tone"] + 1; svgs != want {
			t.Errorf("%d SVGs rendered, want %d (rate, %d spectra, composition)", svgs, want, count["audio/inaudible-tone"])
		}
		if n := len(all(s.dom, "circle", "out")); n != count["label/rate-outlier"] {
			t.Errorf("%d outlier dots, %d findings", n, count["label/rate-outlier"])
		}
		if n := len(all(s.dom, "tr", "finding")); n != len(rep.Findings) {
			t.Errorf("%d table rows, %d findings", n, len(rep.Findings))
		}
		cells := all(s.dom, "td", "clip")
		for _, id := range []string{idScript, idQuote, idBidi} {
			found := false
			for _, c := range cells {
				found = found || text(c) == visible(id)
			}
			if !found {
				t.Errorf("clip %q not shown as %q in the rendered table", id, visible(id))
			}
		}
		// the screenshot: each plot's colour present, in page order
		marks := []struct {
			what string
			rgb  uint32
			tol  int
			min  int
		}{
			{"rate outliers (red dots)", 0xd32f2f, 8, 60},
			{"inaudible band", 0xfff3e0, 2, 5000},
			{"spectrum line", 0x3f51b5, 30, 200},
			{"composition bars", 0x5c8fd6, 4, 1000},
		}
		last := -1
		for _, m := range marks {
			n, row := colour(s.img, m.rgb, m.tol)
			t.Logf("%s: %d px from row %d", m.what, n, row)
			if n < m.min {
				t.Errorf("%s: %d pixels of #%06x, want at least %d", m.what, n, m.rgb, m.min)
			}
			if row < last {
				t.Errorf("%s (row %d) above the plot before it (row %d)", m.what, row, last)
			}
			last = row
		}
	})
	for i, page := range strings.Fields(os.Getenv("TTSGUARD_HTML_FILES")) {
		t.Run(fmt.Sprintf("file%d", i), func(t *testing.T) {
			abs, err := filepath.Abs(page)
			if err != nil {
				t.Fatal(err)
			}
			k := ""
			if keep("x") != "" {
				k = strings.TrimSuffix(abs, ".html")
			}
			s := render2(t, abs, k)
			checkRendered(t, s)
			t.Logf("%s: %d SVGs, %d spectra, %d outlier dots, %d bars, %d table rows, %.1f%% not white", page,
				len(all(s.dom, "svg", "")), len(all(s.dom, "figure", "plot-spectrum")), len(all(s.dom, "circle", "out")),
				len(all(s.dom, "rect", "bar")), len(all(s.dom, "tr", "finding")), 100*nonWhite(s.img))
		})
	}
}
