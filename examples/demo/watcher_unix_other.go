//go:build unix && !linux

package main

import "syscall"

// setParentDeathSignal does nothing: macOS and the BSDs have no parent-death
// signal, so podwatch outlives a demo killed with kill -9 (see README.md).
func setParentDeathSignal(*syscall.SysProcAttr) {}
