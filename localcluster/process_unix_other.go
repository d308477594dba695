//go:build unix && !linux

package localcluster

import "syscall"

// setParentDeathSignal does nothing: macOS and the BSDs have no parent-death
// signal, so a server outlives a test binary that dies without running its
// cleanups (see the package documentation).
func setParentDeathSignal(*syscall.SysProcAttr) {}
