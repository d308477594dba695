package main

import (
	"syscall"
	"time"
)

// processCPU returns the user and kernel CPU time this process has used, or
// 0 if Windows does not say.
func processCPU() time.Duration {
	self, err := syscall.GetCurrentProcess() // a pseudo handle: nothing to close
	if err != nil {
		return 0
	}
	var creation, exit, kernel, user syscall.Filetime
	if syscall.GetProcessTimes(self, &creation, &exit, &kernel, &user) != nil {
		return 0
	}
	return filetimeDuration(kernel) + filetimeDuration(user)
}

// filetimeDuration converts a FILETIME that holds a duration, in units of
// 100 ns. (Filetime.Nanoseconds is for instants: it subtracts the epoch.)
func filetimeDuration(ft syscall.Filetime) time.Duration {
	return time.Duration(int64(ft.HighDateTime)<<32|int64(ft.LowDateTime)) * 100
}
