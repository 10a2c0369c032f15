package pgsync

import (
	"bufio"
	"errors"
	"io"
)

// pipe runs produce in a goroutine writing into consume's reader, its writes gathered into
// 256 KiB pieces (a COPY source hands over one row per write, which the target would
// otherwise receive as one message each). Once both have ended it returns the error that
// came first, and whether it was produce's: when one side fails the other fails in turn
// (a COPY fed by a failed read, a read nobody takes any more), and only the first error
// says what went wrong.
func pipe(produce func(io.Writer) error, consume func(io.Reader) error) (err error, fromProducer bool) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { // owner: pipe; ends when produce returns
		bw := bufio.NewWriterSize(pw, 256<<10)
		err := produce(bw)
		if err == nil {
			err = bw.Flush()
		}
		done <- err // before the close that consume sees: the select below then finds it
		pw.CloseWithError(err)
	}()
	consumeErr := consume(pr)
	select {
	case produceErr := <-done:
		if produceErr != nil {
			return produceErr, true
		}
		return consumeErr, false
	default:
	}
	pr.CloseWithError(errors.New("the reader stopped")) // unblocks produce if consume quit early
	produceErr := <-done
	if consumeErr != nil {
		return consumeErr, false
	}
	return produceErr, produceErr != nil
}
