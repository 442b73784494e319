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
	if out, ok := renderersByChildren(root); ok {
		return out
	}
	return renderersByScan(root)
}

// renderersByChildren walks root's descendants through the kernel's
// children lists: this runs ten times a second per browser, and reading
// every process's stat on a busy host cost a noticeable share of the
// server's CPU. It does not descend into renderers, which start no
// processes; ok is false without the lists.
func renderersByChildren(root int) (out []RendererProcess, ok bool) {
	queue, ok := proc.Children(root)
	if !ok {
		return nil, false
	}
	for seen := 0; len(queue) > 0 && seen < 4096; seen++ {
		pid := queue[0]
		queue = queue[1:]
		args, err := proc.Cmdline(pid)
		if err != nil {
			continue // gone
		}
		if hasType(args, "renderer") {
			if rss, err := proc.RSS(pid); err == nil {
				out = append(out, RendererProcess{PID: pid, RSS: rss})
			}
			continue
		}
		children, _ := proc.Children(pid)
		queue = append(queue, children...)
	}
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
