package pgdump

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxDumpLine is how much of one line of a dump's SQL (outside COPY data) is kept: every
// line the transfer reads (a column, a COPY header, a setval, the start of an INSERT) is far
// shorter, and the rest of a longer line (a function body, a comment) is skipped unread into
// memory, so that a hostile or odd dump cannot make the transfer hold a 400 MB line.
const MaxDumpLine = 64 << 10

// readLine reads one line of SQL (with its newline when it fits), keeping at most
// MaxDumpLine bytes of it; io.EOF comes with the last, unterminated line as ReadString's does.
func readLine(br *bufio.Reader) (string, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if room := MaxDumpLine - len(buf); room > 0 {
			buf = append(buf, frag[:min(len(frag), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return string(buf), err
	}
}

// copyBlock reads the data lines of one COPY … FROM stdin block, up to (not including) its
// `\.` line, and then says EOF. A Read fills as much of its buffer as the lines already
// read from the dump allow: a COPY fed from it then sends few large messages, not one per
// row.
type copyBlock struct {
	br          *bufio.Reader
	pending     []byte // part of br's buffer: valid until the next ReadSlice
	done        bool
	err         error
	atLineStart bool
	table       string
}

func newCopyBlock(br *bufio.Reader, table string) *copyBlock {
	return &copyBlock{br: br, atLineStart: true, table: table}
}

func (b *copyBlock) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(b.pending) == 0 {
			if b.done || b.err != nil {
				break
			}
			if n > 0 && b.br.Buffered() == 0 {
				break // wait for more only while nothing is gathered
			}
			b.next()
			continue
		}
		k := copy(p[n:], b.pending)
		b.pending = b.pending[k:]
		n += k
	}
	switch {
	case n > 0:
		return n, nil
	case b.err != nil:
		return 0, b.err
	case b.done:
		return 0, io.EOF
	}
	return 0, nil // len(p) == 0
}

// next reads the next line into pending, or ends the block (done, or err).
func (b *copyBlock) next() {
	line, err := b.br.ReadSlice('\n')
	if err != nil && !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
		b.err = err
		return
	}
	if b.atLineStart && isEndOfCopy(line) {
		b.done = true
		return
	}
	if errors.Is(err, io.EOF) && len(line) == 0 {
		b.err = fmt.Errorf("the dump ends inside the data of %s (truncated file?)", b.table)
		return
	}
	b.atLineStart = len(line) > 0 && line[len(line)-1] == '\n'
	b.pending = line
}

func isEndOfCopy(line []byte) bool {
	line = bytes.TrimRight(line, "\r\n")
	return string(line) == `\.`
}

// drain reads the rest of the block.
func (b *copyBlock) drain() error {
	_, err := io.Copy(io.Discard, b)
	return err
}

// dataHandler hears what the data section of a dump holds.
type dataHandler struct {
	want   func(table string) bool
	copy   func(table string, cols []string, data io.Reader) error // a wanted table's rows
	setval func(seq string, last int64)
}

// readData streams the SQL of a dump (plain, or pg_restore's output): the COPY blocks of
// wanted tables go to h.copy, the others are skipped, setval lines go to h.setval. A wanted
// table whose rows are INSERT statements is refused.
func readData(r io.Reader, h dataHandler) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := readLine(br)
		if len(line) > 0 {
			s := strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(s, "COPY "):
				table, cols, ok := parseCopyHeader(s)
				if !ok {
					return fmt.Errorf("unreadable COPY line in the dump: %.100q", s)
				}
				block := newCopyBlock(br, table)
				if h.want(table) {
					if err := h.copy(table, cols, block); err != nil {
						return err
					}
				}
				if err := block.drain(); err != nil {
					return err
				}
			case strings.HasPrefix(s, "INSERT INTO "):
				if m := insertRE.FindStringSubmatch(s); m != nil {
					if _, table := splitQualified(m[1]); h.want(table) {
						return fmt.Errorf("%w: the rows of %s are INSERT statements; make the backup with pg_dump's default COPY output (pg_dump -Fc, without --inserts)", ErrInserts, table)
					}
				}
			case strings.HasPrefix(s, "SELECT pg_catalog.setval("):
				if m := setvalRE.FindStringSubmatch(s); m != nil && h.setval != nil {
					v, perr := strconv.ParseInt(m[2], 10, 64)
					if perr == nil {
						if m[3] == "false" {
							v--
						}
						h.setval(strings.ReplaceAll(m[1], "''", "'"), v)
					}
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// parseCopyHeader reads `COPY public.t (a, "b") FROM stdin;`.
func parseCopyHeader(s string) (table string, cols []string, ok bool) {
	if m := copyRE.FindStringSubmatch(s); m != nil {
		schema, name := splitQualified(m[1])
		if schema != "" && schema != "public" {
			return "", nil, true // another schema: never wanted
		}
		return name, splitIdents(m[2], ','), true
	}
	if m := copyNoColsRE.FindStringSubmatch(s); m != nil {
		_, name := splitQualified(m[1])
		return name, nil, true
	}
	return "", nil, false
}
