//go:build !linux

package bench

import "syscall"

// childAttr: only Linux can tie the child's life to the harness's.
func childAttr() *syscall.SysProcAttr { return nil }

// selfCPU is unknown off Linux: the harness reads /proc anyway.
func selfCPU() float64 { return 0 }
