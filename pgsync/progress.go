package pgsync

import (
	"bytes"
	"io"
	"sync/atomic"
	"time"
)

// rowMeter counts the rows of one table as they stream and reports them every 200 ms.
type rowMeter struct {
	rows atomic.Int64
	stop chan struct{}
	done chan struct{}
}

func startMeter(report func(rows int64)) *rowMeter {
	m := &rowMeter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() { // owner: the caller; ends at m.end
		defer close(m.done)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-tick.C:
				report(m.rows.Load())
			}
		}
	}()
	return m
}

func (m *rowMeter) end() {
	close(m.stop)
	<-m.done
}

// messageCounter counts the writes a COPY TO makes: PostgreSQL sends one message per row.
type messageCounter struct {
	w    io.Writer
	rows *atomic.Int64
}

func (c messageCounter) Write(p []byte) (int, error) {
	c.rows.Add(1)
	return c.w.Write(p)
}

// lineCounter counts the rows of COPY text data as it is read: one line each (newlines
// inside values are escaped).
type lineCounter struct {
	r    io.Reader
	rows *atomic.Int64
}

func (c lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.rows.Add(int64(bytes.Count(p[:n], []byte{'\n'})))
	return n, err
}
