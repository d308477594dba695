package main

import (
	"os"
	"os/exec"
	"syscall"
)

// setProcessAttrs starts podwatch in a console process group of its own,
// which Ctrl-C at the console does not reach, as a process group does on
// unix. There is no parent-death signal: podwatch outlives a demo that is
// killed.
func setProcessAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// interrupt sends Ctrl-Break to podwatch's process group, which Go programs
// receive as os.Interrupt: Windows cannot deliver os.Interrupt through
// os.Process.Signal. It needs the console the demo and podwatch share.
func interrupt(p *os.Process) error {
	kernel32, err := syscall.LoadDLL("kernel32.dll")
	if err != nil {
		return err
	}
	generate, err := kernel32.FindProc("GenerateConsoleCtrlEvent")
	if err != nil {
		return err
	}
	if ok, _, err := generate.Call(syscall.CTRL_BREAK_EVENT, uintptr(p.Pid)); ok == 0 {
		return err
	}
	return nil
}
