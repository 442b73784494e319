package browser

import (
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"

	"github.com/pageshot/pageshot/internal/proc"
)

// TestRenderersWalk: the walk through the kernel's children lists finds
// the same renderers as the scan of every process, in a real process tree:
// a shell whose children and grandchildren carry --type=renderer (found,
// with their memory) or another --type (passed over).
func TestRenderersWalk(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc")
	}
	// A shell starts a "zygote" shell that starts two renderers, and a
	// utility; each sleeps until the test kills the tree. exec -a names
	// argv[0]; the flags come from the environment so that no shell's own
	// command line carries them.
	cmd := exec.Command("bash", "-c", `
		bash -c 'exec -a "chromium $R --one" sleep 60 & exec -a "chromium $R --two" sleep 60 & wait' &
		(exec -a "chromium $U" sleep 60) &
		echo started; wait`)
	cmd.Env = append(os.Environ(), "R=--type=renderer", "U=--type=utility")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // one group, killed whole
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	buf := make([]byte, 8)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	pids := func(ps []RendererProcess) []int {
		var out []int
		for _, p := range ps {
			if p.RSS <= 0 {
				t.Errorf("renderer %d without memory", p.PID)
			}
			out = append(out, p.PID)
		}
		slices.Sort(out)
		return out
	}
	// Poll until both renderers run (they start asynchronously).
	var scan []int
	for range 500 {
		if scan = pids(renderersByScan(cmd.Process.Pid)); len(scan) == 2 {
			break
		}
		_ = exec.Command("true").Run() // a moment, without a timer
	}
	if len(scan) != 2 {
		t.Fatalf("the scan found %v, want the two renderers", scan)
	}
	f := rendererFinder{root: cmd.Process.Pid}
	walk, ok := f.walk()
	if !ok {
		t.Skip("no children lists (CONFIG_PROC_CHILDREN)")
	}
	if got := pids(walk); !slices.Equal(got, scan) {
		t.Errorf("walk found %v, scan %v", got, scan)
	}
	// The next walk goes by the kinds remembered: the same renderers,
	// with the utility known as one. Parents are not remembered: a
	// zygote's child is one until it turns into a renderer.
	again, _ := f.walk()
	if got := pids(again); !slices.Equal(got, scan) {
		t.Errorf("second walk found %v, first %v", got, scan)
	}
	kinds := map[procKind]int{}
	for _, k := range f.kinds {
		kinds[k]++
	}
	if kinds[kindRenderer] != 2 || kinds[kindOther] != 1 || kinds[kindParent] != 0 {
		t.Errorf("kinds remembered = %v, want 2 renderers and 1 other helper", f.kinds)
	}
}

// TestRenderersWalkTurning: a child met as a parent (a zygote's fresh
// fork, with its parent's arguments) and then turned into a renderer is
// found as one at the next walk.
func TestRenderersWalkTurning(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("the test's stand-in for Chromium's processes needs bash:", err)
	}
	// The child is a plain bash (a parent) until told to go on, then
	// execs a "renderer".
	cmd := exec.Command("bash", "-c", `
		bash -c 'read _; exec -a "chromium $R" sleep 60' <&3 &
		echo started; wait`)
	cmd.Env = append(os.Environ(), "R=--type=renderer")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.ExtraFiles = []*os.File{r}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.Close()
	defer func() {
		w.Close()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	if _, err := out.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	f := rendererFinder{root: cmd.Process.Pid}
	var child int
	for range 500 {
		if kids, _ := proc.Children(cmd.Process.Pid); len(kids) == 1 {
			child = kids[0]
			break
		}
		_ = exec.Command("true").Run() // a moment, without a timer
	}
	if child == 0 {
		t.Fatal("the child did not start")
	}
	if rs, ok := f.walk(); !ok {
		t.Fatal("no children lists in /proc (CONFIG_PROC_CHILDREN): the memory watch would scan every process")
	} else if len(rs) != 0 {
		t.Fatalf("before its exec the child is no renderer, walk found %+v", rs)
	}
	w.Write([]byte("go\n"))
	for range 500 {
		if rs, _ := f.walk(); len(rs) == 1 && rs[0].PID == child {
			return
		}
		_ = exec.Command("true").Run()
	}
	t.Fatalf("the child %d turned renderer is never found; kinds %v", child, f.kinds)
}

// TestKindOf: which processes the walk descends into.
func TestKindOf(t *testing.T) {
	for _, c := range []struct {
		args []string
		want procKind
	}{
		{[]string{"/usr/lib/chromium/chromium", "--headless"}, kindParent},
		{[]string{"chromium", "--type=zygote", "--no-zygote-sandbox"}, kindParent},
		{[]string{"chromium", "--type=renderer", "--lang=en-US"}, kindRenderer},
		{[]string{"chromium", "--type=gpu-process"}, kindOther},
		{[]string{"chromium", "--type=utility", "--utility-sub-type=network.mojom.NetworkService"}, kindOther},
	} {
		if got := kindOf(c.args); got != c.want {
			t.Errorf("kindOf(%q) = %d, want %d", c.args, got, c.want)
		}
	}
}
