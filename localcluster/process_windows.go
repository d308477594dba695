package localcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
)

// checkPlatform reports that local clusters cannot run on Windows, which
// lacks the process groups that let Stop end a server together with
// whatever it started.
func checkPlatform() error {
	return fmt.Errorf("%w; not supported on %s", ErrUnsupportedPlatform, runtime.GOOS)
}

// setProcessAttrs does nothing on Windows, where checkPlatform keeps any
// process from being started; it exists so that the package compiles.
func setProcessAttrs(*exec.Cmd) {}

// signalGroup kills the process, whatever sig is: Windows cannot ask a
// process to exit, and the process has no group.
func signalGroup(p *process, _ syscall.Signal) error {
	err := p.cmd.Process.Kill()
	if errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}
