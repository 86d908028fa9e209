package bench

import (
	"bytes"
	"math"
	"strconv"
	"strings"
)

// parseFrame reads the measured fields of a server frame: one flat JSON
// object whose other members (of any type) are skipped. It checks the
// syntax it walks through, not every rule of JSON (a number's form, the
// escapes inside strings), which the server's encoding/json guarantees.
func parseFrame(b []byte, f *inFrame) bool {
	*f = inFrame{retryAfterMS: -1}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		key, next, ok := scanString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return false
		}
		switch c := b[i]; {
		case c == '"':
			v, next, ok := scanString(b, i)
			if !ok {
				return false
			}
			f.setString(key, v)
			i = next
		case c == '-' || c >= '0' && c <= '9':
			end := i + 1
			for end < len(b) && strings.IndexByte("0123456789.eE+-", b[end]) >= 0 {
				end++
			}
			f.setNumber(key, b[i:end])
			i = end
		default:
			next, ok := skipValue(b, i)
			if !ok {
				return false
			}
			i = next
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}

func (f *inFrame) setString(key, v []byte) {
	switch string(key) {
	case "type":
		f.kind = kindOf(v)
	case "client_message_id":
		f.clientMessageID = v
	case "message_id":
		f.messageID = v
	case "conversation_id":
		f.conversationID = v
	case "message_type":
		f.system = string(v) == "system"
	case "content":
		f.content = v
	case "code":
		f.code = v
	case "message":
		f.text = v
	}
}

func (f *inFrame) setNumber(key, v []byte) {
	switch string(key) {
	case "sequence_number":
		f.sequence, _ = atoi(v)
	case "retry_after_ms":
		if n, ok := atoi(v); ok {
			if n >= 0 {
				f.retryAfterMS = n
			}
			return
		}
		// Not a whole number: rounded up, so a resend never comes early.
		if x, err := strconv.ParseFloat(string(v), 64); err == nil && x >= 0 && x < 1e12 {
			f.retryAfterMS = int64(math.Ceil(x))
		}
	}
}

// atoi parses a decimal integer; false if b is not one (or too long).
func atoi(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// scanString reads the JSON string starting at b[i] (a quote) and returns
// its inside, escapes kept, and the index after its closing quote.
func scanString(b []byte, i int) (inside []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	from := i + 1
	for j := from; ; {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return nil, 0, false
		}
		q := j + k
		// The quote ends the string unless an odd number of
		// backslashes escapes it.
		n := 0
		for p := q - 1; p >= from && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return b[from:q], q + 1, true
		}
		j = q + 1
	}
}

// skipValue skips a literal (true, false, null), an array or an object,
// strings inside included.
func skipValue(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] != '{' && b[i] != '[' {
		j := i
		for j < len(b) && b[j] >= 'a' && b[j] <= 'z' {
			j++
		}
		return j, j > i
	}
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			_, next, ok := scanString(b, i)
			if !ok {
				return 0, false
			}
			i = next
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
		i++
	}
	return 0, false
}
