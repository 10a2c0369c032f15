// Package state is agentd's local state in one bbolt file: the journal of claims this
// process holds and of the runs that may hold some (so that a restart releases exactly its
// own claims), per-queue counters that survive restarts, and recent events.
//
// # Caveats
//
// bbolt takes an exclusive lock on the file: only agentd opens it, with a timeout, so a
// second agentd with the same name gets ErrLocked instead of hanging. Every write is
// fsync'ed before it returns. The journal's writes (Claimed, Ended) are group-committed:
// while one transaction is being flushed, the writes that arrive wait and then go to disk
// together in the next, so that the claims of one goroutine and the completions of another
// share a flush instead of queueing for one each.
package state

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/fitsarchive/agentd/internal/event"
)

var (
	// ErrLocked is returned by Open when another process holds the state file.
	ErrLocked = errors.New("state file is in use by another process")
)

// MaxEvents is how many recent events the file keeps.
const MaxEvents = 500

// Store is an open state file.
type Store struct {
	db *bolt.DB

	mu      sync.Mutex
	pending []*write // journal writes waiting for the next group commit
	leading bool     // a caller is committing groups
}

// write is one journal write waiting for its group commit.
type write struct {
	fn   func(*bolt.Tx) error
	done chan error
}

// group runs fn in a transaction shared with the journal writes that queue up meanwhile,
// and returns once that transaction is on disk (or failed). The first caller that finds no
// commit under way leads: it commits group after group until none is waiting. Should a
// group's transaction fail, its writes are retried each in a transaction of its own, so that
// one bad write fails alone (and a write may run twice, the first time rolled back: fn must
// only change the transaction).
func (s *Store) group(fn func(*bolt.Tx) error) error {
	w := &write{fn: fn, done: make(chan error, 1)}
	s.mu.Lock()
	s.pending = append(s.pending, w)
	lead := !s.leading
	s.leading = true
	s.mu.Unlock()
	if !lead {
		return <-w.done
	}
	for {
		s.mu.Lock()
		batch := s.pending
		s.pending = nil
		if len(batch) == 0 {
			s.leading = false
			s.mu.Unlock()
			break
		}
		s.mu.Unlock()
		s.commit(batch)
	}
	return <-w.done
}

func (s *Store) commit(batch []*write) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, w := range batch {
			if err := w.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil || len(batch) == 1 {
		for _, w := range batch {
			w.done <- err
		}
		return
	}
	for _, w := range batch {
		w.done <- s.db.Update(w.fn)
	}
}

var bucketEvents = []byte("events")

func claimsBucket(queue string) []byte   { return []byte("claims/" + queue) }
func countersBucket(queue string) []byte { return []byte("counters/" + queue) }
func runsBucket(queue string) []byte     { return []byte("runs/" + queue) }

// Open opens (creating) the state file at path, waiting at most timeout for its lock.
func Open(path string, timeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s (is another agentd with the same --name running?)", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", path, err)
	}
	return &Store{db: db}, nil
}

// Close closes the file; safe to call twice.
func (s *Store) Close() error {
	if s == nil || s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

// journalEntry is what the journal keeps of a claim, as JSON (a person reading the file
// with bbolt's tools can read it; agentd itself only needs the keys).
type journalEntry struct {
	Label   string    `json:"label"`
	Claimed time.Time `json:"claimed"`
}

// entryEncoder writes the journal entries of one batch of claims, which share their claim
// time. It writes what json.Marshal of a journalEntry decodes the same as, without
// reflection: encoding/json was a tenth of a busy agent's CPU (bench/queuebench, 100
// workers).
type entryEncoder struct {
	tail []byte // ,"claimed":"<time>"}
}

func newEntryEncoder(claimed time.Time) entryEncoder {
	t, _ := json.Marshal(claimed) // never fails for a time within years 0–9999
	return entryEncoder{tail: append(append([]byte(`,"claimed":`), t...), '}')}
}

// encode returns the entry of a claim of the item labelled label.
func (e entryEncoder) encode(label string) []byte {
	v := make([]byte, 0, len(`{"label":""`)+len(label)+len(e.tail))
	v = append(v, `{"label":`...)
	if plainJSON(label) {
		v = append(append(append(v, '"'), label...), '"')
	} else {
		q, _ := json.Marshal(label) // a string always marshals
		v = append(v, q...)
	}
	return append(v, e.tail...)
}

// plainJSON tells whether s can stand between quotes in JSON as it is: printable ASCII
// without quote or backslash (file names, as a rule).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// Claim is a claim the journal keeps until it ends: the item's claim token and label.
type Claim struct {
	Token, Label string
}

// End is a claim that ended, and how (completed, failed, deferred, released, lost).
type End struct {
	Token, Outcome string
}

// Claimed records claims before they are worked (one fsync for the batch).
func (s *Store) Claimed(queue string, items []Claim) error {
	enc := newEntryEncoder(time.Now().UTC())
	return s.group(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(claimsBucket(queue))
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := b.Put([]byte(it.Token), enc.encode(it.Label)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Ended removes claims from the journal and counts their outcomes, in one transaction.
func (s *Store) Ended(queue string, done []End) error {
	return s.group(func(tx *bolt.Tx) error {
		claims, err := tx.CreateBucketIfNotExists(claimsBucket(queue))
		if err != nil {
			return err
		}
		counters, err := tx.CreateBucketIfNotExists(countersBucket(queue))
		if err != nil {
			return err
		}
		add := map[string]uint64{}
		for _, d := range done {
			if err := claims.Delete([]byte(d.Token)); err != nil {
				return err
			}
			add[d.Outcome]++
		}
		for k, n := range add {
			var cur uint64
			if v := counters.Get([]byte(k)); len(v) == 8 {
				cur = binary.BigEndian.Uint64(v)
			}
			if err := counters.Put([]byte(k), binary.BigEndian.AppendUint64(nil, cur+n)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Outstanding lists the claim tokens still journaled for queue.
func (s *Store) Outstanding(queue string) ([]string, error) { return s.keys(claimsBucket(queue)) }

// keys lists the keys of a bucket (none when it does not exist).
func (s *Store) keys(bucket []byte) ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			out = append(out, string(k)) // string() copies: no bbolt bytes escape
			return nil
		})
	})
	return out, err
}

// Began records, before a run's first claim in queue, the run's owner (its claims' owner
// uuid): a run killed between a claim and its Claimed record leaves rows under that owner,
// and the next run releases them by it (see Runs).
func (s *Store) Began(queue, owner string) error {
	v, err := json.Marshal(struct {
		Began time.Time `json:"began"`
	}{time.Now().UTC()})
	if err != nil {
		return err
	}
	return s.group(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(runsBucket(queue))
		if err != nil {
			return err
		}
		return b.Put([]byte(owner), v)
	})
}

// Runs lists the owners Began recorded for queue and Finished has not forgotten: the
// current run's, and those of earlier runs that may have left claims behind.
func (s *Store) Runs(queue string) ([]string, error) { return s.keys(runsBucket(queue)) }

// Finished forgets runs whose rows in queue are known released.
func (s *Store) Finished(queue string, owners []string) error {
	if len(owners) == 0 {
		return nil
	}
	return s.group(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(runsBucket(queue))
		if err != nil {
			return err
		}
		for _, o := range owners {
			if err := b.Delete([]byte(o)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Counters returns the lifetime outcome counts of queue.
func (s *Store) Counters(queue string) (map[string]uint64, error) {
	out := map[string]uint64{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(countersBucket(queue))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			if len(v) == 8 {
				out[string(k)] = binary.BigEndian.Uint64(v)
			}
			return nil
		})
	})
	return out, err
}

// AddEvent appends an event and trims the log to MaxEvents.
func (s *Store) AddEvent(ev event.Event) error {
	v, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketEvents)
		if err != nil {
			return err
		}
		seq, _ := b.NextSequence()
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), v); err != nil {
			return err
		}
		if seq <= MaxEvents {
			return nil
		}
		oldest := binary.BigEndian.AppendUint64(nil, seq-MaxEvents)
		c := b.Cursor()
		for k, _ := c.First(); k != nil && string(k) <= string(oldest); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Events returns up to n most recent events, oldest first.
func (s *Store) Events(n int) ([]event.Event, error) {
	var out []event.Event
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			var ev event.Event
			if err := json.Unmarshal(v, &ev); err == nil {
				out = append(out, ev)
			}
		}
		return nil
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

var bucketStorage = []byte("storage/actions")

// StorageAction is what the storage agent did to one array, kept across restarts so that it
// never acts twice for one mirror.
type StorageAction struct {
	Array        string    `json:"array"`          // its name when the action was taken
	UUID         string    `json:"uuid,omitempty"` // the array's UUID (canonical form): the key when known
	Kind         string    `json:"kind"`           // add, re-add, run
	Device       string    `json:"device,omitempty"`
	IssuedAt     time.Time `json:"issued_at"`
	RecoverySeen bool      `json:"recovery_seen,omitempty"`
	Failed       string    `json:"failed,omitempty"` // mdadm's error, when it failed
	Attempts     int       `json:"attempts"`
}

// Key is where the action is kept: the array's UUID (an array may be assembled under
// another name after a move: md0 becomes md127), else its name.
func (a StorageAction) Key() string {
	if a.UUID != "" {
		return "uuid:" + a.UUID
	}
	return a.Array
}

// SetStorageAction records (or replaces) the action on an array.
func (s *Store) SetStorageAction(a StorageAction) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketStorage)
		if err != nil {
			return err
		}
		return b.Put([]byte(a.Key()), v)
	})
}

// ClearStorageAction forgets an action (its mirror is whole again); key is its Key().
func (s *Store) ClearStorageAction(key string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStorage)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
}

// StorageActions returns the recorded actions by Key().
func (s *Store) StorageActions() (map[string]StorageAction, error) {
	out := map[string]StorageAction{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketStorage)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var a StorageAction
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("storage action of %s: %w", k, err)
			}
			out[string(k)] = a
			return nil
		})
	})
	return out, err
}

var bucketSlots = []byte("storage/slots")

// SlotRecord says which instance-store slot a mirror's SSD sat in while the mirror was
// healthy: after a move to new hardware the blank SSD of that slot goes back to that
// mirror. The slot is named by something that survives the move (the device's PCI path,
// as /dev/disk/by-path names it), never by the serial or the kernel name.
type SlotRecord struct {
	UUID       string    `json:"uuid"`   // the array's UUID (canonical form): the key
	Array      string    `json:"array"`  // its name when recorded
	Slot       string    `json:"slot"`   // e.g. pci-0000:00:1f.0-nvme-1
	Device     string    `json:"device"` // the SSD's kernel name then (for people, not matching)
	RecordedAt time.Time `json:"recorded_at"`
}

// SetSlot records (or replaces) the slot of a mirror's SSD.
func (s *Store) SetSlot(r SlotRecord) error {
	if r.UUID == "" {
		return errors.New("slot record without an array UUID")
	}
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSlots)
		if err != nil {
			return err
		}
		return b.Put([]byte(r.UUID), v)
	})
}

// Slots returns the recorded slots by array UUID.
func (s *Store) Slots() (map[string]SlotRecord, error) {
	out := map[string]SlotRecord{}
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSlots)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var r SlotRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("slot record of %s: %w", k, err)
			}
			out[string(k)] = r
			return nil
		})
	})
	return out, err
}

var bucketAgent = []byte("agent")

// Drain is an operator's drain of the agent: no new claims until resumed, kept across
// restarts.
type Drain struct {
	Since time.Time `json:"since"`
	By    string    `json:"by,omitempty"` // who asked (uid and user, as the socket saw them)
}

// SetDrain records a drain (nil: resumed).
func (s *Store) SetDrain(d *Drain) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketAgent)
		if err != nil {
			return err
		}
		if d == nil {
			return b.Delete([]byte("drain"))
		}
		v, err := json.Marshal(d)
		if err != nil {
			return err
		}
		return b.Put([]byte("drain"), v)
	})
}

// Drained returns the recorded drain, nil when the agent is not drained.
func (s *Store) Drained() (*Drain, error) {
	var d *Drain
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAgent)
		if b == nil {
			return nil
		}
		v := b.Get([]byte("drain"))
		if v == nil {
			return nil
		}
		d = &Drain{}
		return json.Unmarshal(v, d)
	})
	return d, err
}
