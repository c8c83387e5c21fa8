// Command server is the loopback HTTPS static file server of scripts/bench-pull.sh.
//
// It is a module of its own (stdlib only) so that `go vet ./...` and `go test ./...`
// of ttsguard do not see it. It serves -dir over TLS on 127.0.0.1 with HTTP Range
// support (http.FileServer), labels every file application/octet-stream, and writes
// the port it listens on to -portfile once it accepts connections.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

func main() {
	dir := flag.String("dir", ".", "folder to serve")
	cert := flag.String("cert", "", "server certificate chain (PEM)")
	key := flag.String("key", "", "server private key (PEM)")
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	portfile := flag.String("portfile", "", "write the port here once listening")
	flag.Parse()

	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	files := http.FileServer(http.Dir(*dir))
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/octet-stream")
			files.ServeHTTP(w, r)
		}),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(os.Stderr, "server: ", log.LstdFlags),
	}
	if *portfile != "" {
		port := ln.Addr().(*net.TCPAddr).Port
		tmp := filepath.Join(filepath.Dir(*portfile), ".port.tmp")
		if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d\n", port), 0o600); err != nil {
			log.Fatal(err)
		}
		if err := os.Rename(tmp, *portfile); err != nil {
			log.Fatal(err)
		}
	}
	log.Fatal(srv.ServeTLS(ln, "", ""))
}
