package main

import "syscall"

// setParentDeathSignal makes the kernel kill podwatch when the demo dies
// without stopping it (kill -9, a crash).
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
