package netdelay

import (
	"io"
	"net"
	"testing"
	"time"
)

// An echo round trip through the proxy takes at least twice the one-way delay, and the bytes
// arrive whole and in order.
func TestRoundTripIsDelayed(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	const oneWay = 20 * time.Millisecond
	p, err := Start(func() (net.Conn, error) { return net.Dial("tcp", echo.Addr().String()) }, oneWay)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 100<<10)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	start := time.Now()
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < 2*oneWay {
		t.Fatalf("round trip %s; want at least %s", took, 2*oneWay)
	}
	for i := range msg {
		if got[i] != msg[i] {
			t.Fatalf("byte %d: %d, want %d", i, got[i], msg[i])
		}
	}
	t.Logf("100 KiB round trip through a %s one-way delay: %s", oneWay, took)
}
