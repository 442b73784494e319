// Package docs holds pageshot's reference pages, written in Markdown next to
// this file and embedded in the binary, which serves each NAME.md at
// /docs/NAME.
package docs

import "embed"

// Pages holds the *.md files of this directory.
//
//go:embed *.md
var Pages embed.FS
