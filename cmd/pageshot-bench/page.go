package main

import (
	_ "embed"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"
)

// siteCSS is the page's stylesheet, served as /static/site.css.
//
//go:embed site.css
var siteCSS string

// pageTargetSize is the size the article's HTML grows to, in bytes.
const pageTargetSize = 100_000

// pageServer serves the article page that every capture takes, on
// 127.0.0.1 and a free port.
type pageServer struct {
	// URL is the address of the article.
	URL string
	// HTMLBytes, PNGBytes and PNGCount describe what one page load fetches;
	// SVGCount is the number of inline SVG images.
	HTMLBytes, PNGBytes, PNGCount, SVGCount, CSSBytes int

	srv *http.Server
}

// startPageServer generates the page and its images and starts serving them.
func startPageServer() (*pageServer, error) {
	imgs, err := pngImages()
	if err != nil {
		return nil, fmt.Errorf("start page server: %w", err)
	}
	html, svgs := articleHTML()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /article", serveBytes("text/html; charset=utf-8", []byte(html)))
	mux.HandleFunc("GET /static/site.css", serveBytes("text/css; charset=utf-8", []byte(siteCSS)))
	mux.HandleFunc("GET /card", serveBytes("text/html; charset=utf-8", []byte(cardHTML))) // load's cached capture
	ps := &pageServer{HTMLBytes: len(html), SVGCount: svgs, CSSBytes: len(siteCSS)}
	for name, data := range imgs {
		mux.HandleFunc("GET /static/"+name, serveBytes("image/png", data))
		ps.PNGBytes += len(data)
		ps.PNGCount++
	}

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start page server: %w", err)
	}
	ps.URL = "http://" + ln.Addr().String() + "/article"
	ps.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go ps.srv.Serve(ln) // returns ErrServerClosed on Close
	return ps, nil
}

// Close stops the server.
func (ps *pageServer) Close() error { return ps.srv.Close() }

// serveBytes answers every request with data. Nothing is cacheable, so that
// a capture in a fresh browser context always fetches the whole page, as
// it would the first time from a real site.
func serveBytes(contentType string, data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "no-store")
		w.Write(data)
	}
}

// words feed the generated prose.
var words = strings.Fields(`the a of to and in that is for it with as on be by this are from
at or an was which screenshot browser page render request server latency capture image queue
worker pool context network cache header viewport pixel layout font style script timeout retry
quota plan key storage bucket region deploy release version client response status error
metric trace sample median percentile throughput load memory process thread signal proxy
policy address host domain redirect document frame element selector table column row value
team user customer product report chart figure result test build pipeline stable fast slow
simple careful small large early later often rarely every each most many several few first
last next previous measure compare observe reduce improve keep start stop wait run write read
send receive parse encode decode store fetch serve open close warm cold fresh shared single`)

// articleHTML generates a realistic article page of about pageTargetSize
// bytes: header with navigation, hero image, sections of prose, figures
// (PNG and inline SVG), a quote, lists, a code sample, a data table, a
// sidebar and a footer. It returns the HTML and its number of inline SVGs.
func articleHTML() (string, int) {
	r := rand.New(rand.NewPCG(2026, 1))
	var b strings.Builder
	svgs := 1 // the logo
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Running a screenshot service at scale: notes from a year in production</title>
<link rel="stylesheet" href="/static/site.css"></head><body>
<header class="site"><a class="brand" href="#">` + logoSVG + `<span>Render Weekly</span></a>
<nav><a href="#">Articles</a><a href="#">Guides</a><a href="#">Benchmarks</a><a href="#">Changelog</a><a href="#" class="cta">Subscribe</a></nav></header>
<div class="layout"><main><article>
<p class="kicker">Engineering · 14 min read</p>
<h1>Running a screenshot service at scale: notes from a year in production</h1>
<p class="byline"><img src="/static/avatar.png" width="48" height="48" alt=""> By Ada Example · Updated March 2026</p>
<img class="hero" src="/static/hero.png" width="1200" height="420" alt="Abstract waves">
`)
	for sec := 1; b.Len() < pageTargetSize-1500; sec++ {
		fmt.Fprintf(&b, "<section id=\"s%d\"><h2>%d. %s</h2>\n", sec, sec, title(r))
		for range 2 + r.IntN(3) {
			b.WriteString("<p>" + paragraph(r) + "</p>\n")
		}
		switch sec % 6 {
		case 1:
			fmt.Fprintf(&b, "<figure><img src=\"/static/chart-%d.png\" width=\"640\" height=\"320\" alt=\"Bar chart\"><figcaption>Figure %d. %s.</figcaption></figure>\n", 1+sec/6%3, sec, sentence(r, 8))
		case 2:
			b.WriteString("<figure>" + lineChartSVG(r, 60) + "<figcaption>Requests per second, one week.</figcaption></figure>\n")
			svgs++
		case 3:
			b.WriteString("<blockquote><p>" + sentence(r, 18) + "</p><cite>— a reader</cite></blockquote>\n")
			b.WriteString("<ul>")
			for range 5 {
				b.WriteString("<li>" + sentence(r, 10) + "</li>")
			}
			b.WriteString("</ul>\n")
		case 4:
			b.WriteString(dataTable(r, 24))
		case 5:
			b.WriteString(`<pre><code>ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
defer cancel()
img, err := renderer.Capture(ctx, opts)
if err != nil {
	return fmt.Errorf("capture %s: %w", opts.URL, err)
}</code></pre>` + "\n")
		case 0:
			b.WriteString(`<div class="callout">` + donutSVG([]float64{0.42, 0.27, 0.18, 0.13}) + "<p>" + paragraph(r) + "</p></div>\n")
			svgs++
		}
		b.WriteString("</section>\n")
	}
	b.WriteString(`</article></main><aside><h3>Related</h3><ol>`)
	for range 8 {
		b.WriteString(`<li><a href="#">` + title(r) + `</a></li>`)
	}
	b.WriteString(`</ol><h3>Newsletter</h3><p>` + sentence(r, 16) + `</p><form><input type="email" placeholder="you@example.com"><button type="button">Sign up</button></form></aside></div>
<footer><p>© 2026 Render Weekly · <a href="#">Privacy</a> · <a href="#">Terms</a></p></footer></body></html>`)
	return b.String(), svgs
}

// dataTable returns a table of rows made-up benchmark results.
func dataTable(r *rand.Rand, rows int) string {
	var b strings.Builder
	b.WriteString(`<table><caption>Capture times by region and format</caption><thead><tr><th>Region</th><th>Format</th><th>Captures</th><th>p50 (ms)</th><th>p95 (ms)</th><th>Errors</th></tr></thead><tbody>`)
	regions := []string{"eu-west", "eu-central", "us-east", "us-west", "ap-south", "ap-northeast"}
	formats := []string{"png", "jpeg", "webp", "pdf"}
	for i := range rows {
		p50 := 180 + r.IntN(400)
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%.2f%%</td></tr>",
			regions[i%len(regions)], formats[r.IntN(len(formats))], 1000+r.IntN(90000), p50, p50+r.IntN(900), r.Float64()*2)
	}
	b.WriteString("</tbody></table>\n")
	return b.String()
}

// paragraph returns three to six sentences.
func paragraph(r *rand.Rand) string {
	s := make([]string, 3+r.IntN(4))
	for i := range s {
		s[i] = sentence(r, 8+r.IntN(14))
	}
	return strings.Join(s, " ")
}

// sentence returns n words, capitalised and ending with a full stop, some of
// them emphasised or linked.
func sentence(r *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = words[r.IntN(len(words))]
		if i == 0 {
			w[i] = strings.ToUpper(w[i][:1]) + w[i][1:]
		}
		switch r.IntN(40) {
		case 0:
			w[i] = "<em>" + w[i] + "</em>"
		case 1:
			w[i] = `<a href="#">` + w[i] + "</a>"
		}
	}
	return strings.Join(w, " ") + "."
}

// title returns a short heading of capitalised words.
func title(r *rand.Rand) string {
	w := make([]string, 3+r.IntN(4))
	for i := range w {
		word := words[r.IntN(len(words))]
		w[i] = strings.ToUpper(word[:1]) + word[1:]
	}
	return strings.Join(w, " ")
}
