package sqlstore

import (
	"strconv"
	"strings"
)

// A rowSet passes a whole table of values to one statement, so that a
// commit cycle writes each kind of row with one statement whatever the
// number of rows. PostgreSQL takes one array per column (unnest): one
// statement text, prepared once, one round trip. SQLite takes a VALUES
// list padded with NULL rows to a size class (1, 2, 4, ... rows), so a
// statement has a handful of texts, each prepared once; padding rows are
// filtered out. (SQLite's json_each would give one text too, but parsing
// each value back out of JSON cost more than the statements it saves.)
type rowSet struct {
	cols  []column
	alias string
	n     int
	// SQLite: the values, row after row.
	vals []any
	// PostgreSQL: one slice per column ([]string or []int64).
	texts [][]string
	ints  [][]int64
}

type column struct {
	name string
	int  bool
}

func textCol(name string) column { return column{name: name} }
func intCol(name string) column  { return column{name: name, int: true} }

func newRowSet(alias string, cols ...column) *rowSet {
	return &rowSet{cols: cols, alias: alias, texts: make([][]string, len(cols)), ints: make([][]int64, len(cols))}
}

// add appends a row: one string or int64 per column, in order.
func (s *rowSet) add(vals ...any) {
	for i, v := range vals {
		switch v := v.(type) {
		case string:
			s.texts[i] = append(s.texts[i], v)
		case int64:
			s.ints[i] = append(s.ints[i], v)
		default:
			panic("rowSet: unsupported value type") // a programming error, caught by any test
		}
	}
	s.vals = append(s.vals, vals...)
	s.n++
}

func (s *rowSet) len() int { return s.n }

// maxSQLiteParams stays under SQLite's limit on a statement's parameters
// (32,766).
const maxSQLiteParams = 32_000

// chunks splits the set into sets each d's engine takes in one statement:
// the whole set on PostgreSQL, on SQLite as many rows as its parameter
// limit allows (a power of two, so the padding stays within it).
func (s *rowSet) chunks(d *dialect) []*rowSet {
	limit := 1
	for limit*2*len(s.cols) <= maxSQLiteParams {
		limit *= 2
	}
	if d.numbered || s.n <= limit {
		return []*rowSet{s}
	}
	var out []*rowSet
	for start := 0; start < s.n; start += limit {
		end := min(s.n, start+limit)
		c := &rowSet{cols: s.cols, alias: s.alias, n: end - start}
		c.vals = s.vals[start*len(s.cols) : end*len(s.cols)]
		out = append(out, c)
	}
	return out
}

// table returns the set as a table expression named by its alias, with
// the arguments it takes, for d's engine.
func (s *rowSet) table(d *dialect) (string, []any) {
	var b strings.Builder
	if d.numbered {
		args := make([]any, len(s.cols))
		b.WriteString("unnest(")
		for i, c := range s.cols {
			if i > 0 {
				b.WriteString(", ")
			}
			if c.int {
				b.WriteString("CAST(? AS bigint[])")
				args[i] = orEmpty(s.ints[i])
			} else {
				b.WriteString("CAST(? AS text[])")
				args[i] = orEmpty(s.texts[i])
			}
		}
		b.WriteString(") AS " + s.alias + "(")
		for i, c := range s.cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c.name)
		}
		b.WriteString(")")
		return b.String(), args
	}
	rows := sizeClass(s.n)
	b.WriteString("(SELECT ")
	for i, c := range s.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("column" + strconv.Itoa(i+1) + " AS " + c.name)
	}
	b.WriteString(" FROM (VALUES ")
	row := "(" + strings.Repeat("?, ", len(s.cols)-1) + "?)"
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(") WHERE column1 IS NOT NULL) AS " + s.alias)
	args := make([]any, rows*len(s.cols)) // the padding rows are NULL
	copy(args, s.vals)
	return b.String(), args
}

// sizeClass is the number of rows a SQLite VALUES list of n rows is
// padded to: a power of two, so one statement shape has at most a dozen
// texts to prepare.
func sizeClass(n int) int {
	c := 1
	for c < n {
		c *= 2
	}
	return c
}

// orEmpty keeps a column with no rows an empty array, not NULL.
func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}
