// Package filter implements pageshot.RequestFilter with AdGuard's urlfilter
// engine over filter lists in the EasyList format: a small default list of
// ads and one of trackers ship in the binary (lists/), and an operator adds
// full lists (EasyList, EasyPrivacy) as files.
package filter

import (
	_ "embed"
	"fmt"
	"net/url"
	"os"
	"slices"

	"github.com/AdguardTeam/urlfilter"
	"github.com/AdguardTeam/urlfilter/filterlist"
	"github.com/AdguardTeam/urlfilter/rules"

	"github.com/pageshot/pageshot"
)

var (
	//go:embed lists/ads.txt
	defaultAds string
	//go:embed lists/trackers.txt
	defaultTrackers string
)

// Config names the list files added to the default lists.
type Config struct {
	AdLists      []string // files of ad lists, added to lists/ads.txt
	TrackerLists []string // files of tracker lists, added to lists/trackers.txt
}

// Filter holds one engine per kind of list. Its engines are built once and
// only read afterwards, so it is safe for concurrent use.
type Filter struct {
	engines map[pageshot.FilterList]*urlfilter.Engine
}

var _ pageshot.RequestFilter = (*Filter)(nil)

// New reads the default lists and the files of cfg and builds the engines.
// A file that cannot be read is an error.
func New(cfg Config) (*Filter, error) {
	f := &Filter{engines: map[pageshot.FilterList]*urlfilter.Engine{}}
	for _, k := range []struct {
		list  pageshot.FilterList
		def   string
		files []string
	}{
		{pageshot.FilterAds, defaultAds, cfg.AdLists},
		{pageshot.FilterTrackers, defaultTrackers, cfg.TrackerLists},
	} {
		texts := []string{k.def}
		for _, path := range k.files {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read %s list: %w", k.list, err)
			}
			texts = append(texts, string(b))
		}
		var lists []filterlist.Interface
		for i, text := range texts {
			lists = append(lists, filterlist.NewString(&filterlist.StringConfig{ID: rules.ListID(i + 1), RulesText: text}))
		}
		storage, err := filterlist.NewRuleStorage(lists)
		if err != nil {
			return nil, fmt.Errorf("load %s lists: %w", k.list, err)
		}
		f.engines[k.list] = urlfilter.NewEngine(storage)
	}
	return f, nil
}

// requestTypes maps block_resources names to the engine's request types.
var requestTypes = map[string]rules.RequestType{
	"document":    rules.TypeDocument,
	"subdocument": rules.TypeSubdocument,
	"script":      rules.TypeScript,
	"stylesheet":  rules.TypeStylesheet,
	"image":       rules.TypeImage,
	"xhr":         rules.TypeXmlhttprequest,
	"fetch":       rules.TypeXmlhttprequest,
	"eventsource": rules.TypeXmlhttprequest,
	"media":       rules.TypeMedia,
	"font":        rules.TypeFont,
	"websocket":   rules.TypeWebsocket,
	"ping":        rules.TypePing,
}

// Blocks implements pageshot.RequestFilter. An exception rule (@@) of a list
// lets a request through that list only.
func (f *Filter) Blocks(lists []pageshot.FilterList, rawURL, pageURL, resourceType string) bool {
	typ, ok := requestTypes[resourceType]
	if !ok {
		typ = rules.TypeOther
	}
	for _, l := range lists {
		e := f.engines[l]
		if e == nil {
			continue
		}
		res := e.MatchRequest(rules.NewRequest(rawURL, pageURL, typ))
		if r := res.GetBasicResult(); r != nil && !r.Whitelist {
			return true
		}
	}
	return false
}

// HidingSelectors implements pageshot.RequestFilter: the generic and the
// site's own element hiding rules of lists.
func (f *Filter) HidingSelectors(lists []pageshot.FilterList, pageURL string) []string {
	host := ""
	if u, err := url.Parse(pageURL); err == nil {
		host = u.Hostname()
	}
	var out []string
	for _, l := range lists {
		e := f.engines[l]
		if e == nil {
			continue
		}
		res := e.GetCosmeticResult(host, rules.CosmeticOptionAll)
		out = append(out, res.ElementHiding.Generic...)
		out = append(out, res.ElementHiding.Specific...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
