// Command mksample writes the sample storage tree (package sample) for the demo:
//
//	go run ./internal/sample/mksample [--nights N] [--infrared] DIR
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/fitsarchive/agentd/internal/sample"
)

func main() {
	nights := flag.Int("nights", 3, "nights of observations")
	infrared := flag.Bool("infrared", false, "add a NIRI, a GNIRS and a FLAMINGOS-2 frame on the first night")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: mksample [--nights N] [--infrared] DIR")
		os.Exit(2)
	}
	m, err := sample.Tree(flag.Arg(0), sample.Options{Nights: *nights, Infrared: *infrared})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mksample:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "mksample: %d files to ingest (%d FITS), %d to be skipped, in %s\n",
		len(m.Ingestable), len(m.FITS), len(m.Skipped), flag.Arg(0))
}
