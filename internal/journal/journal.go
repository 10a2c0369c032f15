// Package journal puts the queue's claims journal (queue.Journal) on the agent's bbolt
// state file (state.Store): the one place that knows both, so that the state store does not
// depend on the queue (nor, through it, on the database driver), and the storage agent,
// which keeps its state there too, needs neither.
package journal

import (
	"github.com/fitsarchive/agentd/internal/state"
	"github.com/fitsarchive/agentd/queue"
)

// Of is the queue journal kept in st.
func Of(st *state.Store) queue.Journal { return stateJournal{st} }

type stateJournal struct{ st *state.Store }

func (j stateJournal) Claimed(q string, items []queue.Item) error {
	claims := make([]state.Claim, len(items))
	for i, it := range items {
		claims[i] = state.Claim{Token: it.Token, Label: it.Label}
	}
	return j.st.Claimed(q, claims)
}

func (j stateJournal) Ended(q string, done []queue.Done) error {
	ends := make([]state.End, len(done))
	for i, d := range done {
		ends[i] = state.End{Token: d.Item.Token, Outcome: d.Outcome}
	}
	return j.st.Ended(q, ends)
}

func (j stateJournal) Outstanding(q string) ([]string, error) { return j.st.Outstanding(q) }

func (j stateJournal) Began(q, owner string) error              { return j.st.Began(q, owner) }
func (j stateJournal) Runs(q string) ([]string, error)          { return j.st.Runs(q) }
func (j stateJournal) Finished(q string, owners []string) error { return j.st.Finished(q, owners) }
