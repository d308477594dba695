//go:build !linux

package main

// peakRSS would return the peak resident set size of this process; only
// Linux says it here (/proc/self/status), so elsewhere it is unknown and
// the peak RSS line is not printed.
func peakRSS() (uint64, bool) { return 0, false }

// cpuModel would name the CPU; only Linux says it here (/proc/cpuinfo).
func cpuModel() string { return "unknown CPU" }
