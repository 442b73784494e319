package capture

import (
	"sync"

	"github.com/pageshot/pageshot"
)

// parsed is what the options of a request came to: the options and their
// cache key (when they ask for the cache), or the error that refused
// them. It is shared by every request that sent the same options and is
// never modified: callers take a Clone of opts.
type parsed struct {
	opts     *pageshot.Options
	cacheKey string
	err      error
}

// memoKey names options as one caller sent them: the owner of the cache
// key, the limits they were parsed under, and the canonical query.
type memoKey struct {
	owner string
	lim   pageshot.Limits
	query string
}

const (
	// memoEntries and memoBytes bound the memo; when either is reached,
	// arbitrary entries make room. An entry is counted as twice its
	// query (the options hold about what the query said) and a little
	// more, so the memo holds about memoBytes at the most.
	memoEntries = 4096
	memoBytes   = 8 << 20
	// memoMaxQuery is the longest query remembered: longer ones (inline
	// HTML) are rarely sent twice and would hold memory for nothing.
	memoMaxQuery = 4096
)

// memoCost is what k is counted as in memoBytes.
func memoCost(k memoKey) int { return 2*len(k.query) + len(k.owner) + 512 }

// memo remembers what recent queries parsed to. The same query under the
// same limits always parses to the same options, and a cached capture
// behind an <img src> is asked for with one query again and again:
// parsing it and hashing its cache key were most of a cache hit's own
// cost. Options sent as JSON are not remembered.
type memo struct {
	mu   sync.RWMutex
	m    map[memoKey]*parsed
	size int // the memoCost of every entry
}

func (m *memo) get(k memoKey) *parsed {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.m[k]
}

func (m *memo) put(k memoKey, p *parsed) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = make(map[memoKey]*parsed)
	}
	if _, ok := m.m[k]; ok {
		return // parsed meanwhile by another request
	}
	for old := range m.m {
		if len(m.m) < memoEntries && m.size+memoCost(k) <= memoBytes {
			break
		}
		delete(m.m, old)
		m.size -= memoCost(old)
	}
	m.m[k] = p
	m.size += memoCost(k)
}

// parse parses raw for c, or returns what the same query from the same
// caller parsed to before.
func (s *Service) parse(c *pageshot.Caller, raw pageshot.RawOptions) *parsed {
	lim := c.Limits(s.cfg.Limits)
	query, ok := raw.Query()
	ok = ok && len(query) <= memoMaxQuery
	k := memoKey{owner: owner(c), lim: lim, query: query}
	if ok {
		if p := s.memo.get(k); p != nil {
			return p
		}
	}
	opts, err := pageshot.ParseOptions(raw, lim)
	p := &parsed{opts: opts, err: err}
	if err == nil && opts.Cache {
		p.cacheKey = pageshot.CacheKey(k.owner, opts)
	}
	if ok {
		s.memo.put(k, p)
	}
	return p
}
