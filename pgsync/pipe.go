package pgsync

import (
	"bufio"
	"errors"
	"io"
)

// pipe runs produce in a goroutine writing into consume's reader, and returns both errors
// once both have ended. With buffered, produce's writes are gathered into 256 KiB pieces:
// a COPY source hands over one row per write, which the target would otherwise receive as
// one message each.
func pipe(buffered bool, produce func(io.Writer) error, consume func(io.Reader) error) (produceErr, consumeErr error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { // owner: pipe; ends when produce returns
		var w io.Writer = pw
		var bw *bufio.Writer
		if buffered {
			bw = bufio.NewWriterSize(pw, 256<<10)
			w = bw
		}
		err := produce(w)
		if err == nil && bw != nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		done <- err
	}()
	consumeErr = consume(pr)
	pr.CloseWithError(errors.New("the reader stopped")) // unblocks produce if consume quit early
	return <-done, consumeErr
}
