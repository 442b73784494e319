package browser

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/pageshot/pageshot/internal/proc"
)

// TestProcesses tells the browser process and its renderers apart from
// Chromium's other helpers by their names and --type, on a stand-in for
// Chromium: a shell called chromium with helpers below it that are the
// same shell, as Chromium's helpers are its own binary, told apart only by
// their --type.
func TestProcesses(t *testing.T) {
	dir := t.TempDir()
	sh, err := os.Open("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	fake, err := os.OpenFile(filepath.Join(dir, "chromium"), os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(fake, sh); err != nil {
		t.Fatal(err)
	}
	fake.Close()
	// Each helper stays the shell called chromium (the trailing ':' keeps
	// it from exec'ing sleep), so its arguments keep its --type. The
	// script is a file so that the browser's own arguments have no --type.
	script := filepath.Join(dir, "helpers")
	helper := "'" + fake.Name() + "' -c 'sleep 60; :'"
	if err := os.WriteFile(script, []byte(helper+" --type=renderer &\n"+helper+" --type=gpu-process &\nwait\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(fake.Name(), script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	root := cmd.Process.Pid

	// Until a helper has exec'd, it is a fork of the browser's shell with
	// the browser's arguments: wait until both have their --type.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if helpersStarted(root) == 2 {
			got, rs, below := BrowserProcess(os.Getpid()), Renderers(root), BrowserProcess(root)
			if got != root || len(rs) != 1 || below != 0 {
				t.Fatalf("BrowserProcess = %d (want %d), Renderers = %+v (want one), BrowserProcess below the browser = %d (want 0: its children are helpers)", got, root, rs, below)
			}
			if rs[0].PID == root || rs[0].RSS <= 0 {
				t.Errorf("renderers = %+v, want one helper with resident memory", rs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the helpers did not start: %d of 2 with their --type", helpersStarted(root))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rs := Renderers(os.Getpid()); len(rs) != 1 {
		t.Errorf("renderers below this test = %+v, want the one below the browser", rs)
	}
}

// helpersStarted counts root's children that have their --type.
func helpersStarted(root int) int {
	all, _ := proc.List()
	n := 0
	for _, p := range all {
		if p.PPID != root {
			continue
		}
		if args, _ := proc.Cmdline(p.PID); hasType(args, "") {
			n++
		}
	}
	return n
}
