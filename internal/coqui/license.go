package coqui

import (
	"fmt"
	"strings"
)

// License is the licence a catalog entry names, with what coqui knows of it.
type License struct {
	Name  string // as the catalog writes it ("CPML"); "" when it names none
	Title string // the licence's full name, "" when unknown
	URL   string // where to read it (coqui's LICENSE_URLS), "" when unknown
}

// licenseURLs is coqui-tts 0.28's LICENSE_URLS (TTS/utils/manage.py), which
// print_model_license shows; keys are lower case. coqui.ai no longer serves
// the CPML: coqui-tts points at its copy on tts-hub.github.io.
var licenseURLs = map[string]string{
	"cc by-nc-nd 4.0": "https://creativecommons.org/licenses/by-nc-nd/4.0/",
	"mpl":             "https://www.mozilla.org/en-US/MPL/2.0/",
	"mpl2":            "https://www.mozilla.org/en-US/MPL/2.0/",
	"mpl 2.0":         "https://www.mozilla.org/en-US/MPL/2.0/",
	"mit":             "https://choosealicense.com/licenses/mit/",
	"apache 2.0":      "https://choosealicense.com/licenses/apache-2.0/",
	"apache2":         "https://choosealicense.com/licenses/apache-2.0/",
	"cc-by-sa 4.0":    "https://creativecommons.org/licenses/by-sa/4.0/",
	"cpml":            "https://tts-hub.github.io/cpml",
}

// licenseTitles are the full names of the licences of coqui's own models
// that need agreement (tos_required).
var licenseTitles = map[string]string{
	"cpml": "Coqui Public Model License (non-commercial use; commercial use needs a licence from Coqui)",
}

// LicenseOf returns what coqui knows of the licence the catalog calls name.
func LicenseOf(name string) License {
	name = strings.TrimSpace(name)
	key := strings.ToLower(name)
	return License{Name: name, Title: licenseTitles[key], URL: licenseURLs[key]}
}

// LicenseInfo returns the entry's licence (LicenseOf its "license").
func (e *Entry) LicenseInfo() License { return LicenseOf(e.License) }

// String names the licence for a message, the catalog's name quoted:
// `licence "CPML", the Coqui Public Model License (...), at URL`.
func (l License) String() string {
	if l.Name == "" {
		return "the catalog names no licence"
	}
	s := fmt.Sprintf("licence %q", l.Name)
	if l.Title != "" {
		s += ", the " + l.Title
	}
	if l.URL != "" {
		return s + ", at " + l.URL
	}
	return s + ", with no address in the catalog to read it at"
}
