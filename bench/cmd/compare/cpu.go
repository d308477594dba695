package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuSample is what the sync measurement reads before and after a sync to
// tell where the CPU went: this process's CPU time and the busy time of the
// whole machine (every core, every process: the API server, etcd, this
// client, anything else).
type cpuSample struct {
	self    time.Duration // 0 when the OS does not say (see processCPU)
	machine time.Duration // ok is false when /proc/stat cannot be read
	ok      bool
}

func sampleCPU() cpuSample {
	var s cpuSample
	s.self = processCPU()
	s.machine, s.ok = machineBusy()
	return s
}

// machineBusy returns the time all cores spent busy since boot, from the
// first line of /proc/stat: user, nice, system, irq, softirq and steal
// (idle and iowait are not busy). Only Linux has /proc/stat: elsewhere the
// machine's busy time is unknown.
func machineBusy() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, false
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	// USER_HZ is 100 on Linux for every architecture Go supports here.
	return time.Duration(ticks) * (time.Second / 100), true
}
