// Package ui prints command results as text or JSON. Core packages never
// import it: they return result structs, and the CLI hands them to a Printer.
package ui

import (
	"encoding/json"
	"fmt"
	"io"
)

// Texter is implemented by results that know how to describe themselves to a person.
type Texter interface {
	Text(w io.Writer) error
}

// Printer writes results in one format.
type Printer struct {
	W    io.Writer
	JSON bool
}

// Print writes v as indented JSON when p.JSON, else through its Text method
// (or fmt's default format when it has none).
func (p Printer) Print(v any) error {
	if p.JSON {
		enc := json.NewEncoder(p.W)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	if t, ok := v.(Texter); ok {
		return t.Text(p.W)
	}
	_, err := fmt.Fprintln(p.W, v)
	return err
}
