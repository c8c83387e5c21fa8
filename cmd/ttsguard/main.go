// Command ttsguard secures the models a coqui TTS service loads.
package main

import (
	"os"

	"github.com/ttsguard/ttsguard/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
