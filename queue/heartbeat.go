package queue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Heartbeat renews, in one statement, the leases of the claims a process holds: tokens[i]
// are its tokens in specs[i], all claimed under owner. It returns how many it renewed per
// queue. Only these rows are renewed, never every row of the owner: a claim the process has
// forgotten expires and is rescued. Rows locked by someone else are skipped (the heartbeat
// runs again within a third of a lease); it is the one statement on a held row that may skip.
func Heartbeat(ctx context.Context, db *pgxpool.Pool, specs []Spec, tokens [][]string, owner string, lease time.Duration) (map[string]int, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	if len(tokens) != len(specs) {
		return nil, fmt.Errorf("heartbeat: %d token lists for %d queues", len(tokens), len(specs))
	}
	sql, args := heartbeatStatement(specs, tokens, owner, lease)
	got := make([]int64, len(specs))
	dest := make([]any, len(specs))
	for i := range got {
		dest[i] = &got[i]
	}
	if err := db.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	out := make(map[string]int, len(specs))
	for i, s := range specs {
		out[s.Name] = int(got[i])
	}
	return out, nil
}

// heartbeatStatement is Heartbeat's statement and its arguments. Rows are found by token
// through the token index only (inprogress IS TRUE, see build); the update reaches the
// locked rows by the array of their tokens: joined to them alone, the planner read every
// token of the index and compared each with theirs.
func heartbeatStatement(specs []Spec, tokens [][]string, owner string, lease time.Duration) (string, []any) {
	var ctes, counts []string
	args := []any{owner, lease.Milliseconds()}
	for i, s := range specs {
		t := s.table()
		args = append(args, tokenArray(tokens[i]))
		ctes = append(ctes, fmt.Sprintf(`l%d AS (SELECT claim_token FROM %s WHERE claim_token = ANY($%d::uuid[]) AND inprogress IS TRUE AND owner = $1::uuid
			FOR UPDATE SKIP LOCKED),
			h%d AS (UPDATE %s t SET lease_until = now() + $2 * interval '1 millisecond' FROM l%d WHERE t.claim_token = l%d.claim_token AND t.inprogress IS TRUE
				AND t.claim_token = ANY(ARRAY(SELECT claim_token FROM l%d)) RETURNING 1)`,
			i, t, len(args), i, t, i, i, i))
		counts = append(counts, fmt.Sprintf(`(SELECT count(*) FROM h%d)`, i))
	}
	return `WITH ` + strings.Join(ctes, ", ") + ` SELECT ` + strings.Join(counts, ", "), args
}
