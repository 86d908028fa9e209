package storemigrate

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
)

// column is one column as both engines see it.
type column struct {
	name string
	// pgType is information_schema's data_type in the target
	// ("bigint", "boolean", "bytea", "text"…).
	pgType string
}

// tableShape is what copying a table needs to know.
type tableShape struct {
	cols []column
	// key is the columns that order the copy and mark where it stopped:
	// the primary key, or SQLite's rowid for a table without one.
	key []string
	// keyIdx is each key column's index in the selected row.
	keyIdx []int
	// rowid is true when key is SQLite's rowid, selected after cols.
	rowid bool
}

func shapeOf(ctx context.Context, src, dst *sql.DB, table string) (tableShape, error) {
	var sh tableShape
	rows, err := dst.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, table)
	if err != nil {
		return sh, fmt.Errorf("target columns: %w", err)
	}
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.pgType); err != nil {
			rows.Close()
			return sh, fmt.Errorf("target columns: %w", err)
		}
		sh.cols = append(sh.cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return sh, fmt.Errorf("target columns: %w", err)
	}
	// PRAGMA table_info: cid, name, type, notnull, dflt_value, pk (the
	// column's 1-based position in the primary key, 0 if not in it).
	rows, err = src.QueryContext(ctx, "SELECT name, pk FROM pragma_table_info(?)", table)
	if err != nil {
		return sh, fmt.Errorf("source columns: %w", err)
	}
	var srcCols []string
	pk := map[int]string{}
	for rows.Next() {
		var name string
		var pos int
		if err := rows.Scan(&name, &pos); err != nil {
			rows.Close()
			return sh, fmt.Errorf("source columns: %w", err)
		}
		srcCols = append(srcCols, name)
		if pos > 0 {
			pk[pos] = name
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return sh, fmt.Errorf("source columns: %w", err)
	}
	var dstCols []string
	for _, c := range sh.cols {
		dstCols = append(dstCols, c.name)
	}
	a, b := slices.Sorted(slices.Values(srcCols)), slices.Sorted(slices.Values(dstCols))
	if !slices.Equal(a, b) {
		return sh, fmt.Errorf("%w: table %s has columns %v in the source, %v in the target", ErrSchemaMismatch, table, a, b)
	}
	for i := 1; i <= len(pk); i++ {
		sh.key = append(sh.key, pk[i])
		sh.keyIdx = append(sh.keyIdx, slices.Index(dstCols, pk[i]))
	}
	if len(sh.key) == 0 {
		sh.key, sh.keyIdx, sh.rowid = []string{"rowid"}, []int{len(sh.cols)}, true
	}
	return sh, nil
}

// copyTable copies table's rows after the last key recorded, a batch per
// target transaction that also records the batch's last key: a run
// interrupted anywhere resumes after the last batch committed, and never
// inserts a row twice.
// committed hears of each batch committed.
func copyTable(ctx context.Context, src, dst *sql.DB, table string, batch int, committed func() error, log *slog.Logger) error {
	var (
		lastKey sql.NullString
		copied  int64
		done    bool
	)
	err := dst.QueryRowContext(ctx, "SELECT last_key, rows, done FROM "+progressTable+" WHERE table_name = $1", table).Scan(&lastKey, &copied, &done)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("read progress: %w", err)
	}
	if done {
		return nil
	}
	sh, err := shapeOf(ctx, src, dst, table)
	if err != nil {
		return err
	}
	// PostgreSQL takes at most 65535 parameters in a statement.
	batch = max(1, min(batch, 65535/len(sh.cols)))

	sel := make([]string, 0, len(sh.cols)+1)
	for _, c := range sh.cols {
		sel = append(sel, quote(c.name))
	}
	if sh.rowid {
		sel = append(sel, "rowid")
	}
	keyList := strings.Join(quoteAll(sh.key), ", ")
	if sh.rowid {
		keyList = "rowid"
	}
	base := "SELECT " + strings.Join(sel, ", ") + " FROM " + quote(table)
	order := " ORDER BY " + keyList + " LIMIT " + strconv.Itoa(batch)
	after := " WHERE (" + keyList + ") > (" + strings.TrimSuffix(strings.Repeat("?, ", len(sh.key)), ", ") + ")"

	var key []any
	if lastKey.Valid {
		if key, err = decodeKey(lastKey.String); err != nil {
			return fmt.Errorf("recorded progress %q: %w", lastKey.String, err)
		}
	}
	for {
		var rows *sql.Rows
		if key == nil {
			rows, err = src.QueryContext(ctx, base+order)
		} else {
			rows, err = src.QueryContext(ctx, base+after+order, key...)
		}
		if err != nil {
			return fmt.Errorf("read source: %w", err)
		}
		got, err := readRows(rows, len(sel))
		if err != nil {
			return fmt.Errorf("read source: %w", err)
		}
		if len(got) > 0 {
			last := got[len(got)-1]
			key = key[:0:0]
			for _, i := range sh.keyIdx {
				key = append(key, last[i])
			}
		}
		finished := len(got) < batch
		if err := writeBatch(ctx, dst, table, sh, got, key, finished); err != nil {
			return err
		}
		copied += int64(len(got))
		if err := committed(); err != nil {
			return err
		}
		if finished {
			log.Info("table copied", "table", table, "rows", copied)
			return nil
		}
	}
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = quote(n)
	}
	return out
}

func readRows(rows *sql.Rows, n int) ([][]any, error) {
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

// writeBatch inserts rows and records the progress in one transaction.
func writeBatch(ctx context.Context, dst *sql.DB, table string, sh tableShape, rows [][]any, key []any, finished bool) error {
	tx, err := dst.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if len(rows) > 0 {
		var b strings.Builder
		b.WriteString("INSERT INTO " + quote(table) + " (" + strings.Join(quoteAll(names(sh.cols)), ", ") + ") VALUES ")
		args := make([]any, 0, len(rows)*len(sh.cols))
		for r, row := range rows {
			if r > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for i, c := range sh.cols {
				if i > 0 {
					b.WriteString(", ")
				}
				v, err := convert(row[i], c.pgType)
				if err != nil {
					return fmt.Errorf("column %s: %w", c.name, err)
				}
				args = append(args, v)
				b.WriteString("$" + strconv.Itoa(len(args)))
			}
			b.WriteByte(')')
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
	}
	var enc sql.NullString
	if key != nil {
		s, err := encodeKey(key)
		if err != nil {
			return err
		}
		enc = sql.NullString{String: s, Valid: true}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+progressTable+` (table_name, last_key, rows, done) VALUES ($1, $2, $3, $4)
		ON CONFLICT (table_name) DO UPDATE SET last_key = EXCLUDED.last_key, rows = `+progressTable+`.rows + EXCLUDED.rows, done = EXCLUDED.done`,
		table, enc, len(rows), finished); err != nil {
		return fmt.Errorf("record progress: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func names(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

// convert turns a value as SQLite returned it (int64, float64, string,
// []byte or nil) into what the target column takes.
func convert(v any, pgType string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch pgType {
	case "bigint", "integer", "smallint":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) {
				return int64(x), nil
			}
		case string:
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n, nil
			}
		}
		return nil, fmt.Errorf("%v (%T) is not an integer", v, v)
	case "boolean":
		switch x := v.(type) {
		case int64:
			return x != 0, nil
		case bool:
			return x, nil
		}
		return nil, fmt.Errorf("%v (%T) is not a boolean", v, v)
	case "bytea":
		if s, ok := v.(string); ok {
			return []byte(s), nil
		}
		return v, nil
	case "text", "character varying", "character":
		switch x := v.(type) {
		case []byte:
			return string(x), nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		}
		return v, nil
	}
	return v, nil
}

// encodeKey writes a key for the progress table. Each value is tagged
// with its type: a JSON number alone would come back a float, and bytes
// as a string, comparing differently in SQLite than they did.
func encodeKey(key []any) (string, error) {
	out := make([]map[string]any, len(key))
	for i, v := range key {
		switch x := v.(type) {
		case int64:
			out[i] = map[string]any{"i": strconv.FormatInt(x, 10)}
		case float64:
			out[i] = map[string]any{"f": strconv.FormatFloat(x, 'g', -1, 64)}
		case string:
			out[i] = map[string]any{"s": x}
		case []byte:
			out[i] = map[string]any{"b": base64.StdEncoding.EncodeToString(x)}
		default:
			return "", fmt.Errorf("key value %v of type %T", v, v)
		}
	}
	b, err := json.Marshal(out)
	return string(b), err
}

func decodeKey(s string) ([]any, error) {
	var in []map[string]string
	if err := json.Unmarshal([]byte(s), &in); err != nil {
		return nil, err
	}
	out := make([]any, len(in))
	for i, m := range in {
		var err error
		if v, ok := m["i"]; ok {
			out[i], err = strconv.ParseInt(v, 10, 64)
		} else if v, ok := m["f"]; ok {
			out[i], err = strconv.ParseFloat(v, 64)
		} else if v, ok := m["b"]; ok {
			out[i], err = base64.StdEncoding.DecodeString(v)
		} else if v, ok := m["s"]; ok {
			out[i] = v
		} else {
			err = fmt.Errorf("no value in %v", m)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
