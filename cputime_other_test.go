//go:build !linux

package informer

import "time"

// processStart anchors threadCPUTime's fallback.
var processStart = time.Now()

// threadCPUTime falls back to wall time where the thread's CPU clock is not
// read (see cputime_linux_test.go).
func threadCPUTime() time.Duration {
	return time.Since(processStart)
}
