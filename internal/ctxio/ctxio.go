// Package ctxio makes a long read stoppable: a reader that fails with the context's error
// once the context is done, so that a cancelled worker does not read a large file to its end.
package ctxio

import (
	"context"
	"io"
)

// Reader reads from r until ctx is done, then returns ctx's error.
func Reader(ctx context.Context, r io.Reader) io.Reader { return &reader{ctx: ctx, r: r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c *reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
