//go:build !linux

package safecheck

import "time"

// threadCPUSupported says whether threadCPU reads a thread CPU clock; off
// Linux it does not, and the CPU budget charges wall time less waits.
const threadCPUSupported = false

func threadCPU() time.Duration { return 0 }
