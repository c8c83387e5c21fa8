package htmlreport

import (
	"html/template"
	"strconv"
)

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"f":   func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"add": func(a, b float64) float64 { return a + b },
	"sub": func(a, b float64) float64 { return a - b },
}).Parse(pageHTML))

const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{.CSP}}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ttsguard dataset audit: {{.Root}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<header>
<h1>ttsguard dataset audit</h1>
<div class="mono" id="root">{{.Root}}</div>
<div class="verdict {{if .Failed}}fail{{else}}pass{{end}}" id="verdict">{{.Verdict}}</div>
</header>

<section id="summary">
<h2>Summary</h2>
<dl class="summary">
<dt>Formatter</dt><dd>{{.Formatter}}</dd>
<dt>Metadata</dt><dd class="mono">{{range $i, $m := .MetaFiles}}{{if $i}}, {{end}}{{$m}}{{else}}none read{{end}}</dd>
<dt>Rows</dt><dd>{{.Rows}} (as coqui reads them)</dd>
<dt>Clips decoded</dt><dd>{{.Clips}}</dd>
<dt>Audio</dt><dd>{{.Audio}}</dd>
{{if .Majority}}<dt>Majority format</dt><dd>{{.Majority}}</dd>{{end}}
<dt>Root digest</dt><dd class="mono">{{if .RootDigest}}{{.RootDigest}}{{else if .DigestError}}none ({{.DigestError}}){{else}}not computed{{end}}</dd>
</dl>
<div class="counts" id="counts">{{range .Counts}}<span class="count-{{.Sev}}"><span class="sev sev-{{.Sev}}">{{.Sev}}</span> {{.Count}}</span>{{end}}</div>
{{if .Silenced}}<p>{{.Silenced}} finding(s) silenced by the policy (dataset.ignore): listed at the end, they do not count towards the verdict.</p>{{end}}
</section>

<section id="plots">
<h2>Transcript length against duration</h2>
<figure id="plot-rate">
{{with .Scatter}}<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{f .W}} {{f .H}}" width="{{f .W}}" height="{{f .H}}" role="img" aria-label="letters against seconds per clip">
{{range .XTicks}}<line class="grid" x1="{{f .Pos}}" x2="{{f .Pos}}" y1="{{f $.Scatter.Top}}" y2="{{f $.Scatter.Bottom}}"/><text x="{{f .Pos}}" y="{{f $.Scatter.Bottom}}" dy="16" text-anchor="middle">{{.Label}}</text>
{{end}}{{range .YTicks}}<line class="grid" x1="{{f $.Scatter.Left}}" x2="{{f $.Scatter.Right}}" y1="{{f .Pos}}" y2="{{f .Pos}}"/><text x="{{f $.Scatter.Left}}" y="{{f .Pos}}" dx="-6" dy="4" text-anchor="end">{{.Label}}</text>
{{end}}<line class="axis" x1="{{f .Left}}" x2="{{f .Right}}" y1="{{f .Bottom}}" y2="{{f .Bottom}}"/><line class="axis" x1="{{f .Left}}" x2="{{f .Left}}" y1="{{f .Top}}" y2="{{f .Bottom}}"/>
<text x="{{f .MidX}}" y="{{f .H}}" dy="-6" text-anchor="middle">{{.XLabel}}</text>
<text x="14" y="{{f .MidY}}" transform="rotate(-90 14 {{f .MidY}})" text-anchor="middle">{{.YLabel}}</text>
{{with .Median}}<line class="median" x1="{{f .X1}}" y1="{{f .Y1}}" x2="{{f .X2}}" y2="{{f .Y2}}"/>{{end}}
{{range .Points}}<circle class="pt" cx="{{f .X}}" cy="{{f .Y}}" r="2.5"/>{{end}}
{{range .Outliers}}<circle class="out" cx="{{f .X}}" cy="{{f .Y}}" r="5"><title>{{.Title}}</title></circle>{{end}}
</svg>
<figcaption>Each dot is a clip; the large red dots are label/rate-outlier findings (a transcript that does not fit its audio: swapped or smuggled labels){{if .Rate}}; the dashed line is the dataset's median speaking rate, {{.Rate}} letters a second{{end}}. {{$.ScatterNote}}</figcaption>
{{else}}<p class="note">{{.ScatterNote}}</p>{{end}}
</figure>

<h2>Spectra of clips with an inaudible tone</h2>
{{range $i, $s := .Spectra}}<figure class="plot-spectrum">
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{f .W}} {{f .H}}" width="{{f .W}}" height="{{f .H}}" role="img" aria-label="power spectrum of a flagged clip">
<rect class="band" x="{{f .BandX}}" y="{{f .Top}}" width="{{f (sub .Right .BandX)}}" height="{{f (sub .Bottom .Top)}}"/>
{{range .XTicks}}<line class="grid" x1="{{f .Pos}}" x2="{{f .Pos}}" y1="{{f $s.Top}}" y2="{{f $s.Bottom}}"/><text x="{{f .Pos}}" y="{{f $s.Bottom}}" dy="16" text-anchor="middle">{{.Label}}</text>
{{end}}{{range .YTicks}}<line class="grid" x1="{{f $s.Left}}" x2="{{f $s.Right}}" y1="{{f .Pos}}" y2="{{f .Pos}}"/><text x="{{f $s.Left}}" y="{{f .Pos}}" dx="-6" dy="4" text-anchor="end">{{.Label}}</text>
{{end}}<line class="axis" x1="{{f .Left}}" x2="{{f .Right}}" y1="{{f .Bottom}}" y2="{{f .Bottom}}"/><line class="axis" x1="{{f .Left}}" x2="{{f .Left}}" y1="{{f .Top}}" y2="{{f .Bottom}}"/>
<line class="edge" x1="{{f .BandX}}" x2="{{f .BandX}}" y1="{{f .Top}}" y2="{{f .Bottom}}"/>
<text x="{{f .MidX}}" y="{{f .H}}" dy="-6" text-anchor="middle">{{.XLabel}}</text>
<text x="14" y="{{f .MidY}}" transform="rotate(-90 14 {{f .MidY}})" text-anchor="middle">{{.YLabel}}</text>
<path class="spec" d="{{.Path}}"/>
<circle class="tone" cx="{{f .ToneX}}" cy="{{f .ToneY}}" r="7"><title>{{.Caption}}</title></circle>
</svg>
<figcaption>Clip <code class="clip">{{.Clip}}</code> ({{.Where}}, <code>{{.Audio}}</code>): {{.Caption}}.</figcaption>
</figure>
{{end}}{{if .SpectraNote}}<p class="note">{{.SpectraNote}}</p>{{end}}

<h2>Composition per speaker</h2>
<figure id="plot-composition">
{{with .Bars}}<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{f .W}} {{f .H}}" width="{{f .W}}" height="{{f .H}}" role="img" aria-label="audio per speaker">
<line class="axis" x1="{{f (add .LabelX 6)}}" x2="{{f (add .LabelX 6)}}" y1="0" y2="{{f .H}}"/>
{{range .Bars}}<text class="lbl" x="{{f $.Bars.LabelX}}" y="{{f .Y}}" dy="12" text-anchor="end">{{.Label}}<title>{{.Full}}</title></text><rect class="bar" x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="16"><title>{{.Full}}: {{.Value}}</title></rect><text x="{{f .TextX}}" y="{{f .Y}}" dy="12">{{.Value}}</text>
{{end}}</svg>
<figcaption>Audio per speaker{{if gt .More 0}} (the {{len .Bars}} with the most and the least audio; {{.More}} more in <code>--json</code>){{end}}; the share of the dataset's distinct letters each speaker's transcripts cover; F0: the median pitch of the speaker's clips (10th–90th percentile).</figcaption>
{{else}}<p class="note">No rows.</p>{{end}}
</figure>
</section>

<section id="findings">
<h2>Findings</h2>
{{if .Groups}}{{template "table" .Groups}}{{else}}<p id="no-findings">No findings.</p>{{end}}
</section>

{{if .Quiet}}<section id="silenced">
<details>
<summary>{{.Silenced}} finding(s) silenced by the policy (dataset.ignore)</summary>
{{template "table" .Quiet}}
</details>
</section>
{{end}}
<footer>ttsguard {{.Version}}{{if .Generated}} · {{.Generated}}{{end}} · a self-contained page: no script, no request (Content-Security-Policy).</footer>
</body>
</html>
{{define "table"}}<table class="findings">
<thead><tr><th>Severity</th><th>Where</th><th>Clip</th><th>Field</th><th>Evidence</th></tr></thead>
{{range .}}<tbody class="rule">
<tr class="group"><th colspan="5"><span class="sev sev-{{.Worst}}">{{.Worst}}</span> <code>{{.Rule}}</code>: {{.Count}} finding{{if ne .Count 1}}s{{end}} ({{.Counts}})</th></tr>
{{range .Rows}}<tr class="finding" data-rule="{{.Rule}}"><td><span class="sev sev-{{.Sev}}">{{.Sev}}</span></td><td class="mono where">{{.Where}}</td><td class="mono clip">{{.Clip}}</td><td>{{.Field}}</td><td class="msg">{{.Message}}</td></tr>
{{end}}{{if .More}}<tr class="more"><td colspan="5">{{.More}} more of this rule in <code>--json</code></td></tr>
{{end}}</tbody>
{{end}}</table>{{end}}`
