package safecheck

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPUSupported says threadCPU reads the calling thread's CPU clock.
const threadCPUSupported = true

// clockThreadCPUTimeID is Linux's CLOCK_THREAD_CPUTIME_ID.
const clockThreadCPUTimeID = 3

// threadCPU returns the CPU time the calling OS thread has used. A worker
// locked to its thread reads its own CPU time with it: time spent blocked
// (on the checker, a pause, a permit) is not in it.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
