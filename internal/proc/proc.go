// Package proc reads Linux's process table from /proc: which processes
// there are, their parents and states, what lies below a process, and a
// process's command line, resident memory and CPU time.
//
// Processes come and go while the table is read; one that ends meanwhile
// is left out, never reported as an error.
package proc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Process is one process as /proc/PID/stat shows it.
type Process struct {
	PID  int
	PPID int // 0 for the first process of a PID namespace
	// Comm is the command name the kernel keeps: the executable's base
	// name cut to 15 bytes, unless the process renamed itself.
	Comm string
	// State is the one-letter state: "R" running, "S" sleeping, "D" in
	// uninterruptible sleep, "Z" zombie (exited, not yet waited for), …
	State string
}

// Zombie reports whether p has exited and waits for its parent to collect
// its exit status.
func (p Process) Zombie() bool { return p.State == "Z" }

// List returns every process in /proc, in no particular order. It fails
// only when /proc itself cannot be read.
func List() ([]Process, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := make([]Process, 0, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		if p, ok := parseStat(pid, string(stat)); ok {
			out = append(out, p)
		}
	}
	return out, nil
}

// parseStat reads "pid (comm) state ppid …". comm may hold spaces and
// parentheses, so the fields start after the last ')'.
func parseStat(pid int, s string) (Process, bool) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return Process{}, false
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return Process{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return Process{PID: pid, PPID: ppid, Comm: s[open+1 : end], State: f[0]}, true
}

// Descendants returns the processes of all that are below root — its
// children, their children and so on — not root itself. A process whose
// chain of parents leaves all before reaching root is not below it.
func Descendants(all []Process, root int) []Process {
	parent := make(map[int]int, len(all))
	for _, p := range all {
		parent[p.PID] = p.PPID
	}
	var out []Process
	for _, p := range all {
		if p.PID == root {
			continue
		}
		// At most len(all) steps: pids reused while the table was read
		// may make a loop of parents.
		q := p.PPID
		for range len(all) {
			if q == root {
				out = append(out, p)
				break
			}
			next, ok := parent[q]
			if !ok || q <= 0 {
				break
			}
			q = next
		}
	}
	return out
}

// Cmdline returns the arguments pid was started with (or has set since).
// A zombie or a kernel thread has none.
func Cmdline(pid int) ([]string, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return nil, err
	}
	s := strings.TrimSuffix(string(b), "\x00")
	if s == "" {
		return nil, nil
	}
	return strings.Split(s, "\x00"), nil
}

// RSS returns the resident memory of pid in bytes (VmRSS).
func RSS(pid int) (int64, error) {
	statm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "statm"))
	if err != nil {
		return 0, err
	}
	// size resident shared text lib data dt, in pages
	f := strings.Fields(string(statm))
	if len(f) < 2 {
		return 0, fmt.Errorf("read /proc/%d/statm: no resident size in %q", pid, statm)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// userHZ is the unit of the times in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Go runs on.
const userHZ = 100

// CPUTime returns the CPU time pid has used so far, user and system, all
// its threads together (not its children's).
func CPUTime(pid int) (time.Duration, error) {
	return cpuTime(pid, false)
}

// TreeCPUTime returns the CPU time root and every process below it have
// used so far, with that of the children they have waited for: the
// processes that ended in between are counted by the parent that
// collected them, so two readings subtract to what the tree used in
// between, as long as its processes are collected inside it.
func TreeCPUTime(root int) (time.Duration, error) {
	all, err := List()
	if err != nil {
		return 0, err
	}
	total, err := cpuTime(root, true)
	if err != nil {
		return 0, err
	}
	for _, p := range Descendants(all, root) {
		if d, err := cpuTime(p.PID, true); err == nil {
			total += d // one that ended meanwhile is its parent's now
		}
	}
	return total, nil
}

// cpuTime reads pid's user and system time, and with children those of
// the children it waited for.
func cpuTime(pid int, children bool) (time.Duration, error) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	s := string(stat)
	// After "pid (comm) ": state is the first field; utime, stime,
	// cutime and cstime the 12th to the 15th.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 {
		return 0, fmt.Errorf("read /proc/%d/stat: %d fields", pid, len(f))
	}
	fields := f[11:13]
	if children {
		fields = f[11:15]
	}
	var ticks int64
	for _, v := range fields {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// Children returns the pids of pid's children from the kernel's lists of
// each of its threads' children (/proc/PID/task/TID/children), which
// reads a few small files rather than every process's stat. ok is false
// where the kernel keeps no such lists (CONFIG_PROC_CHILDREN) or pid is
// gone.
func Children(pid int) (children []int, ok bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	for _, t := range tasks {
		list, err := os.ReadFile(filepath.Join(dir, t.Name(), "children"))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && t.Name() == strconv.Itoa(pid) {
				return nil, false // no children lists in this kernel
			}
			continue // a thread that ended
		}
		for _, c := range strings.Fields(string(list)) {
			if n, err := strconv.Atoi(c); err == nil {
				children = append(children, n)
			}
		}
	}
	return children, true
}
