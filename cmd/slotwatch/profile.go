package main

import (
	"fmt"
	"io"
	"os"
	"runtime/pprof"
)

// startCPUProfile writes a CPU profile of the whole process to path when
// SLOTWATCH_CPUPROFILE names one (scripts/bench-live and perf work profile
// the real binary in tmux this way). The returned stop flushes it; a
// profile that cannot be started is reported and the command runs anyway.
func startCPUProfile(path string, stderr io.Writer) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(stderr, "slotwatch: cannot write the CPU profile %s (%v); running without it.\n", path, err)
		if f != nil {
			f.Close()
		}
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
