//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessAttrs starts podwatch in a process group of its own; on Linux
// it also gets a parent-death signal (see setParentDeathSignal).
func setProcessAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

// interrupt sends SIGINT to podwatch, as Ctrl-C would.
func interrupt(p *os.Process) error {
	return p.Signal(os.Interrupt)
}
