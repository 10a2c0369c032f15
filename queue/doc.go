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
package queue
