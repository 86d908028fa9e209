package storemigrate

import (
	"reflect"
	"testing"
)

func TestKeyRoundTrip(t *testing.T) {
	// Types survive: a number must not come back a float, nor bytes a
	// string, or SQLite would compare the resumed key differently.
	key := []any{int64(1) << 62, "conv-01", []byte{0, 1, 255}, []byte{}, "", 2.5}
	s, err := encodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeKey(s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, key) {
		t.Fatalf("decodeKey(encodeKey(%#v)) = %#v", key, got)
	}
}

func TestConvert(t *testing.T) {
	for _, tc := range []struct {
		in     any
		pgType string
		want   any
	}{
		{int64(7), "bigint", int64(7)},
		{"42", "integer", int64(42)},
		{float64(3), "bigint", int64(3)},
		{int64(1), "boolean", true},
		{int64(0), "boolean", false},
		{"raw", "bytea", []byte("raw")},
		{[]byte("hi"), "text", "hi"},
		{int64(5), "text", "5"},
		{nil, "bigint", nil},
	} {
		got, err := convert(tc.in, tc.pgType)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("convert(%#v, %s) = %#v, %v; want %#v", tc.in, tc.pgType, got, err, tc.want)
		}
	}
	for _, bad := range []struct {
		in     any
		pgType string
	}{{"x", "bigint"}, {1.5, "bigint"}, {"yes", "boolean"}} {
		if _, err := convert(bad.in, bad.pgType); err == nil {
			t.Errorf("convert(%#v, %s) accepted", bad.in, bad.pgType)
		}
	}
}
