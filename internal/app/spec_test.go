package app_test

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/apptest"
	"github.com/parleychat/parley/wire"
)

// TestSpecServed: the protocol documents are served as embedded in wire,
// without a token, as cacheable JSON that revalidates with its ETag.
func TestSpecServed(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	for path, want := range map[string][]byte{"/api/openapi.json": wire.OpenAPI(), "/api/asyncapi.json": wire.AsyncAPI()} {
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" ||
				res.Header.Get("Cache-Control") != "public, max-age=300" {
				t.Fatalf("GET %s: %d, Content-Type %q, Cache-Control %q", path, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
			}
			if !json.Valid(body) || !bytes.Equal(body, want) {
				t.Fatalf("GET %s: %d bytes, not the %d of the wire package's document", path, len(body), len(want))
			}
			etag := res.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			req, _ = http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
			req.Header.Set("If-None-Match", etag)
			res, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusNotModified {
				t.Fatalf("GET %s with If-None-Match: %d, want 304", path, res.StatusCode)
			}
		})
	}
}

// catchAll is the answer of internal/api's "/api/" pattern: no route.
var catchAll = map[string]any{"error": map[string]any{"code": "not_found", "message": "no such endpoint"}}

// TestOpenAPIRoutes: the server answers every operation of openapi.json
// (none falls through to the catch-all), and every route internal/api
// registers is in openapi.json.
func TestOpenAPIRoutes(t *testing.T) {
	ctx := testCtx(t)
	srv := apptest.Start(t, apptest.Config(t), nil)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(wire.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}

	probe := func(route string) (int, any) {
		t.Helper()
		method, path, _ := strings.Cut(route, " ")
		// Path parameters get dummy ids: an unknown id is the handler's
		// 401 or 404, never the catch-all's.
		for strings.Contains(path, "{") {
			i, j := strings.Index(path, "{"), strings.Index(path, "}")
			path = path[:i] + "x" + path[j+1:]
		}
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader("{}"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	// The probe tells a route from none: an unknown path, and a known path
	// with a method it does not take, reach the catch-all.
	for _, none := range []string{"GET /api/v1/nope", "PUT /api/v1/users"} {
		if status, body := probe(none); status != http.StatusNotFound || !reflect.DeepEqual(body, catchAll) {
			t.Fatalf("%s: %d %v, want the catch-all's 404 %v", none, status, body, catchAll)
		}
	}
	for _, route := range slices.Sorted(func(yield func(string) bool) {
		for r := range documented {
			if !yield(r) {
				return
			}
		}
	}) {
		if status, body := probe(route); reflect.DeepEqual(body, catchAll) || status == http.StatusMethodNotAllowed {
			t.Errorf("%s is in openapi.json, but the server has no such route (%d %v)", route, status, body)
		}
	}

	registered := registeredRoutes(t, filepath.Join("..", "api"))
	if len(registered) == 0 {
		t.Fatal("found no routes in internal/api")
	}
	for _, route := range registered {
		if route == "/api/" {
			continue // the catch-all
		}
		if !documented[route] {
			t.Errorf("internal/api registers %q, which is not in openapi.json", route)
		}
	}
}

// registeredRoutes reads the pattern of every mux.Handle and
// mux.HandleFunc call with a literal pattern in dir's non-test files.
func registeredRoutes(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: a route whose pattern is not a literal; the test cannot read it", fset.Position(call.Pos()))
				return true
			}
			p, _ := strconv.Unquote(lit.Value)
			out = append(out, p)
			return true
		})
	}
	return out
}
