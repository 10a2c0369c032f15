// Package netdelay is a TCP proxy that adds latency: each byte reaches the other side a
// fixed time after it was read, in order, in both directions, without slowing the flow
// (the delay is pipelined, as on a real link). The rehearsal puts it between the agents and
// PostgreSQL, since a claim's round trip on loopback says little of one across a region.
package netdelay

import (
	"net"
	"sync"
	"time"
)

// Proxy forwards connections made to Addr to the target, delaying each direction.
type Proxy struct {
	ln      net.Listener
	dial    func() (net.Conn, error)
	oneWay  time.Duration
	mu      sync.Mutex
	conns   map[net.Conn]bool
	closed  bool
	running sync.WaitGroup
}

// Start listens on 127.0.0.1 (a free port) and forwards to what dial connects to, each
// direction delayed by oneWay (a round trip gains twice that).
func Start(dial func() (net.Conn, error), oneWay time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, dial: dial, oneWay: oneWay, conns: map[net.Conn]bool{}}
	p.running.Add(1)
	go p.accept() // owner: the Proxy; ends when Close closes the listener
	return p, nil
}

// Addr is where clients connect.
func (p *Proxy) Addr() *net.TCPAddr { return p.ln.Addr().(*net.TCPAddr) }

// Close stops accepting and cuts every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.running.Wait()
	return err
}

func (p *Proxy) track(c net.Conn, on bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on && p.closed {
		return false
	}
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
	return true
}

func (p *Proxy) accept() {
	defer p.running.Done()
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := p.dial()
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(client, true) || !p.track(server, true) {
			client.Close()
			server.Close()
			return
		}
		p.running.Add(2)
		go p.pipe(client, server) // owner: the Proxy; ends when either side closes
		go p.pipe(server, client) // owner: the Proxy; ends when either side closes
	}
}

// chunk is what was read, and when.
type chunk struct {
	data []byte
	at   time.Time
}

// pipe copies from src to dst, each chunk written oneWay after it was read.
func (p *Proxy) pipe(src, dst net.Conn) {
	defer p.running.Done()
	defer func() {
		src.Close()
		dst.Close()
		p.track(src, false)
		p.track(dst, false)
	}()
	queue := make(chan chunk, 1024)
	go func() { // owner: pipe; ends when src does (it closes queue)
		defer close(queue)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 { // a copy the size of what came: most reads are a few hundred bytes
				queue <- chunk{append([]byte(nil), buf[:n]...), time.Now()}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		if wait := time.Until(c.at.Add(p.oneWay)); wait > 0 {
			time.Sleep(wait)
		}
		if _, err := dst.Write(c.data); err != nil {
			src.Close()       // the other side is gone: stop the reader
			for range queue { // and let it finish
			}
			return
		}
	}
}
