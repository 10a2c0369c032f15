// Command stamp prints the time with nanoseconds (busybox's date cannot), for the storage
// VM test to time events against agentd's own timestamps on the same clock.
package main

import (
	"fmt"
	"time"
)

func main() { fmt.Println(time.Now().Format(time.RFC3339Nano)) }
