// Command previewbench measures the previewer: MB/s and peak memory (VmHWM) of a process
// that makes the preview of one FITS image, for images of growing size, plain and .bz2. Each
// preview runs in a child process of its own, so that its peak memory is its own.
//
//	go run ./bench/previewbench [-sizes 16,256] [-bz2-up-to 64]
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dsnet/compress/bzip2"

	"github.com/fitsarchive/agentd/internal/fits"
	"github.com/fitsarchive/agentd/internal/preview"
)

func main() {
	child := flag.String("child", "", "make the preview of this file and report (internal)")
	sizes := flag.String("sizes", "16,64,256", "image sizes in MB (16-bit square images)")
	bz2UpTo := flag.Int("bz2-up-to", 64, "also measure the .bz2 of images up to this many MB")
	flag.Parse()
	if *child != "" {
		if err := measure(*child); err != nil {
			fmt.Fprintln(os.Stderr, "previewbench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*sizes, *bz2UpTo); err != nil {
		fmt.Fprintln(os.Stderr, "previewbench:", err)
		os.Exit(1)
	}
}

func run(sizes string, bz2UpTo int) error {
	dir, err := os.MkdirTemp("", "previewbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("| file | pixels | file MB | seconds | MB/s (image data) | peak RSS (VmHWM) MB |\n|---|---:|---:|---:|---:|---:|\n")
	for _, s := range strings.Split(sizes, ",") {
		mb, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		side := int(math.Sqrt(float64(mb<<20) / 2))
		path := filepath.Join(dir, fmt.Sprintf("image%d.fits", mb))
		if err := writeImage(path, side, false); err != nil {
			return err
		}
		files := []string{path}
		if mb <= bz2UpTo {
			if err := writeImage(path+".bz2", side, true); err != nil {
				return err
			}
			files = append(files, path+".bz2")
		}
		for _, f := range files {
			out, err := exec.Command(self, "-child", f).Output()
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			var secs, hwm float64
			if _, err := fmt.Sscan(string(out), &secs, &hwm); err != nil {
				return fmt.Errorf("%s: %q: %w", f, out, err)
			}
			fi, _ := os.Stat(f)
			data := float64(side) * float64(side) * 2 / (1 << 20)
			fmt.Printf("| %s | %d×%d | %.1f | %.2f | %.0f | %.0f |\n", filepath.Base(f), side, side, float64(fi.Size())/(1<<20), secs, data/secs, hwm/1024)
		}
	}
	return nil
}

// measure makes the preview of path (decompressing a .bz2 as a stream) and prints the
// seconds it took and the process's peak resident memory in kB.
func measure(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if strings.HasSuffix(path, ".bz2") {
		bz, err := bzip2.NewReader(r, nil)
		if err != nil {
			return err
		}
		r = bz
	}
	start := time.Now()
	if _, err := preview.Make(r, io.Discard, preview.Options{}); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			fmt.Println(secs, kb)
			return nil
		}
	}
	return fmt.Errorf("no VmHWM in /proc/self/status")
}

// writeImage writes a side×side 16-bit image with a gradient and noise-like texture,
// generated row by row (never whole in memory), compressed with bzip2 when asked.
func writeImage(path string, side int, compress bool) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	var w io.Writer = bw
	var bz *bzip2.Writer
	if compress {
		if bz, err = bzip2.NewWriter(bw, &bzip2.WriterConfig{Level: 1}); err != nil {
			return err
		}
		w = bz
	}
	if err := fits.WriteHDU(w, []fits.Card{{Keyword: "SIMPLE", Value: true}, {Keyword: "BITPIX", Value: int64(16)},
		{Keyword: "NAXIS", Value: int64(2)}, {Keyword: "NAXIS1", Value: int64(side)}, {Keyword: "NAXIS2", Value: int64(side)},
		{Keyword: "BZERO", Value: 32768.0}}, nil); err != nil {
		return err
	}
	row := make([]byte, 2*side)
	for y := 0; y < side; y++ {
		for x := 0; x < side; x++ {
			v := uint16((x*40000/side + (x*y*7)%997) & 0xffff)
			binary.BigEndian.PutUint16(row[2*x:], v-32768)
		}
		if _, err := w.Write(row); err != nil {
			return err
		}
	}
	if pad := (fits.BlockSize - (2*side*side)%fits.BlockSize) % fits.BlockSize; pad > 0 {
		if _, err := w.Write(make([]byte, pad)); err != nil {
			return err
		}
	}
	if bz != nil {
		if err := bz.Close(); err != nil {
			return err
		}
	}
	return bw.Flush()
}
