package sqlstore

import (
	"context"
	"fmt"
	"testing"
)

// TestRowSetOnSQLite: a set goes through SQLite whole, padding rows
// dropped, including one past the parameter limit (split into chunks).
func TestRowSetOnSQLite(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, n := range []int{1, 3, 1000, 7000} {
		set := newRowSet("v", textCol("a"), intCol("b"), textCol("c"), intCol("d"), textCol("e"), intCol("f"))
		var want int64
		for i := range n {
			set.add(fmt.Sprint("row", i), int64(i), "x", int64(2*i), "y", int64(1))
			want += int64(i)
		}
		chunks := set.chunks(s.d)
		if n == 7000 && len(chunks) < 2 {
			t.Fatalf("7,000 rows of 6 columns in %d chunk(s)", len(chunks))
		}
		var rows, sum int64
		for _, c := range chunks {
			table, args := c.table(s.d)
			if len(args) > maxSQLiteParams {
				t.Fatalf("%d parameters in one statement", len(args))
			}
			var r, sm int64
			if err := s.r.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(v.b), 0) FROM `+table, args...).Scan(&r, &sm); err != nil {
				t.Fatal(err)
			}
			rows, sum = rows+r, sum+sm
		}
		if rows != int64(n) || sum != want {
			t.Fatalf("%d rows: read back %d rows summing to %d; want %d", n, rows, sum, want)
		}
	}
}
