package browser

import (
	"slices"
	"strings"

	"github.com/pageshot/pageshot/internal/proc"
)

// Chromium runs as one browser process and many helpers (zygotes,
// renderers, the GPU and network services). Every helper is started with
// --type=KIND; the browser process has no --type.

// RendererProcess is one of Chromium's renderer processes.
type RendererProcess struct {
	PID int
	RSS int64 // resident memory in bytes
}

// Renderers returns the renderer processes below the browser process
// root, with their resident memory; none when /proc cannot be read. A
// renderer that ends while they are read is left out.
func Renderers(root int) []RendererProcess {
	return (&rendererFinder{root: root}).renderers()
}

// rendererFinder finds the renderers below a browser process, and
// remembers from one call to the next which processes it met are
// renderers and which are other helpers: the memory watch calls it ten
// times a second during captures. Those kinds are final: a helper gets
// its --type before it runs as one. A parent's is not (a zygote's fresh
// child shows the zygote's arguments until it turns into a renderer, a
// child before its exec the browser's), so parents are read again at
// each walk. A pid that ends and is reused between two walks keeps the
// kind it had: pids wrap around far more slowly.
type rendererFinder struct {
	root  int
	kinds map[int]procKind // the renderers and other helpers met in the last walk
}

// procKind is what a process below the browser is to the finder.
type procKind uint8

const (
	// kindParent may start renderers: the browser itself, a zygote, or
	// a process without --type (the browser's own forks).
	kindParent procKind = iota
	kindRenderer
	// kindOther is a helper that starts none (GPU, network, storage).
	kindOther
)

func kindOf(args []string) procKind {
	switch {
	case hasType(args, "renderer"):
		return kindRenderer
	case hasType(args, "zygote") || !hasType(args, ""):
		return kindParent
	}
	return kindOther
}

func (f *rendererFinder) renderers() []RendererProcess {
	if out, ok := f.walk(); ok {
		return out
	}
	return renderersByScan(f.root)
}

// walk goes down from root through the kernel's children lists: reading
// every process's stat on a busy host cost a noticeable share of the
// server's CPU. It descends only into processes that may start
// renderers; ok is false without the lists.
func (f *rendererFinder) walk() (out []RendererProcess, ok bool) {
	queue, ok := proc.Children(f.root)
	if !ok {
		return nil, false
	}
	met := make(map[int]procKind, len(f.kinds))
	for n := 0; len(queue) > 0 && n < 4096; n++ {
		pid := queue[0]
		queue = queue[1:]
		kind, known := f.kinds[pid]
		if !known {
			args, err := proc.Cmdline(pid)
			if err != nil {
				continue // gone
			}
			kind = kindOf(args)
		}
		switch kind {
		case kindRenderer:
			rss, err := proc.RSS(pid)
			if err != nil {
				continue // gone
			}
			out = append(out, RendererProcess{PID: pid, RSS: rss})
		case kindParent:
			children, _ := proc.Children(pid)
			queue = append(queue, children...)
			continue // not remembered: see rendererFinder
		}
		met[pid] = kind
	}
	f.kinds = met
	return out, true
}

// renderersByScan finds root's renderers by reading every process's
// parent.
func renderersByScan(root int) []RendererProcess {
	all, err := proc.List()
	if err != nil {
		return nil
	}
	var out []RendererProcess
	for _, p := range proc.Descendants(all, root) {
		args, err := proc.Cmdline(p.PID)
		if err != nil || !hasType(args, "renderer") {
			continue
		}
		rss, err := proc.RSS(p.PID)
		if err != nil {
			continue
		}
		out = append(out, RendererProcess{PID: p.PID, RSS: rss})
	}
	return out
}

// BrowserProcess returns the pid of the live Chromium browser process that
// the process parent started — a direct child, not a zombie, whose command
// name holds "chrom" and whose arguments have no --type — or 0 when there
// is none. It serves tools and tests that watch pageshot from outside;
// inside, Pool.PID says the same.
func BrowserProcess(parent int) int {
	all, _ := proc.List()
	for _, p := range all {
		if p.PPID != parent || p.Zombie() || !strings.Contains(strings.ToLower(p.Comm), "chrom") {
			continue
		}
		if args, _ := proc.Cmdline(p.PID); len(args) > 0 && !hasType(args, "") {
			return p.PID
		}
	}
	return 0
}

// hasType reports whether a Chromium process's arguments hold
// --type=KIND (any kind when kind is empty).
func hasType(args []string, kind string) bool {
	return slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, "--type="+kind) })
}
