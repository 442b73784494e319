package httpapi

import (
	"bytes"
	_ "embed"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/docs"
)

//go:embed docs.html
var docsHTML string

// docsLayout frames every reference page: its title, the links between the
// pages, and the content.
var docsLayout = template.Must(template.New("docs").Parse(docsHTML))

// docPage is what docsLayout renders.
type docPage struct {
	Title string
	Nav   []docLink
	Body  template.HTML
}

type docLink struct{ Href, Title string }

var markdown = goldmark.New(
	goldmark.WithExtensions(extension.GFM),
	goldmark.WithParserOptions(parser.WithAutoHeadingID()),
)

// mdLink rewrites links between the Markdown files (webhooks.md) to the
// pages that serve them (/docs/webhooks).
var mdLink = regexp.MustCompile(`href="([a-z0-9-]+)\.md(#[^"]*)?"`)

// mdPages renders docs/*.md once: page name → HTML body and title.
var mdPages = sync.OnceValue(func() map[string]docPage {
	pages := map[string]docPage{}
	names, _ := fs.Glob(docs.Pages, "*.md")
	for _, name := range names {
		src, err := fs.ReadFile(docs.Pages, name)
		if err != nil {
			continue
		}
		var buf bytes.Buffer
		if err := markdown.Convert(src, &buf); err != nil {
			continue
		}
		title, _, _ := strings.Cut(string(src), "\n")
		body := mdLink.ReplaceAllString(buf.String(), `href="/docs/$1$2"`)
		pages[strings.TrimSuffix(name, ".md")] = docPage{Title: strings.TrimPrefix(title, "# "), Body: template.HTML(body)}
	}
	return pages
})

// docsNav lists the reference pages: options and errors, then every
// Markdown page.
func docsNav() []docLink {
	nav := []docLink{{"/", "Playground"}, {"/docs/options", "Options"}, {"/docs/errors", "Errors"}}
	pages := mdPages()
	for _, name := range sortedNames(pages) {
		nav = append(nav, docLink{"/docs/" + name, pages[name].Title})
	}
	return append(nav, docLink{"/openapi.json", "OpenAPI"})
}

func sortedNames(m map[string]docPage) []string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (s *Server) renderDoc(w http.ResponseWriter, p docPage) {
	p.Nav = docsNav()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = docsLayout.Execute(w, p)
}

// markdownDoc serves /docs/{page}: docs/{page}.md as HTML.
func (s *Server) markdownDoc(w http.ResponseWriter, r *http.Request) {
	p, ok := mdPages()[r.PathValue("page")]
	if !ok {
		s.writeError(w, r, pageshot.Errorf(pageshot.CodeNotFound, "There is no page %s; see /docs.", r.URL.Path))
		return
	}
	s.renderDoc(w, p)
}

// docsIndex serves /docs: the list of reference pages.
func (s *Server) docsIndex(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	b.WriteString("<h1>pageshot reference</h1>\n<ul>\n")
	for _, l := range docsNav()[1:] {
		b.WriteString(`<li><a href="` + template.HTMLEscapeString(l.Href) + `">` + template.HTMLEscapeString(l.Title) + "</a></li>\n")
	}
	b.WriteString("</ul>\n")
	s.renderDoc(w, docPage{Title: "Reference", Body: template.HTML(b.String())})
}

//go:embed options.html
var optionsHTML string

var optionsTable = template.Must(template.New("options").Parse(optionsHTML))

// optionDocs serves /docs/options, generated from the option table the Go
// client's Options share: HTML for people, JSON for programs that ask.
func (s *Server) optionDocs(w http.ResponseWriter, r *http.Request) {
	type entry struct {
		Name    string `json:"name"`
		Type    string `json:"type"`
		Default string `json:"default"`
		Range   string `json:"range"`
		Meaning string `json:"meaning"`
		Example string `json:"example"`
	}
	var list []entry
	for _, d := range pageshot.OptionDocs() {
		list = append(list, entry(d))
	}
	s.listDoc(w, r, "Capture options", "options", optionsTable, list)
}

// listDoc serves a generated reference list: as {"key": list} to a client
// that accepts JSON, otherwise as the HTML page title with page executed on
// list as its body.
func (s *Server) listDoc(w http.ResponseWriter, r *http.Request, title, key string, page *template.Template, list any) {
	if accepts(r, "application/json") {
		writeJSON(w, http.StatusOK, map[string]any{key: list})
		return
	}
	var body bytes.Buffer
	if err := page.Execute(&body, list); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.renderDoc(w, docPage{Title: title, Body: template.HTML(body.String())})
}
