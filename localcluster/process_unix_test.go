//go:build unix

package localcluster

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lineWriter hands each write to a channel; prefixWriter writes one line at
// a time.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

// TestStopSignalsProcessGroup starts a shell that starts a child, and checks
// that both are in a process group of the shell's own and that stop's
// SIGTERM reaches the child too. The shell traps SIGTERM by waiting for its
// child, so it exits 0, before the grace period is up, only if the child got
// the signal as well.
func TestStopSignalsProcessGroup(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("no sh: %v", err)
	}
	// The child says its pid itself: then it runs a fresh sh, with the
	// default action for SIGTERM. A forked shell that has not yet reset the
	// trap it inherited could lose the signal.
	const script = `trap 'wait; echo "child gone"; exit 0' TERM
sh -c 'echo "child $$"; exec sleep 600' &
wait`
	lines := make(lineWriter, 10)
	p, err := startProcess(filepath.Dir(sh), t.TempDir(), filepath.Base(sh), []string{"-c", script}, lines)
	if err != nil {
		t.Fatal(err)
	}
	child := 0
	// When the test fails early, kill both by pid: the group may be wrong.
	defer func() {
		_ = p.cmd.Process.Kill()
		if child > 0 {
			_ = syscall.Kill(child, syscall.SIGKILL)
		}
		<-p.done
	}()

	const bound = 30 * time.Second // reaching it is a failure
	var first string
	select {
	case first = <-lines:
	case <-p.done:
		t.Fatalf("shell exited before starting its child: %v", p.waitErr)
	case <-time.After(bound):
		t.Fatalf("shell did not report its child within %v", bound)
	}
	child, err = strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(first, "sh: child ")))
	if err != nil {
		t.Fatalf("first line: got %q, want \"sh: child PID\"", first)
	}

	for _, tt := range []struct {
		name string
		pid  int
	}{
		{"shell", p.pid()},
		{"child", child},
	} {
		pgid, err := syscall.Getpgid(tt.pid)
		if err != nil {
			t.Fatalf("getpgid of the %s (pid %d): %v", tt.name, tt.pid, err)
		}
		if pgid != p.pid() {
			t.Fatalf("process group of the %s: got %d, want the shell's pid %d", tt.name, pgid, p.pid())
		}
	}

	if err := p.stop(bound); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if p.waitErr != nil {
		t.Errorf("shell exit: got %v, want exit status 0 (its child did not get SIGTERM)", p.waitErr)
	}
	// Stop has waited for the shell and so for its output.
	select {
	case line := <-lines:
		if line != "sh: child gone\n" {
			t.Errorf("second line: got %q, want \"sh: child gone\\n\"", line)
		}
	default:
		t.Error("no second line: the shell did not see its child end")
	}
	// The shell has reaped its child, so no process has the child's pid.
	proc, err := os.FindProcess(child)
	if err == nil {
		err = proc.Signal(syscall.Signal(0))
		_ = proc.Release()
	}
	if !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("child (pid %d) after stop: signal 0 returned %v, want %v", child, err, os.ErrProcessDone)
	}
}
