// Package ingest records one file of the storage tree in the archive database: the file
// row, a new diskfile version with its sizes and checksums, and for FITS files the header
// row (plus, on the archive, a calibration-cache queue item). It is the handler of the
// ingest queue's workers.
//
// # Caveats
//
//   - The file is read and hashed with no transaction open: one pass computes the md5 of
//     the stored bytes, decompresses .bz2 as a stream (github.com/dsnet/compress: 1.9× the
//     standard library's decoder) for the data md5 and parses the FITS
//     headers on the way. Only then does one short transaction lock the file row, change the
//     diskfiles, and delete the queue row fenced by the claim token: a worker whose lease was
//     rescued meanwhile rolls back instead of writing a second diskfile.
//   - A file modified in the last DeferWindow, or locked by a writer, is deferred, not read
//     half-written.
//   - A file that is not valid FITS is recorded with isfits=false; a missing or unreadable
//     file, or a corrupt .bz2, fails the item with the path in the error.
package ingest

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dsnet/compress"
	dsbzip2 "github.com/dsnet/compress/bzip2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sys/unix"

	"github.com/fitsarchive/agentd/internal/calcache"
	"github.com/fitsarchive/agentd/internal/ctxio"
	"github.com/fitsarchive/agentd/internal/filenames"
	"github.com/fitsarchive/agentd/internal/fits"
	"github.com/fitsarchive/agentd/internal/header"
	"github.com/fitsarchive/agentd/internal/preview"
	"github.com/fitsarchive/agentd/queue"
)

var (
	// ErrMissing is returned when the queued file is not in storage.
	ErrMissing = errors.New("file not found in storage")
	// ErrCorrupt is returned when a compressed file cannot be decompressed.
	ErrCorrupt = errors.New("corrupt compressed file")
	// ErrTooLarge is returned when a compressed file expands past its cap (MaxRatio).
	ErrTooLarge = errors.New("compressed file expands too much")
)

// A .bz2 may decompress to MaxRatio times its own size, and never less than
// MinExpansionCap. Archive FITS files compress 2-20×; a 785-byte bzip2 bomb
// expands to 1 GiB, which would pin a worker (its heartbeat keeping the lease) for minutes.
const (
	MaxRatio        = 200
	MinExpansionCap = 256 << 20
)

// PreviewMode says what ingest does about a FITS file's preview.
type PreviewMode int

// Preview modes.
const (
	PreviewsNone   PreviewMode = iota // none (a summit)
	PreviewsQueued                    // a preview queue item, in the ingest's transaction (the archive)
	PreviewsInline                    // made from the same read of the file, before the ingest commits (--make-previews)
)

// DefaultDeferWindow is how recently modified a file may be before it is deferred.
const DefaultDeferWindow = 5 * time.Second

// Config configures an Ingester.
type Config struct {
	DB      *pgxpool.Pool
	Root    string // storage root
	Archive bool   // archive role: queue calcache work for new headers
	// CalcacheRules say which observations a new calibration could serve, to queue them
	// again (archive role, unless FastRebuild); nil there is an error.
	CalcacheRules *calcache.Rules
	// Previews: PreviewsNone, PreviewsQueued (a preview queue item per FITS file) or
	// PreviewsInline (made while the file is read, written to PreviewStore).
	Previews     PreviewMode
	PreviewStore *preview.Store
	FastRebuild  bool // the database is being rebuilt: skip the unchanged test
	DeferWindow  time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

// Ingester ingests files; safe for concurrent use by many workers.
type Ingester struct {
	cfg      Config
	root     *os.Root                            // every file is opened through it: no "..", no symlink out of the root
	calcache *queue.Inserter[queue.CalcacheItem] // the calcache work of new headers (archive role)
	previews *queue.Inserter[queue.PreviewItem]  // the preview work of new FITS diskfiles (PreviewsQueued)
}

// New returns an Ingester over the storage root cfg.Root, which it opens.
func New(cfg Config) (*Ingester, error) {
	if cfg.DeferWindow == 0 {
		cfg.DeferWindow = DefaultDeferWindow
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("open storage root: %w", err)
	}
	if cfg.Previews == PreviewsInline && cfg.PreviewStore == nil {
		root.Close()
		return nil, errors.New("inline previews need a preview store")
	}
	if cfg.Archive && !cfg.FastRebuild && cfg.CalcacheRules == nil {
		root.Close()
		return nil, errors.New("an archive's ingest needs the calibration rules, to queue what a new calibration serves")
	}
	return &Ingester{cfg: cfg, root: root, calcache: &queue.Inserter[queue.CalcacheItem]{Quiet: true},
		previews: &queue.Inserter[queue.PreviewItem]{Quiet: true}}, nil
}

// Close lets go of the storage root.
func (g *Ingester) Close() error { return g.root.Close() }

// open opens the queued file through the root, without blocking (a FIFO in its place must
// not hang the worker), and checks with fstat that it is a regular file.
func (g *Ingester) open(dir, name string) (*os.File, fs.FileInfo, error) {
	full := filepath.Join(g.cfg.Root, dir, name)
	rel := filepath.Join(dir, name)
	if !filepath.IsLocal(rel) || strings.ContainsRune(name, '/') {
		return nil, nil, fmt.Errorf("queued path %q is not inside the storage root; refused", rel)
	}
	f, err := g.root.OpenFile(rel, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("%w: %s", ErrMissing, full)
	case errors.Is(err, fs.ErrPermission):
		return nil, nil, fmt.Errorf("cannot read %s: permission denied; let agentd's user read it, then run agentctl queue retry", full)
	case err != nil:
		// os.Root says "path escapes from parent" for a symlink out of the root.
		return nil, nil, fmt.Errorf("cannot read %s: %w", full, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("cannot read %s: %w", full, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file (%s)", full, fi.Mode().Type())
	}
	return f, fi, nil
}

// Scan is what one pass over a file found.
type Scan struct {
	FileSize, DataSize int64
	FileMD5, DataMD5   string
	IsFITS             bool
	HDUs               []fits.HDU
	FITSError          error // why a .fits name is not valid FITS
}

// Handle ingests the queue item's file (a queue.Handler).
func (g *Ingester) Handle(ctx context.Context, it queue.Item) (queue.Result, error) {
	name, dir := it.String("filename"), it.String("path")
	full := filepath.Join(g.cfg.Root, dir, name)
	f, fi, err := g.open(dir, name)
	if err != nil {
		return queue.Result{}, queue.Permanent(err) // the file's fault, never the database's
	}
	defer f.Close()
	if !it.Bool("no_defer") {
		if age := g.cfg.Now().Sub(fi.ModTime()); age < g.cfg.DeferWindow {
			return queue.DeferFor(g.cfg.DeferWindow - age + 100*time.Millisecond), nil
		}
		if lockedByWriter(f) {
			return queue.DeferFor(g.cfg.DeferWindow), nil
		}
	}
	fileName := filenames.FileName(name)
	lastmod := fi.ModTime().Truncate(time.Microsecond) // PostgreSQL's precision
	force, forceMD5 := it.Bool("force"), it.Bool("force_md5")

	var prevMD5 string
	if !force && !g.cfg.FastRebuild {
		var prevLastmod time.Time
		err := g.cfg.DB.QueryRow(ctx, `SELECT d.lastmod, d.file_md5 FROM file f JOIN diskfile d ON d.file_id = f.id
			WHERE f.name = $1 AND d.path = $2 AND d.present`, fileName, dir).Scan(&prevLastmod, &prevMD5)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return queue.Result{}, fmt.Errorf("look up %s: %w", full, err)
		case prevLastmod.Equal(lastmod) && !forceMD5:
			return queue.Complete, nil // unchanged
		}
	}

	isFITSName := strings.Contains(name, ".fits")
	// An inline preview is built from the same read; its own errors never spoil the scan.
	var pb *preview.Builder
	var previewErr error
	var visit func(fits.HDU, io.Reader) error
	if g.cfg.Previews == PreviewsInline && isFITSName {
		pb = preview.NewBuilder(g.cfg.PreviewStore.Options)
		visit = func(h fits.HDU, body io.Reader) error {
			if previewErr == nil {
				previewErr = pb.Visit(h, body)
			}
			return nil
		}
	}
	scan, err := ScanReader(ctx, f, full, filenames.Compressed(name), isFITSName,
		max(MinExpansionCap, MaxRatio*fi.Size()), visit)
	if err != nil {
		if ctx.Err() != nil {
			return queue.Result{}, err // stopping: the item is released
		}
		return queue.Result{}, queue.Permanent(err) // a truncated .bz2 ends in io.ErrUnexpectedEOF too
	}
	if prevMD5 != "" && scan.FileMD5 == prevMD5 {
		return queue.Complete, nil // unchanged content under a new mtime
	}
	if scan.FITSError != nil {
		g.cfg.Logger.Warn("not valid FITS; recorded without a header", "file", full, "err", scan.FITSError)
	}
	previewName := ""
	if pb != nil && scan.IsFITS {
		previewName = g.writePreview(full, dir, name, pb, previewErr)
	}
	if err := g.record(ctx, it, fileName, name, dir, lastmod, scan, previewName); err != nil {
		return queue.Result{}, err
	}
	return queue.CompletedTx, nil
}

// writePreview writes the inline preview of a FITS file and returns its name, or "" when
// there is none: a file with nothing to show, or a preview that failed (logged; the ingest
// goes on, as FitsStorage's does).
func (g *Ingester) writePreview(full, dir, name string, pb *preview.Builder, built error) string {
	if built != nil {
		g.cfg.Logger.Warn("no preview: its image cannot be read", "file", full, "err", built)
		return ""
	}
	previewName := preview.Name(dir, name)
	res, err := g.cfg.PreviewStore.Put(previewName, pb)
	switch {
	case errors.Is(err, preview.ErrNoImage):
		g.cfg.Logger.Info("no preview: nothing to show", "file", full, "why", err.Error())
		return ""
	case err != nil:
		g.cfg.Logger.Warn("no preview", "file", full, "err", err)
		return ""
	}
	if len(res.Skipped) > 0 {
		g.cfg.Logger.Info("preview made without some images", "file", full, "skipped", strings.Join(res.Skipped, "; "))
	}
	return previewName
}

// record writes everything about the file and deletes the queue row, in one transaction
// that is one round trip: every statement goes in one batch, which the server runs as one
// implicit transaction (the completion's statement fails it when the claim was lost, and
// nothing commits). Nothing in it waits for the client: through a transaction pooler it
// holds a server connection no longer than the server works, and no row lock waits on a
// client that the CPU or the network slows (a fleet is a region away from its database).
// The round trip before it, outside any transaction, takes the new rows' ids from their
// sequences and, for a calibration, finds the observations it serves.
func (g *Ingester) record(ctx context.Context, it queue.Item, fileName, name, dir string, lastmod time.Time, s Scan, previewName string) error {
	var row header.Row
	if s.IsFITS {
		var warnings []string
		row, warnings = header.Conform(header.FromHDUs(s.HDUs))
		if row.Telescope == nil {
			row.Telescope = header.TelescopeFromFilename(name) // as FitsStorage does
		}
		for _, w := range warnings {
			g.cfg.Logger.Warn("header value not stored", "file", name, "item", it.Label, "why", w)
		}
	}
	calcacheWork := s.IsFITS && g.cfg.Archive

	// The ids, and the observations a new calibration may serve (their cache was computed
	// without it).
	var diskfileID, headerID int64
	var served []queue.CalcacheItem
	pre := &pgx.Batch{}
	pre.Queue(`SELECT nextval(pg_get_serial_sequence('diskfile', 'id'))`).QueryRow(func(r pgx.Row) error { return r.Scan(&diskfileID) })
	if s.IsFITS {
		pre.Queue(`SELECT nextval(pg_get_serial_sequence('header', 'id'))`).QueryRow(func(r pgx.Row) error { return r.Scan(&headerID) })
	}
	if calcacheWork && !g.cfg.FastRebuild {
		f := calcache.Frame{Instrument: deref(row.Instrument), Reduction: row.Reduction, ObsType: deref(row.ObservationType),
			ObsClass: deref(row.ObservationClass), Object: deref(row.Object), UT: row.UTDateTime}
		g.cfg.CalcacheRules.QueueServed(pre, f, fileName, &served)
	}
	if err := g.cfg.DB.SendBatch(ctx, pre).Close(); err != nil {
		return fmt.Errorf("take the new rows' ids for %s, or find the observations it calibrates: %w", name, err)
	}

	b := &pgx.Batch{}
	queueDiskfile(b, it.Holder, diskfileID, fileName, name, dir, lastmod, s)
	switch {
	case previewName != "":
		preview.QueueRecord(b, diskfileID, previewName)
	case s.IsFITS && g.cfg.Previews == PreviewsQueued:
		var added int64
		if err := g.previews.QueueInsert(b, []queue.PreviewItem{{DiskfileID: diskfileID, Filename: name}}, &added); err != nil {
			return fmt.Errorf("queue the preview of %s: %w", name, err)
		}
	}
	if s.IsFITS {
		queueHeader(b, diskfileID, headerID, row)
	}
	if calcacheWork {
		work := append(served, queue.CalcacheItem{ObsHID: headerID, Filename: name})
		for len(work) > 0 {
			n := min(len(work), queue.MaxQueueInsert)
			var added int64
			if err := g.calcache.QueueInsert(b, work[:n], &added); err != nil {
				return fmt.Errorf("queue calcache for %s: %w", name, err)
			}
			work = work[n:]
		}
	}
	check := it.QueueComplete(b)
	if err := check(g.cfg.DB.SendBatch(ctx, b).Close()); err != nil {
		if errors.Is(err, queue.ErrLeaseLost) {
			return err // nothing was written
		}
		return fmt.Errorf("record %s (its diskfile, header, queue rows and the item's completion, one transaction): %w", name, err)
	}
	return nil
}

// queueDiskfile adds to b, in this order: the transaction named after the worker (holder),
// the file's row (made or locked), its older diskfiles marked not canonical and the one at
// dir not present, and the new diskfile, of id diskfileID.
func queueDiskfile(b *pgx.Batch, holder string, diskfileID int64, fileName, name, dir string, lastmod time.Time, s Scan) {
	// pg_stat_activity names the worker (host/pid/agent/queue-i) while it writes; the
	// connection's own name comes back at the end of the transaction.
	b.Queue(`SELECT set_config('application_name', $1, true)`, holder)
	// The file's row, new or locked: two ingests of one name take turns from here.
	b.Queue(`INSERT INTO file (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, fileName)
	b.Queue(`SELECT id FROM file WHERE name = $1 FOR UPDATE`, fileName)
	const fileID = `(SELECT id FROM file WHERE name = $1)`
	b.Queue(`UPDATE diskfile SET canonical = false WHERE file_id = `+fileID+` AND canonical`, fileName)
	b.Queue(`UPDATE diskfile SET present = false WHERE file_id = `+fileID+` AND path = $2 AND present`, fileName, dir)
	b.Queue(`INSERT INTO diskfile (id, file_id, filename, path, present, canonical, file_size, file_md5,
			data_size, data_md5, compressed, lastmod, isfits)
		VALUES ($11, `+fileID+`, $2, $3, true, true, $4, $5, $6, $7, $8, $9, $10)`,
		fileName, name, dir, s.FileSize, s.FileMD5, s.DataSize, s.DataMD5, filenames.Compressed(name), lastmod, s.IsFITS, diskfileID)
}

// queueHeader adds to b the header row of the diskfile, of id headerID, and its
// instrument's row.
func queueHeader(b *pgx.Batch, diskfileID, headerID int64, r header.Row) {
	var release any
	if r.Release != nil {
		release = r.Release.Format("2006-01-02")
	}
	b.Queue(`INSERT INTO header (id, diskfile_id, program_id, observation_id, data_label, telescope,
			instrument, ut_datetime, ut_datetime_secs, observation_type, observation_class, object, ra, dec,
			exposure_time, filter_name, disperser, central_wavelength, focal_plane_mask, detector_binning,
			qa_state, release, spectroscopy, num_extensions, engineering, science_verification,
			calibration_program, site_monitoring, local_time, raw_iq, raw_cc, raw_wv, raw_bg, requested_iq,
			requested_cc, requested_wv, requested_bg, airmass, azimuth, elevation, cass_rotator_pa, coadds,
			adaptive_optics, laser_guide_star, wavefront_sensor, gcal_lamp, proprietary_coordinates, pre_image,
			processing, processing_tag, mode, camera, detector_roi_setting, detector_gain_setting,
			detector_readspeed_setting, detector_readmode_setting, detector_welldepth_setting, pupil_mask,
			wavelength_band, reduction)
		VALUES ($60, $1, $2, $3, $4, $5::telescope, $6, $7, $8, $9::obstype, $10::obsclass, $11,
			$12::numeric(16,12), $13::numeric(16,12), $14::numeric(12,6), $15, $16, $17::numeric(8,6), $18, $19,
			$20::qa_state, $21::date, $22, $23, $24, $25, $26, $27, $28::time, $29, $30, $31, $32, $33,
			$34, $35, $36, $37::numeric(8,6), $38::numeric(16,12), $39::numeric(16,12), $40::numeric(16,12), $41,
			$42, $43, $44, $45, $46, $47, $48::procmode, $49, $50::mode, $51, $52, $53::detector_gain_setting,
			$54::detector_readspeed_setting, $55, $56::detector_welldepth_setting, $57, $58, $59::reduction_state)`,
		diskfileID, r.ProgramID, r.ObservationID, r.DataLabel, r.Telescope, r.Instrument, r.UTDateTime, r.UTDateTimeSecs,
		r.ObservationType, r.ObservationClass, r.Object, fitNumeric(r.RA, 1e4), fitNumeric(r.Dec, 1e4),
		fitNumeric(r.ExposureTime, 1e6), r.FilterName, r.Disperser, r.CentralWavelength, r.FocalPlaneMask,
		r.DetectorBinning, r.QAState, release, r.Spectroscopy, r.NumExtensions, r.Engineering, r.ScienceVerification,
		r.CalibrationProgram, r.SiteMonitoring, r.LocalTime, r.RawIQ, r.RawCC, r.RawWV, r.RawBG, r.RequestedIQ,
		r.RequestedCC, r.RequestedWV, r.RequestedBG, fitNumeric(r.Airmass, 100), fitNumeric(r.Azimuth, 1e4),
		fitNumeric(r.Elevation, 1e4), fitNumeric(r.CassRotatorPA, 1e4), r.Coadds, r.AdaptiveOptics, r.LaserGuideStar,
		r.WavefrontSensor, r.GCALLamp, r.ProprietaryCoordinates, r.PreImage, r.Processing, r.ProcessingTag,
		r.Mode, r.Camera, r.DetectorROISetting, r.DetectorGainSetting, r.DetectorReadSpeedSetting,
		r.DetectorReadModeSetting, r.DetectorWellDepthSetting, r.PupilMask, r.WavelengthBand, r.Reduction, headerID)
	if n := r.NIRI; n != nil {
		b.Queue(`INSERT INTO niri (header_id, disperser, filter_name, read_mode, well_depth_setting,
				data_section, camera, focal_plane_mask)
			VALUES ($1, $2::niri_disperser, $3, $4::niri_read_mode, $5::niri_well_depth_setting, $6::niri_data_section,
				$7::niri_camera, $8)`,
			headerID, n.Disperser, n.FilterName, n.ReadMode, n.WellDepth, n.DataSection, n.Camera, n.FocalPlaneMask)
	}
	if f := r.F2; f != nil {
		b.Queue(`INSERT INTO f2 (header_id, disperser, filter_name, lyot_stop, read_mode, focal_plane_mask)
			VALUES ($1, $2, $3, $4, $5, $6)`, headerID, f.Disperser, f.FilterName, f.LyotStop, f.ReadMode, f.FocalPlaneMask)
	}
	if g := r.GNIRS; g != nil {
		b.Queue(`INSERT INTO gnirs (header_id, disperser, filter_name, read_mode, well_depth_setting,
				camera, focal_plane_mask, array_name, prism_motor_steps)
			VALUES ($1, $2, $3, $4::gnirs_read_mode, $5::gnirs_well_depth_setting, $6, $7, $8, $9)`,
			headerID, g.Disperser, g.FilterName, g.ReadMode, g.WellDepth, g.Camera, g.FocalPlaneMask, g.ArrayName,
			g.PrismMotorSteps)
	}
	if g := r.GMOS; g != nil {
		b.Queue(`INSERT INTO gmos (header_id, disperser, filter_name, detector_x_bin, detector_y_bin,
				array_name, amp_read_area, read_speed_setting, gain_setting, focal_plane_mask, nodandshuffle, nod_count,
				nod_pixels, prepared, overscan_subtracted, overscan_trimmed)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8::gmos_read_speed_setting, $9::gmos_gain_setting, $10, $11, $12, $13, $14, $15, $16)`,
			headerID, g.Disperser, g.FilterName, g.XBin, g.YBin, g.ArrayName, g.AmpReadArea, g.ReadSpeed, g.GainSetting,
			g.FocalPlaneMask, g.NodAndShuffle, g.NodCount, g.NodPixels, g.Prepared, g.OverscanSubtracted, g.OverscanTrimmed)
	}
}

// fitNumeric is v when a numeric column whose integer part is below limit can hold it, else
// nil: a header value out of range (a corrupt keyword) is no value, not a failed insert. The
// margin keeps a value that rounds up to the limit at the column's scale out too.
func fitNumeric(v *float64, limit float64) *float64 {
	if v == nil || math.IsNaN(*v) || math.Abs(*v) >= limit*(1-1e-9) {
		return nil
	}
	return v
}

// ScanFile opens the file at path (outside any storage root: benchmarks, tools) and scans it.
func ScanFile(ctx context.Context, path string, compressed, parseFITS bool) (Scan, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Scan{}, fmt.Errorf("%w: %s", ErrMissing, path)
	}
	if err != nil {
		return Scan{}, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer f.Close()
	return ScanReader(ctx, f, path, compressed, parseFITS, 0, nil)
}

// ScanReader reads the file once: md5 and size of the stored bytes, of the decompressed data
// for .bz2 (streamed, no temporary file), and the FITS headers when parseFITS is set. path
// names it in errors. limit bounds the decompressed size (0: none): past it, ErrTooLarge.
// visit, when not nil, is handed each data unit as it streams past (fits.Visit).
func ScanReader(ctx context.Context, f io.Reader, path string, compressed, parseFITS bool, limit int64, visit func(fits.HDU, io.Reader) error) (Scan, error) {
	var s Scan
	fileHash := md5.New()
	raw := &hashingReader{r: ctxio.Reader(ctx, f), h: fileHash}
	var data io.Reader = bufio.NewReaderSize(raw, readBufferSize(f))
	dataHash := fileHash
	var dataCount *hashingReader
	if compressed {
		dataHash = md5.New()
		bz, err := dsbzip2.NewReader(data, nil)
		if err != nil {
			return s, fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
		}
		defer bz.Close()
		var src io.Reader = bz
		if limit > 0 {
			src = &limitedReader{r: bz, left: limit, path: path, limit: limit}
		}
		dataCount = &hashingReader{r: src, h: dataHash}
		data = dataCount
	}
	if parseFITS {
		hdus, ferr := fits.Visit(data, visit)
		s.HDUs = hdus
		if ferr == nil || errors.Is(ferr, fits.ErrTrailingBytes) {
			s.IsFITS = len(hdus) > 0
		} else {
			s.FITSError = ferr
		}
	}
	if _, err := io.Copy(io.Discard, data); err != nil {
		return s, readError(ctx, path, compressed, err)
	}
	if s.FITSError != nil && isReadError(s.FITSError) {
		return s, readError(ctx, path, compressed, s.FITSError)
	}
	s.FileSize, s.FileMD5 = raw.n, hex.EncodeToString(fileHash.Sum(nil))
	s.DataSize, s.DataMD5 = s.FileSize, s.FileMD5
	if compressed {
		s.DataSize, s.DataMD5 = dataCount.n, hex.EncodeToString(dataHash.Sum(nil))
	}
	return s, nil
}

// readBufferSize is 1 MiB, or the size of a smaller regular file: most files of a rebuild
// are small, and a buffer is zeroed when it is made.
func readBufferSize(f io.Reader) int {
	const most = 1 << 20
	if st, ok := f.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := st.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() < most {
			return max(4096, int(fi.Size())+1)
		}
	}
	return most
}

// isReadError tells an I/O or decompression failure from a FITS format problem.
func isReadError(err error) bool {
	return !errors.Is(err, fits.ErrNotFITS) && !errors.Is(err, fits.ErrTruncated) &&
		!errors.Is(err, fits.ErrMalformed) && !errors.Is(err, fits.ErrTooLarge) && !errors.Is(err, fits.ErrTrailingBytes)
}

func readError(ctx context.Context, path string, compressed bool, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	var ce compress.Error
	if compressed && (errors.As(err, &ce) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	return fmt.Errorf("cannot read %s: %w", path, err)
}

// hashingReader hashes and counts what passes through.
type hashingReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

// limitedReader fails with ErrTooLarge once more than limit bytes came through.
type limitedReader struct {
	r           io.Reader
	left, limit int64
	path        string
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, fmt.Errorf("%w: %s decompresses to more than %d bytes (%d× its size at most); not ingested",
			ErrTooLarge, l.path, l.limit, MaxRatio)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// lockedByWriter reports whether another process holds an exclusive flock on the file
// (a writer still at work).
func lockedByWriter(f *os.File) bool {
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
