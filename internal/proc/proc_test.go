package proc

import (
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

func find(all []Process, pid int) (Process, bool) {
	i := slices.IndexFunc(all, func(p Process) bool { return p.PID == pid })
	if i < 0 {
		return Process{}, false
	}
	return all[i], true
}

// TestListSelf finds this very process with its parent, name, arguments
// and memory.
func TestListSelf(t *testing.T) {
	all, err := List()
	if err != nil {
		t.Fatal(err)
	}
	self, ok := find(all, os.Getpid())
	if !ok {
		t.Fatalf("this process (%d) is not among %d listed", os.Getpid(), len(all))
	}
	if self.PPID != os.Getppid() || self.State != "R" && self.State != "S" || self.Zombie() {
		t.Errorf("self = %+v, want parent %d, running or sleeping", self, os.Getppid())
	}
	if want := "proc.test"; self.Comm != want {
		t.Errorf("comm = %q, want %q", self.Comm, want)
	}
	args, err := Cmdline(os.Getpid())
	if err != nil || !slices.Equal(args, os.Args) {
		t.Errorf("Cmdline = %q, %v; want %q", args, err, os.Args)
	}
	if n, err := RSS(os.Getpid()); err != nil || n <= 0 || n%int64(os.Getpagesize()) != 0 {
		t.Errorf("RSS = %d, %v; want a positive number of whole pages", n, err)
	}
	if _, err := RSS(-1); err == nil {
		t.Error("RSS of no process: no error")
	}
	if _, err := Cmdline(-1); err == nil {
		t.Error("Cmdline of no process: no error")
	}
}

// TestDescendants starts a shell that starts a sleep: both are below this
// process, the sleep through the shell, and neither is below the shell's
// sibling.
func TestDescendants(t *testing.T) {
	sh := exec.Command("/bin/sh", "-c", "sleep 60 & wait")
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sh.Process.Kill(); _ = sh.Wait() })
	var sleeper Process
	deadline := time.Now().Add(10 * time.Second)
	for sleeper.PID == 0 {
		all, err := List()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range Descendants(all, sh.Process.Pid) {
			if p.Comm == "sleep" {
				sleeper = p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sleep below the shell %d", sh.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { _ = syscall.Kill(sleeper.PID, syscall.SIGKILL) })
	if sleeper.PPID != sh.Process.Pid {
		t.Errorf("sleep's parent = %d, want the shell %d", sleeper.PPID, sh.Process.Pid)
	}
	all, _ := List()
	var below []int
	for _, p := range Descendants(all, os.Getpid()) {
		below = append(below, p.PID)
	}
	if !slices.Contains(below, sh.Process.Pid) || !slices.Contains(below, sleeper.PID) {
		t.Errorf("below this process: %v, want the shell %d and the sleep %d", below, sh.Process.Pid, sleeper.PID)
	}
	if slices.Contains(below, os.Getpid()) {
		t.Error("a process is listed below itself")
	}
	if got := Descendants(all, sleeper.PID); len(got) != 0 {
		t.Errorf("below the sleep: %+v, want none", got)
	}
}

// TestZombie sees a child that exited and was not waited for as a zombie.
func TestZombie(t *testing.T) {
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", "exit 0"}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { var ws syscall.WaitStatus; _, _ = syscall.Wait4(pid, &ws, 0, nil) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, err := List()
		if err != nil {
			t.Fatal(err)
		}
		p, ok := find(all, pid)
		if !ok {
			t.Fatalf("child %d not listed", pid)
		}
		if p.Zombie() {
			if p.PPID != os.Getpid() || p.State != "Z" {
				t.Errorf("zombie = %+v, want state Z, parent %d", p, os.Getpid())
			}
			if args, err := Cmdline(pid); err != nil || len(args) != 0 {
				t.Errorf("Cmdline of a zombie = %q, %v; want none", args, err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d is %+v, never a zombie", pid, p)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		stat string
		want Process
		ok   bool
	}{
		{"7 (sleep) S 3 7 3 0 -1", Process{PID: 7, PPID: 3, Comm: "sleep", State: "S"}, true},
		// A name may hold spaces and parentheses.
		{"7 (a) b (c) Z 1 7 3", Process{PID: 7, PPID: 1, Comm: "a) b (c", State: "Z"}, true},
		{"7 (x) R", Process{}, false},
		{"7 x R 1", Process{}, false},
		{"", Process{}, false},
	} {
		got, ok := parseStat(7, tc.stat)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseStat(%q) = %+v, %v; want %+v, %v", tc.stat, got, ok, tc.want, tc.ok)
		}
	}
}

func TestDescendantsTable(t *testing.T) {
	all := []Process{
		{PID: 1, PPID: 0}, {PID: 10, PPID: 1}, {PID: 11, PPID: 10}, {PID: 12, PPID: 11},
		{PID: 20, PPID: 1},
		{PID: 30, PPID: 99},                      // parent not listed
		{PID: 40, PPID: 41}, {PID: 41, PPID: 40}, // a loop of reused pids
	}
	pids := func(ps []Process) []int {
		var out []int
		for _, p := range ps {
			out = append(out, p.PID)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		root int
		want []int
	}{
		{10, []int{11, 12}},
		{1, []int{10, 11, 12, 20}},
		{12, nil},
		{99, []int{30}},
		{40, []int{41}},
		{5, nil},
	} {
		if got := pids(Descendants(all, tc.root)); !slices.Equal(got, tc.want) {
			t.Errorf("Descendants(%d) = %v, want %v", tc.root, got, tc.want)
		}
	}
}

// TestCPUTime: the time grows with work the process does.
func TestCPUTime(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x, after := 0, before
	for deadline := time.Now().Add(10 * time.Second); after < before+50*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatalf("CPU time went from %v to %v in 10 s of work", before, after)
		}
		for i := range 1 << 20 {
			x ^= i * i
		}
		if after, err = CPUTime(os.Getpid()); err != nil {
			t.Fatal(err)
		}
	}
	_ = x
	if _, err := CPUTime(1 << 30); err == nil {
		t.Error("no error for a process that does not exist")
	}
}

// TestTreeCPUTime: the work of a child that ran and was waited for
// counts in its parent's tree.
func TestTreeCPUTime(t *testing.T) {
	before, err := TreeCPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A shell that spins for 300 ms and ends.
	cmd := exec.Command("sh", "-c", `end=$(( $(date +%s%N) + 300000000 )); while [ $(date +%s%N) -lt $end ]; do :; done`)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	after, err := TreeCPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	own := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if after-before < own-20*time.Millisecond {
		t.Errorf("the tree used %v meanwhile; its child alone %v", after-before, own)
	}
}
