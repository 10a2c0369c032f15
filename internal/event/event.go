// Package event is the one shape of the things an agent shows an operator (its status
// socket, agentctl events, the logs): a queue's item failed or rescued, a storage action
// issued, a spot notice. It has no behaviour; the queue, the storage agent and the state
// store share it without depending on one another.
package event

import "time"

// Event is something worth showing an operator.
type Event struct {
	Time   time.Time `json:"time"`
	Queue  string    `json:"queue"` // the source: a queue's name, or "storage"
	Kind   string    `json:"kind"`
	Label  string    `json:"label,omitempty"`
	Detail string    `json:"detail,omitempty"`
}
