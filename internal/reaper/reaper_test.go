package reaper

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestReapsOrphans: a child that nobody waits for (as Chromium's orphans
// are for PID 1) is reaped after the grace; a child whose exec.Cmd waits
// for it keeps its exit status for that Wait.
func TestReapsOrphans(t *testing.T) {
	r := Start(Config{Grace: 100 * time.Millisecond})
	defer r.Stop()

	// A child started without os/exec, so that nothing in Go waits for it.
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", "exit 0"}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	// Many children waited for by exec.Cmd meanwhile: none is stolen.
	for range 20 {
		cmd := exec.Command("/bin/sh", "-c", "exit 3")
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("exec.Cmd lost its child's status: %v", err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for exists(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if exists(pid) {
		t.Fatalf("zombie %d was not reaped", pid)
	}
	if r.Reaped() != 1 {
		t.Errorf("reaped %d, want 1", r.Reaped())
	}
}

// TestSkip leaves a zombie the caller names alone.
func TestSkip(t *testing.T) {
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", "exit 0"}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { var ws syscall.WaitStatus; _, _ = syscall.Wait4(pid, &ws, 0, nil) })
	r := Start(Config{Grace: time.Nanosecond, Skip: func(p int) bool { return p == pid }})
	// Wait until it is a zombie and several passes of the reaper went by.
	deadline := time.Now().Add(10 * time.Second)
	for !zombieChildren(os.Getpid())[pid] && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for range 5 {
		r.sigs <- syscall.SIGCHLD
	}
	r.Stop()
	if !exists(pid) {
		t.Error("a skipped zombie was reaped")
	}
}

func exists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}
