package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// peakRSS returns the peak resident set size of this process, VmHWM in
// /proc/self/status.
func peakRSS() (uint64, bool) {
	value, ok := procField("/proc/self/status", "VmHWM:")
	if !ok {
		return 0, false
	}
	// "VmHWM:	  123456 kB"
	kb, unit, _ := strings.Cut(value, " ")
	n, err := strconv.ParseUint(kb, 10, 64)
	if err != nil || unit != "kB" {
		return 0, false
	}
	return n * 1024, true
}

// cpuModel returns the "model name" of the first CPU in /proc/cpuinfo.
func cpuModel() string {
	if value, ok := procField("/proc/cpuinfo", "model name"); ok {
		return strings.TrimSpace(strings.TrimPrefix(value, ":"))
	}
	return "unknown CPU"
}

// procField returns what follows key on the first line of file that starts
// with key, trimmed.
func procField(file, key string) (string, bool) {
	f, err := os.Open(file)
	if err != nil {
		return "", false
	}
	defer func() { _ = f.Close() }() // read only: nothing to lose
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if rest, ok := strings.CutPrefix(scanner.Text(), key); ok {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}
