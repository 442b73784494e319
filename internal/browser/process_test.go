package browser

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestProcesses tells the browser process and its renderers apart from
// Chromium's other helpers by their names and --type, on a stand-in for
// Chromium: a shell called chromium with helper shells below it.
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
	// Each helper shell stays a shell (the trailing ':' keeps it from
	// exec'ing sleep), so its arguments keep its --type. The script is a
	// file so that the browser's own arguments have no --type.
	script := filepath.Join(dir, "helpers")
	if err := os.WriteFile(script, []byte("sh -c 'sleep 60; :' --type=renderer &\nsh -c 'sleep 60; :' --type=gpu-process &\nwait\n"), 0o644); err != nil {
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
	// the browser's arguments: wait for both to be what they will stay.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, rs, below := BrowserProcess(os.Getpid()), Renderers(root), BrowserProcess(root)
		if got == root && len(rs) == 1 && below == 0 {
			if rs[0].PID == root || rs[0].RSS <= 0 {
				t.Errorf("renderers = %+v, want one helper with resident memory", rs)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("BrowserProcess = %d (want %d), Renderers = %+v (want one), BrowserProcess below the browser = %d (want 0: its children are helpers)", got, root, rs, below)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rs := Renderers(os.Getpid()); len(rs) != 1 {
		t.Errorf("renderers below this test = %+v, want the one below the browser", rs)
	}
}
