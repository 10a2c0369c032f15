// Package sample writes a small but realistic storage tree of Gemini-style FITS files for
// the demo and the tests: several nights of GMOS-N biases, flats, arcs and science frames,
// plain and .fits.bz2, with an obslog, a file that is not FITS, and names the ingest rules
// must skip (a tmp file, a .jpg preview); optionally a NIRI, a GNIRS and a FLAMINGOS-2
// frame on the first night, so that every instrument with rules of its own is present.
package sample

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dsnet/compress/bzip2"

	"github.com/fitsarchive/agentd/internal/fits"
)

// Manifest lists what Tree wrote, as paths relative to the root.
type Manifest struct {
	Ingestable []string // files the enqueue rules accept
	FITS       []string // of those, valid FITS files
	Skipped    []string // files the enqueue rules skip
	// Frames says what each FITS file is, as its keywords INSTRUME and OBSTYPE say.
	Frames map[string]Frame
}

// Frame is what a sample FITS file holds.
type Frame struct {
	Instrument, ObsType string
}

// Options shapes the tree.
type Options struct {
	Nights   int       // nights of data (default 3)
	Size     int       // image side in pixels (default 64)
	Modified time.Time // mtime of every file (default an hour ago: old enough to ingest)
	Infrared bool      // add a NIRI, a GNIRS and a FLAMINGOS-2 frame on the first night
}

// frame is one observation of a night.
type frame struct {
	obstype, class, object, filter, grating string
	exptime                                 float64
}

var night = []frame{
	{"BIAS", "dayCal", "Bias", "open1-6&open2-8", "MIRROR", 0},
	{"BIAS", "dayCal", "Bias", "open1-6&open2-8", "MIRROR", 0},
	{"FLAT", "dayCal", "GCALflat", "g_G0301&open2-8", "MIRROR", 2},
	{"FLAT", "dayCal", "GCALflat", "r_G0303&open2-8", "MIRROR", 2},
	{"ARC", "dayCal", "CuAr", "open1-6&open2-8", "B600+_G5307", 30},
	{"OBJECT", "science", "NGC 1068", "g_G0301&open2-8", "MIRROR", 300},
	{"OBJECT", "science", "NGC 1068", "r_G0303&open2-8", "MIRROR", 300},
	{"OBJECT", "science", "M 31", "open1-6&open2-8", "B600+_G5307", 900},
}

// Tree writes the sample files under root.
func Tree(root string, opt Options) (Manifest, error) {
	if opt.Nights <= 0 {
		opt.Nights = 3
	}
	if opt.Size <= 0 {
		opt.Size = 64
	}
	if opt.Modified.IsZero() {
		opt.Modified = time.Now().Add(-time.Hour)
	}
	m := Manifest{Frames: map[string]Frame{}}
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(rel string, body []byte) error {
		full := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, body, 0o644); err != nil {
			return err
		}
		return os.Chtimes(full, opt.Modified, opt.Modified)
	}
	n := 0
	for d := 0; d < opt.Nights; d++ {
		date := start.AddDate(0, 0, d)
		ymd := date.Format("20060102")
		dir := filepath.Join(date.Format("2006"), ymd)
		for i, f := range night {
			n++
			name := fmt.Sprintf("N%sS%04d.fits", ymd, i+1)
			body, err := fitsFile(f, date.Add(time.Duration(i+1)*17*time.Minute), ymd, i+1, opt.Size)
			if err != nil {
				return m, err
			}
			if n%3 == 0 {
				name += ".bz2"
				if body, err = compress(body); err != nil {
					return m, err
				}
			}
			rel := filepath.Join(dir, name)
			if err := write(rel, body); err != nil {
				return m, err
			}
			m.Ingestable = append(m.Ingestable, rel)
			m.FITS = append(m.FITS, rel)
			m.Frames[rel] = Frame{Instrument: "GMOS-N", ObsType: f.obstype}
		}
		obslog := filepath.Join(dir, ymd+"_GN-2020A-Q-1_obslog.txt")
		if err := write(obslog, []byte("# observing log "+ymd+"\n")); err != nil {
			return m, err
		}
		m.Ingestable = append(m.Ingestable, obslog)
	}
	first := filepath.Join("2020", start.Format("20060102"))
	if opt.Infrared {
		for i, f := range infrared {
			t := start.Add(time.Duration(i+1) * 23 * time.Minute)
			body, err := infraredFile(f, t, opt.Size)
			if err != nil {
				return m, err
			}
			rel := filepath.Join(first, fmt.Sprintf("%s%sS%04d.fits", f.site, start.Format("20060102"), 101+i))
			if err := write(rel, body); err != nil {
				return m, err
			}
			m.Ingestable = append(m.Ingestable, rel)
			m.FITS = append(m.FITS, rel)
			m.Frames[rel] = Frame{Instrument: f.instrument, ObsType: f.obstype}
		}
	}
	notFITS := filepath.Join(first, "N20200101S0098.fits")
	if err := write(notFITS, []byte("this is not a FITS file\n")); err != nil {
		return m, err
	}
	m.Ingestable = append(m.Ingestable, notFITS)
	for _, rel := range []string{filepath.Join(first, "N20200101S0099_tmp.fits"), filepath.Join(first, "N20200101S0001.jpg")} {
		if err := write(rel, []byte("skip me")); err != nil {
			return m, err
		}
		m.Skipped = append(m.Skipped, rel)
	}
	return m, nil
}

// fitsFile is a primary header with the observation's keywords and one image extension.
func fitsFile(f frame, t time.Time, ymd string, num, size int) ([]byte, error) {
	prog := "GN-2020A-Q-1"
	obsid := fmt.Sprintf("%s-%d", prog, num)
	primary := []fits.Card{
		{Keyword: "SIMPLE", Value: true},
		{Keyword: "BITPIX", Value: int64(16)},
		{Keyword: "NAXIS", Value: int64(0)},
		{Keyword: "EXTEND", Value: true},
		{Keyword: "TELESCOP", Value: "Gemini-North"},
		{Keyword: "INSTRUME", Value: "GMOS-N"},
		{Keyword: "OBJECT", Value: f.object},
		{Keyword: "OBSTYPE", Value: f.obstype},
		{Keyword: "OBSCLASS", Value: f.class},
		{Keyword: "GEMPRGID", Value: prog},
		{Keyword: "OBSID", Value: obsid},
		{Keyword: "DATALAB", Value: fmt.Sprintf("%s-%03d", obsid, 1)},
		{Keyword: "DATE-OBS", Value: t.Format("2006-01-02")},
		{Keyword: "TIME-OBS", Value: t.Format("15:04:05.0")},
		{Keyword: "RA", Value: 40.669625, Comment: "degrees"},
		{Keyword: "DEC", Value: -0.01328, Comment: "degrees"},
		{Keyword: "EXPTIME", Value: f.exptime},
		{Keyword: "FILTER1", Value: splitFilter(f.filter, 0)},
		{Keyword: "FILTER2", Value: splitFilter(f.filter, 1)},
		{Keyword: "GRATING", Value: f.grating},
		{Keyword: "CENTWAVE", Value: 520.0},
		{Keyword: "MASKNAME", Value: "1.0arcsec"},
		{Keyword: "RAWGEMQA", Value: "Pass"},
		{Keyword: "RELEASE", Value: t.AddDate(1, 0, 0).Format("2006-01-02")},
		{Keyword: "HISTORY", Comment: "written by the agentd sample generator for night " + ymd},
	}
	var buf bytes.Buffer
	if err := fits.WriteHDU(&buf, primary, nil); err != nil {
		return nil, err
	}
	ext := []fits.Card{
		{Keyword: "XTENSION", Value: "IMAGE"},
		{Keyword: "BITPIX", Value: int64(16)},
		{Keyword: "NAXIS", Value: int64(2)},
		{Keyword: "NAXIS1", Value: int64(size)},
		{Keyword: "NAXIS2", Value: int64(size)},
		{Keyword: "PCOUNT", Value: int64(0)},
		{Keyword: "GCOUNT", Value: int64(1)},
		{Keyword: "EXTNAME", Value: "SCI"},
		{Keyword: "CCDSUM", Value: "2 2"},
	}
	data := make([]byte, 2*size*size)
	for i := 0; i < size*size; i++ {
		binary.BigEndian.PutUint16(data[2*i:], uint16((i*7+num*13)%4096))
	}
	if err := fits.WriteHDU(&buf, ext, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func splitFilter(f string, i int) string {
	parts := bytes.SplitN([]byte(f), []byte("&"), 2)
	if i < len(parts) {
		return string(parts[i])
	}
	return "open"
}

// compress returns body bzip2-compressed.
func compress(body []byte) ([]byte, error) {
	var out bytes.Buffer
	w, err := bzip2.NewWriter(&out, &bzip2.WriterConfig{Level: 9})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(body); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// infraredFrame is a raw frame of an infrared instrument: its site letter, telescope,
// program and the instrument's own keywords (shaped after real NIRI, GNIRS and F2 headers).
type infraredFrame struct {
	site, telescope, program, instrument, obstype string
	cards                                         []fits.Card
}

var infrared = []infraredFrame{
	{"N", "Gemini-North", "GN-2020A-Q-2", "NIRI", "OBJECT", []fits.Card{
		{Keyword: "OBSCLASS", Value: "science"},
		{Keyword: "OBJECT", Value: "NGC 1068"}, {Keyword: "FILTER1", Value: "J_G0202"}, {Keyword: "FILTER2", Value: "open"},
		{Keyword: "FILTER3", Value: "open"}, {Keyword: "CAMERA", Value: "f6"}, {Keyword: "FPMASK", Value: "f6-cam_G5208"},
		{Keyword: "EXPTIME", Value: 1.0}, {Keyword: "COADDS", Value: int64(10)}, {Keyword: "LNRS", Value: int64(1)},
		{Keyword: "NDAVGS", Value: int64(16)}, {Keyword: "A_VDDUC", Value: -1.3}, {Keyword: "A_VDET", Value: -0.7},
	}},
	{"N", "Gemini-North", "GN-2020A-Q-3", "GNIRS", "OBJECT", []fits.Card{
		{Keyword: "OBSCLASS", Value: "acq"},
		{Keyword: "OBJECT", Value: "NGC 1068"}, {Keyword: "ACQMIR", Value: "In"}, {Keyword: "FILTER1", Value: "Open"},
		{Keyword: "FILTER2", Value: "H2_G0522"}, {Keyword: "SLIT", Value: "Acquisition_G5530"},
		{Keyword: "DECKER", Value: "Acquisition_G5531"}, {Keyword: "CAMERA", Value: "LongBlue_G5542"},
		{Keyword: "LNRS", Value: int64(1)}, {Keyword: "NDAVGS", Value: int64(1)}, {Keyword: "DETBIAS", Value: -0.3},
		{Keyword: "GRATING", Value: "32/mmSB_G5533"}, {Keyword: "PRISM", Value: "MIR_G5511"}, {Keyword: "EXPTIME", Value: 30.0},
		{Keyword: "COADDS", Value: int64(2)},
	}},
	{"S", "Gemini-South", "GS-2020A-Q-4", "F2", "FLAT", []fits.Card{
		{Keyword: "OBSCLASS", Value: "partnerCal"}, {Keyword: "GCALLAMP", Value: "QH"}, {Keyword: "GCALSHUT", Value: "OPEN"},
		{Keyword: "OBJECT", Value: "NGC 1068"}, {Keyword: "FILTER1", Value: "Open"}, {Keyword: "FILTER2", Value: "JH_G0809"},
		{Keyword: "LYOT", Value: "f/16_G5830"}, {Keyword: "GRISM", Value: "JH_G5801"}, {Keyword: "DECKER", Value: "Long_slit"},
		{Keyword: "MOSPOS", Value: "4pix-slit"}, {Keyword: "MASKNAME", Value: "4pix-slit"}, {Keyword: "WAVELENG", Value: 14000.0},
		{Keyword: "LNRS", Value: int64(8)}, {Keyword: "EXPTIME", Value: 210.0},
	}},
}

// infraredFile is a primary header with the frame's keywords and one image extension.
func infraredFile(f infraredFrame, t time.Time, size int) ([]byte, error) {
	obsid := f.program + "-1"
	primary := []fits.Card{
		{Keyword: "SIMPLE", Value: true}, {Keyword: "BITPIX", Value: int64(16)}, {Keyword: "NAXIS", Value: int64(0)},
		{Keyword: "EXTEND", Value: true}, {Keyword: "TELESCOP", Value: f.telescope}, {Keyword: "INSTRUME", Value: f.instrument},
		{Keyword: "OBSTYPE", Value: f.obstype}, {Keyword: "GEMPRGID", Value: f.program},
		{Keyword: "OBSID", Value: obsid}, {Keyword: "DATALAB", Value: obsid + "-001"},
		{Keyword: "DATE-OBS", Value: t.Format("2006-01-02")}, {Keyword: "TIME-OBS", Value: t.Format("15:04:05.0")},
		{Keyword: "RA", Value: 40.669625}, {Keyword: "DEC", Value: -0.01328}, {Keyword: "RAWGEMQA", Value: "Usable"},
		{Keyword: "RELEASE", Value: t.AddDate(1, 0, 0).Format("2006-01-02")},
	}
	primary = append(primary, f.cards...)
	var buf bytes.Buffer
	if err := fits.WriteHDU(&buf, primary, nil); err != nil {
		return nil, err
	}
	ext := []fits.Card{
		{Keyword: "XTENSION", Value: "IMAGE"}, {Keyword: "BITPIX", Value: int64(16)}, {Keyword: "NAXIS", Value: int64(2)},
		{Keyword: "NAXIS1", Value: int64(size)}, {Keyword: "NAXIS2", Value: int64(size)}, {Keyword: "PCOUNT", Value: int64(0)},
		{Keyword: "GCOUNT", Value: int64(1)}, {Keyword: "EXTNAME", Value: "SCI"},
	}
	if err := fits.WriteHDU(&buf, ext, make([]byte, 2*size*size)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
