package pgdump

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// dumpMadeBy reads the header of a custom or directory archive for the versions it records,
// as ", by pg_dump 16.2 from server 16.2" ("" when it cannot be read).
func dumpMadeBy(path, kind string) string {
	file := path
	switch kind {
	case Directory:
		file = filepath.Join(path, "toc.dat")
	case Custom:
	default:
		return ""
	}
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	// The compression field changed size in archive version 1.15; a header from an unknown
	// future version may use either layout: keep the one that reads as version strings.
	for _, byteCompression := range []bool{true, false} {
		server, dumper, err := readArchiveHeader(bytes.NewReader(head[:n]), byteCompression)
		if err == nil && versionRE.MatchString(dumper) && versionRE.MatchString(server) {
			return fmt.Sprintf(", by pg_dump %s from server %s", dumper, server)
		}
	}
	return ""
}

// readArchiveHeader follows pg_dump's archive header (pg_backup_archiver.c, WriteHead):
// magic, version, sizes, format, compression, creation time, database name, then the
// server's and pg_dump's version strings.
var versionRE = regexp.MustCompile(`^\d+(\.\d+)*( \(.*\))?$`)

func readArchiveHeader(r io.Reader, byteCompression bool) (server, dumper string, err error) {
	head := make([]byte, 11)
	if _, err := io.ReadFull(r, head); err != nil {
		return "", "", err
	}
	if string(head[:5]) != "PGDMP" {
		return "", "", fmt.Errorf("no PGDMP magic")
	}
	intSize := int(head[8])
	if intSize < 1 || intSize > 8 {
		return "", "", fmt.Errorf("int size %d", intSize)
	}
	readInt := func() (int, error) {
		b := make([]byte, 1+intSize)
		if _, err := io.ReadFull(r, b); err != nil {
			return 0, err
		}
		v := 0
		for i := intSize; i >= 1; i-- {
			v = v<<8 | int(b[i])
		}
		if b[0] != 0 {
			v = -v
		}
		return v, nil
	}
	readString := func() (string, error) {
		n, err := readInt()
		if err != nil || n < 0 || n > 1<<16 {
			return "", fmt.Errorf("string length %d: %v", n, err)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return string(b), err
	}
	if byteCompression {
		if _, err := io.ReadFull(r, make([]byte, 1)); err != nil { // compression algorithm
			return "", "", err
		}
	} else if _, err := readInt(); err != nil { // compression level
		return "", "", err
	}
	for i := 0; i < 7; i++ { // creation time
		if _, err := readInt(); err != nil {
			return "", "", err
		}
	}
	if _, err := readString(); err != nil { // database name
		return "", "", err
	}
	if server, err = readString(); err != nil {
		return "", "", err
	}
	dumper, err = readString()
	return server, dumper, err
}
