//go:build unix

package localcluster

import (
	"errors"
	"os/exec"
	"syscall"
)

// checkPlatform reports whether local clusters can run here; on unix-like
// systems they can.
func checkPlatform() error {
	return nil
}

// setProcessAttrs starts cmd in a process group of its own, whose id is its
// pid, so that signalGroup reaches whatever the server starts too, and so
// that Ctrl-C at a terminal reaches only the test binary. On Linux the
// process also gets a parent-death signal (see setParentDeathSignal).
func setProcessAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

// signalGroup sends sig to p's process group. A group that is gone is not
// an error: the process may exit between the caller's check and the signal.
func signalGroup(p *process, sig syscall.Signal) error {
	err := syscall.Kill(-p.pid(), sig)
	// macOS answers EPERM rather than ESRCH while the group's only member is
	// the exited but not yet reaped server. The servers never change user, so
	// EPERM cannot mean a member this process may not signal.
	if errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.EPERM) {
		return nil
	}
	return err
}
