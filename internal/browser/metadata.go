package browser

import (
	"bytes"
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"image"
	"slices"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/chromedp"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/palette"
)

//go:embed js/metadata.js
var metadataJS string

type pageFacts struct {
	Title       string            `json:"title"`
	Description string            `json:"description"`
	OpenGraph   map[string]string `json:"openGraph"`
	PageHeight  int               `json:"pageHeight"`
}

// metadata gathers what Options.Metadata asks for, once the picture data
// is taken: the page's own facts, the fonts that drew its text and the
// image's dominant colours.
func (r *renderer) metadata(ctx context.Context, data []byte, status int, finalURL string) (*pageshot.Metadata, error) {
	o := r.o
	wants := func(f string) bool { return slices.Contains(o.Metadata, f) }
	facts, err := eval[pageFacts](ctx, "("+metadataJS+")("+fmt.Sprint(wants("fonts"))+")")
	if err != nil {
		return nil, fmt.Errorf("read metadata: %w", err)
	}
	md := &pageshot.Metadata{
		Title: facts.Title, Description: facts.Description, OpenGraph: facts.OpenGraph, PageHeight: facts.PageHeight,
		FinalURL: finalURL, Status: status, Truncated: r.truncated,
	}
	if o.HTML != "" {
		md.FinalURL = ""
	}
	if wants("fonts") {
		if md.Fonts, err = r.fonts(ctx); err != nil {
			return nil, err
		}
	}
	if wants("colors") {
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("decode capture for colors: %w", err)
		}
		for _, c := range palette.Dominant(img, o.ColorsCount) {
			md.Colors = append(md.Colors, c.Hex())
		}
	}
	return md, nil
}

// fonts asks the browser which platform fonts drew the text of the
// elements metadata.js marked, and returns their families by glyphs drawn,
// most first. The DOM and CSS domains, off for every capture's speed, are
// turned on for this only.
func (r *renderer) fonts(ctx context.Context) ([]string, error) {
	if _, err := chromedp.Call(ctx, dom.Enable, dom.EnableParams{}); err != nil {
		return nil, fmt.Errorf("enable DOM domain: %w", err)
	}
	if _, err := chromedp.Call(ctx, css.Enable, cdp.Empty{}); err != nil {
		return nil, fmt.Errorf("enable CSS domain: %w", err)
	}
	doc, err := chromedp.Call(ctx, dom.GetDocument, dom.GetDocumentParams{Depth: new(int64(0))})
	if err != nil || doc.Root == nil {
		return nil, fmt.Errorf("get document: %w", err)
	}
	nodes, err := chromedp.Call(ctx, dom.QuerySelectorAll, dom.QuerySelectorAllParams{NodeID: doc.Root.NodeID, Selector: "[data-pageshot-font]"})
	if err != nil {
		return nil, fmt.Errorf("find text elements: %w", err)
	}
	glyphs := map[string]float64{}
	for _, id := range nodes.NodeIDs {
		res, err := chromedp.Call(ctx, css.GetPlatformFontsForNode, css.GetPlatformFontsForNodeParams{NodeID: id})
		if err != nil {
			continue // the node went away; the others still tell
		}
		for _, f := range res.Fonts {
			glyphs[f.FamilyName] += f.GlyphCount
		}
	}
	families := make([]string, 0, len(glyphs))
	for f := range glyphs {
		families = append(families, f)
	}
	slices.SortFunc(families, func(a, b string) int { return cmp.Or(cmp.Compare(glyphs[b], glyphs[a]), cmp.Compare(a, b)) })
	return families, nil
}
