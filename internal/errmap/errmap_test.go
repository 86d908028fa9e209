package errmap

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/conversations"
	"github.com/parleychat/parley/internal/fault"
	"github.com/parleychat/parley/internal/identity"
	"github.com/parleychat/parley/internal/media"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

func TestWire(t *testing.T) {
	edge := wire.RateLimited("too many frames", 0)
	for _, tc := range []struct {
		name   string
		err    error
		code   wire.Code
		status int
		msg    string
	}{
		{"a sentinel", conversations.ErrGroupFull, wire.CodeGroupFull, 422, "the group would pass its member limit"},
		{"a wrapped sentinel keeps its own text", fmt.Errorf("add member: %w", conversations.ErrNotAdmin), wire.CodeForbidden, 403, "only admins may do this"},
		{"a 422", conversations.ErrLastAdmin, wire.CodeInvalid, 422, conversations.ErrLastAdmin.Error()},
		{"a detailed error shows its detail", fmt.Errorf("create: %w", fault.New(conversations.ErrUnknownUser, "unknown users a, b")), wire.CodeInvalid, 422, "unknown users a, b"},
		{"a media refusal", fault.New(media.ErrRefused, "the image cannot be decoded"), wire.CodeInvalid, 422, "the image cannot be decoded"},
		{"a not found", fmt.Errorf("get: %w", messaging.ErrMessageNotFound), wire.CodeNotFound, 404, "no such message"},
		{"the edge's own error", fmt.Errorf("admit: %w", edge), wire.CodeRateLimited, 429, "too many frames"},
		{"a server fault", errors.New("disk on fire at /var/lib/secret"), wire.CodeInternal, 500, "internal server error"},
	} {
		pe := Wire(tc.err)
		if pe.Code != tc.code || pe.HTTPStatus() != tc.status || pe.Message != tc.msg {
			t.Errorf("%s: Wire = %s %d %q; want %s %d %q", tc.name, pe.Code, pe.HTTPStatus(), pe.Message, tc.code, tc.status, tc.msg)
		}
	}
	if pe := Wire(identity.ErrBusy); pe.Code != wire.CodeRateLimited || pe.RetryAfter <= 0 {
		t.Errorf("ErrBusy = %+v, want rate_limited with a wait", pe)
	}
	if !Internal(errors.New("boom")) || Internal(identity.ErrBadToken) {
		t.Error("Internal misclassifies")
	}
}

func TestWriteHTTP(t *testing.T) {
	rec := &recorder{header: http.Header{}}
	WriteHTTP(rec, fmt.Errorf("login: %w", identity.ErrBusy))
	if rec.status != 429 || rec.header.Get("Retry-After") != "1" ||
		rec.body.String() != `{"error":{"code":"rate_limited","message":"too many logins at once: retry shortly"}}` {
		t.Fatalf("answer = %d %v %s", rec.status, rec.header, rec.body.String())
	}
}

// TestEveryDomainErrorIsMapped keeps the table whole: an exported Err
// variable of a domain package that the table does not name would reach
// clients as "internal". Errors made with fault.New are classified by
// their kind, which must itself be in the table.
func TestEveryDomainErrorIsMapped(t *testing.T) {
	src, err := os.ReadFile("errmap.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"identity", "conversations", "messaging", "presence", "media", "profiles"} {
		files, _ := filepath.Glob(filepath.Join("..", pkg, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.VAR {
					continue
				}
				for _, s := range gd.Specs {
					vs := s.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if !strings.HasPrefix(n.Name, "Err") || !n.IsExported() {
							continue
						}
						if i < len(vs.Values) && isFaultNew(vs.Values[i]) {
							continue
						}
						if !strings.Contains(string(src), pkg+"."+n.Name+",") {
							t.Errorf("%s.%s is not in errmap's table", pkg, n.Name)
						}
					}
				}
			}
		}
	}
}

func isFaultNew(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "fault"
}

type recorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(s int)           { r.status = s }
