package localcluster

import "syscall"

// setParentDeathSignal makes the kernel send SIGKILL to the process when the
// test binary dies, so that a crash, a test timeout or kill -9 leaves no
// server behind. Strictly, the signal comes when the OS thread that started
// the process exits; the Go runtime ends threads only in rare cases (a
// goroutine that exits while locked to its thread).
func setParentDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
