package sqlstore

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// A rowSet passes a whole table of values to one statement, so that a
// commit cycle writes each kind of row with one statement whatever the
// number of rows, and the statement's text (prepared once) does not depend
// on that number. PostgreSQL takes one array per column (unnest); SQLite
// takes one JSON array of rows (json_each).
type rowSet struct {
	cols  []column
	alias string
	n     int
	// SQLite: the JSON text, a row per element.
	json []byte
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
	s := &rowSet{cols: cols, alias: alias, texts: make([][]string, len(cols)), ints: make([][]int64, len(cols))}
	s.json = append(s.json, '[')
	return s
}

// add appends a row: one string or int64 per column, in order.
func (s *rowSet) add(vals ...any) {
	if s.n > 0 {
		s.json = append(s.json, ',')
	}
	s.json = append(s.json, '[')
	for i, v := range vals {
		if i > 0 {
			s.json = append(s.json, ',')
		}
		switch v := v.(type) {
		case string:
			s.texts[i] = append(s.texts[i], v)
			s.json = appendJSONString(s.json, v)
		case int64:
			s.ints[i] = append(s.ints[i], v)
			s.json = strconv.AppendInt(s.json, v, 10)
		default:
			panic("rowSet: unsupported value type") // a programming error, caught by any test
		}
	}
	s.json = append(s.json, ']')
	s.n++
}

func (s *rowSet) len() int { return s.n }

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
	b.WriteString("(SELECT ")
	for i, c := range s.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("value->>" + strconv.Itoa(i) + " AS " + c.name)
	}
	b.WriteString(" FROM json_each(?)) AS " + s.alias)
	return b.String(), []any{string(append(s.json, ']'))}
}

// orEmpty keeps a column with no rows an empty array, not NULL.
func orEmpty[T any](v []T) []T {
	if v == nil {
		return []T{}
	}
	return v
}

// appendJSONString appends v as a JSON string. Ids and statuses are
// plain ASCII; anything else is escaped the way JSON requires.
func appendJSONString(b []byte, v string) []byte {
	b = append(b, '"')
	for i := 0; i < len(v); {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			default:
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		b = utf8.AppendRune(b, r) // invalid bytes become U+FFFD: JSON text must be UTF-8
		i += size
	}
	return append(b, '"')
}
