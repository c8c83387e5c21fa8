// Command fakehub serves folders as Hugging Face Hub repositories on loopback, over TLS, with the Hub's
// API and resolve shapes (internal/hub/hubtest), for scripts/e2e-tts.sh: ttsguard pulls hf:// sources
// from it (HF_ENDPOINT, SSL_CERT_FILE) where the real Hub cannot be reached. Not part of the product.
//
//	fakehub --ca FILE --repo OWNER/REPO=DIR [--repo ...]
//
// It writes the servers' certificate to FILE, prints the endpoint (https://127.0.0.1:PORT) on standard
// output, then its CDN's (where LFS files redirect), and serves until SIGTERM or SIGINT.
package main

import (
	"encoding/pem"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ttsguard/ttsguard/internal/hub/hubtest"
)

type repos []string

func (r *repos) String() string     { return strings.Join(*r, ",") }
func (r *repos) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	var rs repos
	ca := flag.String("ca", "", "write the servers' certificate (PEM) to this file")
	flag.Var(&rs, "repo", "OWNER/REPO=DIR: serve the files of DIR as the main branch of OWNER/REPO (repeatable)")
	flag.Parse()
	if *ca == "" || len(rs) == 0 {
		fmt.Fprintln(os.Stderr, "usage: fakehub --ca FILE --repo OWNER/REPO=DIR [--repo ...]")
		os.Exit(2)
	}
	s := hubtest.Start()
	defer s.Close()
	for _, r := range rs {
		id, dir, ok := strings.Cut(r, "=")
		if !ok {
			fail(fmt.Errorf("--repo %q: want OWNER/REPO=DIR", r))
		}
		files := map[string][]byte{}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			b, err := os.ReadFile(p)
			files[filepath.ToSlash(rel)] = b
			return err
		})
		if err != nil {
			fail(fmt.Errorf("--repo %q: %w", r, err))
		}
		fmt.Fprintf(os.Stderr, "fakehub: %s: %d files, commit %s\n", id, len(files), s.Commit(id, "main", files))
	}
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Hub.Certificate().Raw})
	pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.CDN.Certificate().Raw})...)
	if err := os.WriteFile(*ca, pemData, 0o644); err != nil {
		fail(err)
	}
	fmt.Println(s.Hub.URL)
	fmt.Println(s.CDN.URL)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fakehub:", err)
	os.Exit(1)
}
