package pageshot

// MetadataFields are the values the metadata option takes.
var MetadataFields = []string{"title", "description", "final_url", "status", "open_graph", "page_height", "truncated", "fonts", "colors"}

// DefaultColorsCount is how many colours metadata colors gives when
// colors_count is not set.
const DefaultColorsCount = 5

// Metadata is what a capture tells about the page besides its picture,
// asked for with the metadata option.
type Metadata struct {
	Title       string
	Description string // the description meta tag, else og:description
	FinalURL    string // after redirects
	Status      int    // of the main document
	// OpenGraph holds the page's og: properties, without the prefix
	// ("title", "image", …); the first of a repeated one.
	OpenGraph  map[string]string
	PageHeight int  // CSS pixels, the whole page's
	Truncated  bool // the full-page capture was cut
	// Fonts are the families the text was rendered with, by the number of
	// glyphs drawn, most first.
	Fonts []string
	// Colors is the dominant palette of the image, #rrggbb, most common
	// first.
	Colors []string
}

// Fields returns the members of m that names asks for, keyed as in the
// metadata option, for the json answer.
func (m *Metadata) Fields(names []string) map[string]any {
	out := map[string]any{}
	for _, n := range names {
		switch n {
		case "title":
			out[n] = m.Title
		case "description":
			out[n] = m.Description
		case "final_url":
			out[n] = m.FinalURL
		case "status":
			out[n] = m.Status
		case "open_graph":
			og := m.OpenGraph
			if og == nil {
				og = map[string]string{}
			}
			out[n] = og
		case "page_height":
			out[n] = m.PageHeight
		case "truncated":
			out[n] = m.Truncated
		case "fonts":
			out[n] = nonNil(m.Fonts)
		case "colors":
			out[n] = nonNil(m.Colors)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
