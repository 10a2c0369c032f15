package ingest

import (
	"context"
	"os"
	"testing"
)

// BenchmarkScanFile times one pass over $SCAN_BENCH_FILE (md5, .bz2 stream, FITS parse);
// compare with md5sum and bzip2 -dc | md5sum of the same file (docs/benchmarks.md).
func BenchmarkScanFile(b *testing.B) {
	path := os.Getenv("SCAN_BENCH_FILE")
	if path == "" {
		b.Skip("set SCAN_BENCH_FILE to a file to scan")
	}
	compressed := len(path) > 4 && path[len(path)-4:] == ".bz2"
	for i := 0; i < b.N; i++ {
		if _, err := ScanFile(context.Background(), path, compressed, true); err != nil {
			b.Fatal(err)
		}
	}
}
