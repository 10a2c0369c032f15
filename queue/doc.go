// Package queue is the PostgreSQL work queue that the archive's agents share: ~200 hosts
// claim, lease, heartbeat, rescue, complete and fail items of one table, with the database
// as the only coordinator. The same code serves every queue table (ingest, calcache);
// a Spec names a table's own columns.
//
// # Caveats
//
//   - A claim marks a row in progress with a fresh claim token, the holder and a lease whose
//     end is judged by the database's clock (now()), never the host's.
//   - One heartbeat statement per process renews every lease the process holds.
//   - Any agent rescues rows whose lease expired: re-pended, or deleted when a pending twin
//     exists; each rescue counts an attempt and past the limit the item fails instead of
//     killing workers forever.
//   - Completion is fenced: the delete names the claim token, and when it removes nothing
//     the lease was lost and the caller's transaction must roll back.
//   - Failures are recorded and not retried; an operator re-arms them (Retry).
//   - New items are announced by one NOTIFY per enqueue batch; polling stays authoritative.
//   - Rows carry no id the queue relies on. A pending row is named by its Spec.PendingKey (a
//     unique index, which for the ingest queue also gives the claim order, so a pending row
//     costs one index entry: filling the queue for a rebuild is as cheap as it can be); the
//     claim updates the rows it locked by ctid; a claimed or failed row is named by its claim
//     token, which a failed row keeps until it is re-armed.
package queue
