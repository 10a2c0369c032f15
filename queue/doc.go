// Package queue is the PostgreSQL work queue that the archive's agents share: ~200 hosts
// claim, lease, heartbeat, rescue, complete and fail items of one table, with the database
// as the only coordinator. The same code serves every queue table (ingest, calcache);
// a Spec names a table's own columns.
//
// # The contract
//
//  1. A claim is let go only by a statement that ended its row: completed (deleted),
//     failed, re-pended (deferred or released), or shown to belong to someone else (no
//     in-progress row carries its token any more). These statements wait for the row's
//     lock (lock_timeout = Options.LockWait, rows locked in token order) and then re-check
//     the token, so zero rows is proof. A wait that times out, a lost connection or any
//     other error proves nothing: the pool keeps holding the item (heartbeat included) and
//     tries again with backoff; it never forgets it. Only the sweepers — the heartbeat and
//     Rescue — skip locked rows: they look again within a third or half of a lease, and
//     skipping is what keeps them from queueing behind a worker's long transaction.
//  2. The heartbeat renews only the tokens the process holds (handed out, prefetched, or
//     waiting to be settled: the set the bbolt journal records), never every row of its
//     owner. A claim the process has forgotten expires and is rescued by the normal path.
//  3. A clean stop leaves nothing claimed by the stopping process: after its last
//     statement (a claim in flight included: a stop does not interrupt one) the pool
//     releases every row of its owner, logging each it did not track, and only then
//     returns nil. With the database unreachable it logs what is left and returns an error
//     within Grace + Cleanup. Released rows count no attempt; only a holder's death (lease
//     expiry, or its own journal read back after a crash) counts one.
//  4. Transient errors (Transient: connection loss, admin shutdown, deadlock,
//     serialization failure, lock timeout) are retried, not failed: a queue statement is
//     tried again, a handler's error of those classes puts its item back with no attempt
//     (handlers mark their items' own errors Permanent). Five put-backs in a row of one
//     item by one process fail it, with the error, so that a statement that always times
//     out cannot loop for ever; a settling statement that keeps failing for a reason of its
//     own is replaced by a release.
//  5. Every "lost" is logged with the item and the evidence (Whereabouts: whose token is on
//     the row now) and counted. When a statement is retried after an error that may have
//     come after the server did its work (the answer was lost), finding the token gone is
//     counted as the intended outcome, logged with the same evidence.
//
// A claim whose answer never arrived (the server committed it, the connection dropped)
// leaves rows under the owner that the process does not hold. After a failed claim the
// pool sweeps them (ReleaseOwned with the held tokens, under the claim lock so that no
// claim of its own is in flight), and keeps sweeping on the heartbeat for a lease.
//
// A claim commits before the journal records its tokens. The journal records each run's
// owner before the run's first claim, so that the next start of a process killed in between
// releases by owner (an attempt counted) the rows that no journal entry names; it looks
// again once a claim the dead run had sent can no longer commit (ClaimTimeout), then
// forgets the run. The state file's lock proves the earlier run dead. (Through a
// transaction pooler, a claim that waited in the pooler's queue may reach the server later
// than that: its rows come back when their lease expires.)
//
// # An item's life, all here
//
// The queue owns its tables: producers add items with an Inserter (IngestItem,
// CalcacheItem: no producer names a queue column), in their own transactions, COPY-fast
// and idempotent on the pending key; the pool claims, leases and heartbeats them; a
// handler ends its item with a verdict, or completes it itself in its own transaction with
// Item.CompleteTx (verdict CompletedTx); the pool settles the other verdicts (Complete,
// DeferFor, failures, releases) and records each ending in the Journal (Ended).
//
// # Caveats
//
//   - A claim marks a row in progress with a fresh claim token, the holder and a lease whose
//     end is judged by the database's clock (now()), never the host's.
//   - Any agent rescues rows whose lease expired: re-pended, or deleted when a pending twin
//     exists; each rescue counts an attempt and past the limit the item fails instead of
//     killing workers forever.
//   - Completion is fenced: the delete names the claim token, and when it removes nothing
//     the lease was lost and the caller's transaction must roll back.
//   - Failures are recorded and not retried; an operator re-arms them (Retry).
//   - New items are announced by one NOTIFY per Inserter batch (none from a Quiet one);
//     polling stays authoritative.
//   - The queue relies on no row id (FitsStorage's serial id is there for FitsStorage). A
//     pending row is named by its Spec.PendingKey (FitsStorage's unique constraint over
//     (…, inprogress, fail_dt) keeps one pending row per key); the claim reads its own index
//     on Spec.Order and updates the rows it locked by ctid; a claimed or failed row is named
//     by its claim token, which a failed row keeps until it is re-armed.
package queue
