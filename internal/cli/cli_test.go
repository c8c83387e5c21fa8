package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ttsguard/ttsguard/internal/oci/ocitest"
	"github.com/ttsguard/ttsguard/internal/testutil"
)

// scriptChannels are the static sites scripts started, by URL.
var scriptChannels sync.Map // URL -> *staticSite

// staticSite serves the files of a folder that can be swapped.
type staticSite struct{ dir atomic.Value }

func (s *staticSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	http.FileServer(http.Dir(s.dir.Load().(string))).ServeHTTP(w, r)
}

// scriptRegistries are the registries scripts started, by host.
var scriptRegistries sync.Map // host -> *ocitest.Registry

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ttsguard": func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) },
		// ttsguard-rc runs ttsguard, prints "exit code N" to stderr and exits 0,
		// so scripts can assert the exact exit code.
		"ttsguard-rc": func() {
			fmt.Fprintf(os.Stderr, "exit code %d\n", Main(os.Args[1:], os.Stdout, os.Stderr))
			os.Exit(0)
		},
	})
}

// TestScripts runs the end-to-end CLI scripts in testdata/script. $VECTORS is
// ../shared/vectors/oms.
func TestScripts(t *testing.T) {
	vec, _ := filepath.Abs(testutil.Vectors(t))
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("VECTORS", vec)
			corpus, _ := filepath.Abs("../scan/testdata/corpus")
			e.Setenv("CORPUS", corpus)
			examples, _ := filepath.Abs("../../examples")
			e.Setenv("EXAMPLES", examples)
			ckpt, _ := filepath.Abs("../tensors/testdata/ckpt")
			e.Setenv("CKPT", ckpt)
			vits, _ := filepath.Abs("../inspect/testdata")
			e.Setenv("VITS", vits)
			e.Setenv("TTSGUARD_HOME", filepath.Join(e.WorkDir, "store"))
			e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, "xdg"))
			return nil
		},
		// [root]: the tests run as root (a root-owned store: the fast path's stat records count).
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// mkfile SIZE PATH: a file of SIZE bytes.
			"mkfile": func(ts *testscript.TestScript, neg bool, args []string) {
				n, err := strconv.Atoi(args[0])
				ts.Check(err)
				ts.Check(os.WriteFile(ts.MkAbs(args[1]), bytes.Repeat([]byte("x"), n), 0o644))
			},
			// mkbin PATH: a small binary file of no known format.
			"mkbin": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00binary"), 0o644))
			},
			// replace PATH OLD NEW: replace the first OLD with NEW (OLD must occur).
			"replace": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 3 {
					ts.Fatalf("usage: replace PATH OLD NEW")
				}
				data, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				if !bytes.Contains(data, []byte(args[1])) {
					ts.Fatalf("%s does not contain %q", args[0], args[1])
				}
				ts.Check(os.WriteFile(ts.MkAbs(args[0]), bytes.Replace(data, []byte(args[1]), []byte(args[2]), 1), 0o600))
			},
			// registry [-noreferrers] [-blob DIGEST FILE] [-corrupt-largest]: start an in-process OCI
			// registry over TLS for the rest of the script: $REGISTRY is its
			// host:port and $WORK/registry.pem its certificate. With -blob, replace
			// the registry's stored blob DIGEST by FILE's bytes (storage tampered
			// behind the registry's back); with -corrupt-largest flip a byte of its
			// largest blob.
			"registry": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) == 1 && args[0] == "-corrupt-largest" {
					r, ok := scriptRegistries.Load(ts.Getenv("REGISTRY"))
					if !ok {
						ts.Fatalf("registry -corrupt-largest: no registry started")
					}
					r.(*ocitest.Registry).CorruptLargest()
					return
				}
				if len(args) == 3 && args[0] == "-blob" {
					data, err := os.ReadFile(ts.MkAbs(args[2]))
					ts.Check(err)
					r, ok := scriptRegistries.Load(ts.Getenv("REGISTRY"))
					if !ok {
						ts.Fatalf("registry -blob: no registry started")
					}
					r.(*ocitest.Registry).SetBlob(args[1], data)
					return
				}
				r := ocitest.Start(len(args) == 0 || args[0] != "-noreferrers")
				scriptRegistries.Store(r.Host, r)
				ts.Defer(r.Close)
				ts.Setenv("REGISTRY", r.Host)
				ts.Check(os.WriteFile(ts.MkAbs("registry.pem"), r.CertPEM(), 0o644))
			},
			// channelserve DIR BUNDLE: serve DIR as a static HTTPS site for the
			// rest of the script ($CHANNEL is its URL); its certificate is
			// appended to BUNDLE. channelserve -swap DIR serves DIR instead (a
			// mirror that changes what it serves).
			"channelserve": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: channelserve DIR BUNDLE | channelserve -swap DIR")
				}
				if args[0] == "-swap" {
					s, ok := scriptChannels.Load(ts.Getenv("CHANNEL"))
					if !ok {
						ts.Fatalf("channelserve -swap: no channel served")
					}
					s.(*staticSite).dir.Store(ts.MkAbs(args[1]))
					return
				}
				site := &staticSite{}
				site.dir.Store(ts.MkAbs(args[0]))
				srv := httptest.NewTLSServer(site)
				ts.Defer(srv.Close)
				ts.Setenv("CHANNEL", srv.URL)
				scriptChannels.Store(srv.URL, site)
				f, err := os.OpenFile(ts.MkAbs(args[1]), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
				ts.Check(err)
				ts.Check(pem.Encode(f, &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
				ts.Check(f.Close())
			},
			// cpdir SRC DST: copy a folder tree (files and folders only).
			"cpdir": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Check(os.CopyFS(ts.MkAbs(args[1]), os.DirFS(ts.MkAbs(args[0]))))
			},
			// sha256 FILE VAR: set $VAR to the hex SHA-256 of FILE.
			"sha256": func(ts *testscript.TestScript, neg bool, args []string) {
				b, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Setenv(args[1], fmt.Sprintf("%x", sha256.Sum256(b)))
			},
			// mkfifo PATH
			"mkfifo": func(ts *testscript.TestScript, neg bool, args []string) {
				ts.Check(syscall.Mkfifo(ts.MkAbs(args[0]), 0o644))
			},
			// flipbyte PATH OFFSET: invert one byte.
			"flipbyte": func(ts *testscript.TestScript, neg bool, args []string) {
				p := ts.MkAbs(args[0])
				b, err := os.ReadFile(p)
				ts.Check(err)
				off, err := strconv.Atoi(args[1])
				ts.Check(err)
				if off >= len(b) {
					ts.Fatalf("offset %d past end of %s", off, p)
				}
				b[off] ^= 0xff
				ts.Check(os.WriteFile(p, b, 0o644))
			},
			// truncate PATH N: keep the first N bytes.
			"truncate": func(ts *testscript.TestScript, neg bool, args []string) {
				n, err := strconv.ParseInt(args[1], 10, 64)
				ts.Check(err)
				ts.Check(os.Truncate(ts.MkAbs(args[0]), n))
			},
		},
	})
}
