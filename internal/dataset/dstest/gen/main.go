// Command gen writes the dataset audit's test corpus (clean and poisoned
// coqui datasets, see package dstest) into a folder, and prints each
// dataset with the findings it must raise:
//
//	go run ./internal/dataset/dstest/gen DIR
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/ttsguard/ttsguard/internal/dataset/dstest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen DIR")
		os.Exit(2)
	}
	for _, d := range dstest.Corpus() {
		root, err := d.Write(os.Args[1])
		if err != nil {
			fmt.Fprintf(os.Stderr, "gen: %v\n", err)
			os.Exit(1)
		}
		want := "clean"
		if len(d.Want) > 0 {
			want = strings.Join(d.Want, " ")
		}
		fmt.Printf("%s\t%s\t%s\n", root, d.Formatter, want)
	}
}
