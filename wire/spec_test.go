package wire

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The drift check: openapi.json and asyncapi.json are written by hand and
// checked here against the Go types, so a field added to a type without
// its document (or the other way round) fails `go test ./...`.

// restBodies are the REST request and response bodies: each has an
// OpenAPI schema of the same name.
var restBodies = []any{
	RegisterRequest{}, LoginRequest{}, User{}, Session{}, UserPresence{}, Settings{}, SettingsUpdate{},
	SessionInfo{}, SessionList{}, ChangePasswordRequest{}, DeleteAccountRequest{},
	CreateBotRequest{}, BotKey{}, Bot{}, BotList{},
	SetWebhookRequest{}, Webhook{}, WebhookEvent{}, WebhookDelivery{}, WebhookDeliveries{},
	Contact{}, ContactList{}, Block{}, BlockList{},
	Avatar{}, ProfileUpdate{}, AvatarRequest{}, DisappearingRequest{},
	CreateConversationRequest{}, RenameRequest{}, AddParticipantRequest{}, SetRoleRequest{},
	Invite{}, InviteList{}, InvitePreview{},
	Participant{}, Conversation{}, LastMessage{}, ConversationList{}, ParticipantList{},
	Message{}, Quote{}, ReactionCount{}, MessageList{}, RecipientStatus{}, MessageStatus{}, MessageTrace{}, TraceRecipient{}, TraceDevice{},
	SendRequest{}, SentMessage{}, ReceiptRequest{},
	CreateMediaRequest{}, Upload{}, Media{}, ServerInfo{}, MediaSupport{}, ServerLimits{},
	VAPIDKey{}, PushSubscription{}, PushSubscriptionKeys{}, PushNotice{}, PushRelay{}, PushRelayNotice{}, PushRelayNoticeBody{},
	ErrorBody{}, ErrorDetail{},
}

// serverFrames are the server frames by type: each has an AsyncAPI schema
// named as its Go type, sent by the server.
var serverFrames = map[string]any{
	TypeMessageAck: MessageAck{}, TypeMessage: Message{}, TypeStatus: Status{}, TypePresence: Presence{},
	TypeTyping: Typing{}, TypeHeartbeatAck: HeartbeatAck{}, TypeError: ErrorFrame{},
	TypeProfile: Profile{}, TypeReaction: Reaction{}, TypeMessageEdited: MessageEdited{}, TypeMessageDeleted: MessageDeleted{},
}

// clientFrames are the client frames by type: each has an AsyncAPI schema
// named as its Go type, received by the server.
var clientFrames = map[string]any{
	TypeMessage: ClientMessage{}, TypeDeliveryAck: ClientDeliveryAck{}, TypeReadReceipt: ClientReadReceipt{},
	TypeHeartbeat: ClientHeartbeat{}, TypeTyping: ClientTyping{}, TypePresenceSubscribe: ClientPresenceSubscribe{},
	TypeReaction: ClientReaction{}, TypeEdit: ClientEdit{}, TypeDelete: ClientDelete{},
}

// undocumented are the exported struct types that are neither a REST body
// nor a server frame, and why. A new exported struct must be added to one
// of the three lists.
var undocumented = map[string]string{
	"Inbound":     "the server's decoding union of the client frames (clientFrames), checked by TestAsyncAPIClientFrames",
	"ServerFrame": "a client's decoding union of the server frames, not a frame of its own",
	"Error":       "the Go error; on the wire it is ErrorBody or ErrorFrame",
	"Limits":      "configuration, not on the wire",
}

// nullable are the fields without omitempty that the contract says may be
// null: required, and typed [T, "null"] in the documents.
var nullable = map[string]bool{"UserPresence.last_seen": true}

func loadSpecs(t *testing.T) (openapi, asyncapi jsonDoc) {
	t.Helper()
	o, ok := parseJSON(t, "openapi.json", OpenAPI()).(jsonDoc)
	if !ok {
		t.Fatal("openapi.json is not an object")
	}
	a, ok := parseJSON(t, "asyncapi.json", AsyncAPI()).(jsonDoc)
	if !ok {
		t.Fatal("asyncapi.json is not an object")
	}
	return o, a
}

func schemaNamed(t *testing.T, doc jsonDoc, name string) jsonDoc {
	t.Helper()
	s, err := resolve(doc, "#/components/schemas/"+name)
	if err != nil {
		t.Fatalf("no schema %s: %v", name, err)
	}
	return s.(jsonDoc)
}

func TestSpecDocuments(t *testing.T) {
	o, a := loadSpecs(t)
	if v, _ := o["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	if v, _ := a["asyncapi"].(string); v != "3.0.0" {
		t.Errorf("asyncapi = %q, want 3.0.0", v)
	}
	for name, doc := range map[string]jsonDoc{"openapi.json": o, "asyncapi.json": a} {
		found := map[string]string{}
		refs(doc, "#", found)
		for at, ref := range found {
			if _, err := resolve(doc, ref); err != nil {
				t.Errorf("%s %s: %v", name, at, err)
			}
		}
	}
	// Each operation: a unique operationId, its path parameters declared,
	// and a 401 unless it is public (security: []).
	ids := map[string]string{}
	for path, item := range o["paths"].(jsonDoc) {
		for method, v := range item.(jsonDoc) {
			op := v.(jsonDoc)
			at := strings.ToUpper(method) + " " + path
			id, _ := op["operationId"].(string)
			if prev, dup := ids[id]; dup || id == "" {
				t.Errorf("%s: operationId %q is empty or also %s's", at, id, prev)
			}
			ids[id] = at
			var declared []string
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				if p := p.(jsonDoc); p["in"] == "path" && p["required"] == true {
					declared = append(declared, "{"+p["name"].(string)+"}")
				}
			}
			var inPath []string
			for _, seg := range strings.Split(path, "/") {
				if strings.HasPrefix(seg, "{") {
					inPath = append(inPath, seg)
				}
			}
			if !slices.Equal(slices.Sorted(slices.Values(declared)), slices.Sorted(slices.Values(inPath))) {
				t.Errorf("%s: path parameters %q declared, %q in the path", at, declared, inPath)
			}
			if sec, ok := op["security"].([]any); !ok || len(sec) > 0 {
				if _, err := resolve(op, "#/responses/401"); err != nil {
					t.Errorf("%s needs a token but documents no 401", at)
				}
			}
		}
	}
}

// TestSpecCoversWireTypes: every exported struct type of the package is
// documented or explicitly not, and the lists name only real types.
func TestSpecCoversWireTypes(t *testing.T) {
	listed := map[string]bool{}
	for _, v := range restBodies {
		listed[reflect.TypeOf(v).Name()] = true
	}
	for _, v := range serverFrames {
		listed[reflect.TypeOf(v).Name()] = true
	}
	for _, v := range clientFrames {
		listed[reflect.TypeOf(v).Name()] = true
	}
	structs := exportedStructs(t)
	for _, name := range structs {
		if !listed[name] && undocumented[name] == "" {
			t.Errorf("wire.%s is a new exported struct: add it to restBodies or serverFrames (and document it in openapi.json / asyncapi.json), or to undocumented with a reason", name)
		}
	}
	for name := range undocumented {
		if !slices.Contains(structs, name) {
			t.Errorf("undocumented names wire.%s, which is not an exported struct", name)
		}
	}
}

// exportedStructs parses the package's non-test files.
func exportedStructs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, f := range parsePackage(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.IsExported() {
				if _, ok := ts.Type.(*ast.StructType); ok {
					out = append(out, ts.Name.Name)
				}
			}
			return true
		})
	}
	return out
}

func parsePackage(t *testing.T) []*ast.File {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// constants returns the package's string constants whose name starts with
// prefix (and, if typ is set, that are declared with that type), by value.
func constants(t *testing.T, prefix, typ string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range parsePackage(t) {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				if id, _ := vs.Type.(*ast.Ident); typ != "" && (id == nil || id.Name != typ) {
					continue
				}
				for i, n := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !strings.HasPrefix(n.Name, prefix) || !ok || lit.Kind != token.STRING {
						continue
					}
					v, _ := strconv.Unquote(lit.Value)
					out[v] = n.Name
				}
			}
		}
	}
	return out
}

func TestOpenAPISchemasMatchGo(t *testing.T) {
	o, _ := loadSpecs(t)
	for _, v := range restBodies {
		typ := reflect.TypeOf(v)
		t.Run(typ.Name(), func(t *testing.T) { checkSchema(t, o, typ) })
	}
}

func TestAsyncAPISchemasMatchGo(t *testing.T) {
	_, a := loadSpecs(t)
	sent := asyncMessages(t, a, "send")
	for frameType, v := range serverFrames {
		typ := reflect.TypeOf(v)
		t.Run(typ.Name(), func(t *testing.T) {
			checkSchema(t, a, typ)
			s := schemaNamed(t, a, typ.Name())
			if enum := asStrings(s["properties"].(jsonDoc)["type"].(jsonDoc)["enum"]); !slices.Equal(enum, []string{frameType}) {
				t.Errorf("%s.type enum = %q, want [%q]", typ.Name(), enum, frameType)
			}
			if got := sent[frameType]; got != typ.Name() {
				t.Errorf("the server's %q message has payload %q, want %s", frameType, got, typ.Name())
			}
		})
	}
	received := asyncMessages(t, a, "receive")
	for frameType, v := range clientFrames {
		typ := reflect.TypeOf(v)
		t.Run(typ.Name(), func(t *testing.T) {
			checkSchema(t, a, typ)
			if got := received[frameType]; got != typ.Name() {
				t.Errorf("the server's received %q message has payload %q, want %s", frameType, got, typ.Name())
			}
		})
	}
	if len(sent) != len(serverFrames) {
		t.Errorf("the server sends %v in asyncapi.json, serverFrames lists %v", slices.Sorted(maps.Keys(sent)), slices.Sorted(maps.Keys(serverFrames)))
	}
}

// checkSchema compares the schema named as typ with typ's JSON encoding:
// the same properties, required exactly when not omitempty, each of the
// JSON type its Go type encodes to, nested types by $ref to their schema.
func checkSchema(t *testing.T, doc jsonDoc, typ reflect.Type) {
	t.Helper()
	s := schemaNamed(t, doc, typ.Name())
	if s["type"] != "object" {
		t.Errorf("%s: type %v, want object", typ.Name(), s["type"])
	}
	props, _ := s["properties"].(jsonDoc)
	var want, required []string
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		want = append(want, name)
		key := typ.Name() + "." + name
		if !strings.Contains(","+opts+",", ",omitempty,") {
			required = append(required, name)
		}
		p, ok := props[name].(jsonDoc)
		if !ok {
			t.Errorf("%s: property %q is missing", typ.Name(), name)
			continue
		}
		checkProperty(t, doc, key, p, f.Type, nullable[key])
	}
	sort.Strings(want)
	if got := slices.Sorted(maps.Keys(props)); !slices.Equal(got, want) {
		t.Errorf("%s: properties %q, want the JSON fields %q", typ.Name(), got, want)
	}
	sort.Strings(required)
	if got := asStrings(s["required"]); !slices.Equal(slices.Sorted(slices.Values(got)), required) {
		t.Errorf("%s: required %q, want the fields without omitempty %q", typ.Name(), got, required)
	}
}

func checkProperty(t *testing.T, doc jsonDoc, key string, p jsonDoc, ft reflect.Type, null bool) {
	t.Helper()
	if ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if ft == reflect.TypeFor[json.RawMessage]() {
		// A JSON value passed through (a webhook event's frame): an
		// object, documented by its own schema elsewhere.
		if got := schemaTypes(p); !slices.Equal(got, []string{"object"}) {
			t.Errorf("%s: type %q, want [object]", key, got)
		}
		return
	}
	if ft.Kind() == reflect.Struct {
		if want := "#/components/schemas/" + ft.Name(); p["$ref"] != want {
			t.Errorf("%s: $ref %v, want %s", key, p["$ref"], want)
		}
		return
	}
	if ft.Kind() != reflect.Slice {
		if _, ok := p["$ref"]; ok {
			// A named scalar (Code) has its own schema.
			if want := "#/components/schemas/" + ft.Name(); p["$ref"] != want {
				t.Errorf("%s: $ref %v, want %s", key, p["$ref"], want)
			}
			var err error
			if p, err = deref(doc, p); err != nil {
				t.Errorf("%s: %v", key, err)
				return
			}
		}
	}
	var want string
	switch ft.Kind() {
	case reflect.String:
		want = "string"
	case reflect.Bool:
		want = "boolean"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint8:
		want = "integer"
	case reflect.Slice:
		want = "array"
	default:
		t.Errorf("%s: the check does not know Go kind %s", key, ft.Kind())
		return
	}
	wantTypes := []string{want}
	if null {
		wantTypes = append(wantTypes, "null")
	}
	if got := schemaTypes(p); !slices.Equal(got, wantTypes) {
		t.Errorf("%s: type %q, want %q", key, got, wantTypes)
	}
	if ft.Kind() == reflect.Slice {
		items, ok := p["items"].(jsonDoc)
		if !ok {
			t.Errorf("%s: an array without items", key)
			return
		}
		checkProperty(t, doc, key+"[]", items, ft.Elem(), false)
	}
}

// asyncMessages maps each frame type the server sends ("send") or
// receives ("receive") to the name of its payload schema.
func asyncMessages(t *testing.T, a jsonDoc, action string) map[string]string {
	t.Helper()
	out := map[string]string{}
	ops, _ := a["operations"].(jsonDoc)
	for name, v := range ops {
		op := v.(jsonDoc)
		if op["action"] != action {
			continue
		}
		for _, m := range op["messages"].([]any) {
			msg, err := deref(a, m.(jsonDoc))
			if err != nil {
				t.Fatalf("operation %s: %v", name, err)
			}
			ref, _ := msg["payload"].(jsonDoc)["$ref"].(string)
			schemaName, ok := strings.CutPrefix(ref, "#/components/schemas/")
			if !ok {
				t.Fatalf("operation %s: the payload is not a $ref to a named schema", name)
			}
			enum := asStrings(schemaNamed(t, a, schemaName)["properties"].(jsonDoc)["type"].(jsonDoc)["enum"])
			if len(enum) != 1 {
				t.Fatalf("operation %s: %s.type must have one enum value, has %q", name, schemaName, enum)
			}
			if prev, dup := out[enum[0]]; dup {
				t.Fatalf("%s frame %q is documented twice (%s, %s)", action, enum[0], prev, schemaName)
			}
			out[enum[0]] = schemaName
		}
	}
	return out
}

// TestAsyncAPIClientFrames: every frame type constant is documented in its
// direction; each client frame's schema lists Inbound fields of the right
// JSON type, and its required list is what Validate requires (checked by
// removing each field from the contract's examples).
func TestAsyncAPIClientFrames(t *testing.T) {
	_, a := loadSpecs(t)
	received := asyncMessages(t, a, "receive")
	inbound := reflect.TypeOf(Inbound{})
	fields := map[string]reflect.StructField{}
	for i := range inbound.NumField() {
		f := inbound.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields[name] = f
	}
	for value, name := range constants(t, "Type", "") {
		_, err := Decode([]byte(`{"type":`+strconv.Quote(value)+`}`), DefaultLimits())
		isClient := err == nil || err.Error() != "unknown frame type"
		_, isServer := serverFrames[value]
		switch {
		case isClient && received[value] == "":
			t.Errorf("client frame %s (%q) is not received in asyncapi.json", name, value)
		case isClient && received[value] != "Client"+camel(value):
			t.Errorf("client frame %q has schema %s, want Client%s", value, received[value], camel(value))
		case !isClient && !isServer:
			t.Errorf("%s (%q) is neither a client frame nor in serverFrames", name, value)
		}
	}
	for value, schemaName := range received {
		s := schemaNamed(t, a, schemaName)
		for prop, p := range s["properties"].(jsonDoc) {
			f, ok := fields[prop]
			if !ok {
				t.Errorf("%s.%s is not a field of Inbound", schemaName, prop)
				continue
			}
			checkProperty(t, a, schemaName+"."+prop, p.(jsonDoc), f.Type, false)
		}
		if _, err := Decode([]byte(`{"type":`+strconv.Quote(value)+`}`), DefaultLimits()); err == nil && len(asStrings(s["required"])) > 1 {
			t.Errorf("%s requires %q, but a bare %q frame is accepted", schemaName, asStrings(s["required"]), value)
		}
	}

	var contract struct {
		ClientFrames []struct {
			Name  string         `json:"name"`
			Frame map[string]any `json:"frame"`
		} `json:"client_frames"`
	}
	readContract(t, &contract)
	tried := map[string]bool{}
	for _, row := range contract.ClientFrames {
		typ, _ := row.Frame["type"].(string)
		schemaName := received[typ]
		if schemaName == "" {
			t.Errorf("contract %q: type %q is not received in asyncapi.json", row.Name, typ)
			continue
		}
		s := schemaNamed(t, a, schemaName)
		for _, e := range validate(a, s, toDoc(t, row.Frame), "$") {
			t.Errorf("contract %q against %s: %s", row.Name, schemaName, e)
		}
		required := asStrings(s["required"])
		for field := range row.Frame {
			if field == "type" {
				continue
			}
			tried[schemaName+"."+field] = true
			without := maps.Clone(row.Frame)
			delete(without, field)
			_, err := Decode(Encode(without), DefaultLimits())
			if slices.Contains(required, field) && err == nil {
				t.Errorf("%s.%s is required, but %q without it is accepted", schemaName, field, row.Name)
			}
			if !slices.Contains(required, field) && err != nil {
				t.Errorf("%s.%s is optional, but %q without it is refused: %v", schemaName, field, row.Name, err)
			}
		}
	}
	for _, schemaName := range received {
		for prop := range schemaNamed(t, a, schemaName)["properties"].(jsonDoc) {
			if prop != "type" && !tried[schemaName+"."+prop] {
				t.Errorf("%s.%s appears in no contract client frame: add a row so its required-ness is checked", schemaName, prop)
			}
		}
	}
}

func camel(s string) string {
	var b strings.Builder
	for _, p := range strings.Split(s, "_") {
		b.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	return b.String()
}

// TestErrorCodesDocumented: the code enums of both documents are exactly
// the Code constants.
func TestErrorCodesDocumented(t *testing.T) {
	o, a := loadSpecs(t)
	want := slices.Sorted(maps.Keys(constants(t, "Code", "Code")))
	if len(want) == 0 {
		t.Fatal("no Code constants found")
	}
	for name, p := range map[string]struct {
		doc    jsonDoc
		schema string
	}{"openapi.json ErrorDetail.code": {o, "ErrorDetail"}, "asyncapi.json ErrorFrame.code": {a, "ErrorFrame"}} {
		code, err := deref(p.doc, schemaNamed(t, p.doc, p.schema)["properties"].(jsonDoc)["code"].(jsonDoc))
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(slices.Values(asStrings(code["enum"]))); !slices.Equal(got, want) {
			t.Errorf("%s enum = %q, want the Code constants %q", name, got, want)
		}
	}
}

// TestContractMatchesSpec: every REST exchange and server frame of
// testdata/contract.json is valid against the documents.
func TestContractMatchesSpec(t *testing.T) {
	o, a := loadSpecs(t)
	var contract struct {
		ServerFrames []struct {
			Name  string         `json:"name"`
			Frame map[string]any `json:"frame"`
		} `json:"server_frames"`
		REST []struct {
			Name     string          `json:"name"`
			Method   string          `json:"method"`
			Path     string          `json:"path"`
			Status   int             `json:"status"`
			Request  json.RawMessage `json:"request"`
			Response json.RawMessage `json:"response"`
		} `json:"rest"`
	}
	readContract(t, &contract)
	for _, row := range contract.REST {
		op, err := resolve(o, "#/paths/"+strings.ReplaceAll(row.Path, "/", "~1")+"/"+strings.ToLower(row.Method))
		if err != nil {
			t.Errorf("contract %q: %s %s is not in openapi.json", row.Name, row.Method, row.Path)
			continue
		}
		if row.Request != nil {
			s, err := resolve(op, "#/requestBody/content/application~1json/schema")
			if err != nil {
				t.Errorf("contract %q: no JSON request body: %v", row.Name, err)
			} else {
				for _, e := range validate(o, s.(jsonDoc), parseJSON(t, row.Name, row.Request), "request") {
					t.Errorf("contract %q: %s", row.Name, e)
				}
			}
		}
		res, err := resolve(op, "#/responses/"+strconv.Itoa(row.Status))
		if err != nil {
			t.Errorf("contract %q: %s %s has no %d response", row.Name, row.Method, row.Path, row.Status)
			continue
		}
		resp, err := deref(o, res.(jsonDoc))
		if err != nil {
			t.Fatal(err)
		}
		s, err := resolve(resp, "#/content/application~1json/schema")
		switch {
		case row.Response == nil && err == nil:
			t.Errorf("contract %q: %d has a body in openapi.json, none in the contract", row.Name, row.Status)
		case row.Response != nil && err != nil:
			t.Errorf("contract %q: %d has no JSON body in openapi.json", row.Name, row.Status)
		case row.Response != nil:
			for _, e := range validate(o, s.(jsonDoc), parseJSON(t, row.Name, row.Response), "response") {
				t.Errorf("contract %q: %s", row.Name, e)
			}
		}
		if row.Status == 429 {
			if _, err := resolve(resp, "#/headers/Retry-After"); err != nil {
				t.Errorf("contract %q: the 429 answer does not document Retry-After", row.Name)
			}
		}
	}
	sent := asyncMessages(t, a, "send")
	for _, row := range contract.ServerFrames {
		typ, _ := row.Frame["type"].(string)
		if sent[typ] == "" {
			t.Errorf("contract %q: type %q is not sent in asyncapi.json", row.Name, typ)
			continue
		}
		for _, e := range validate(a, schemaNamed(t, a, sent[typ]), toDoc(t, row.Frame), "$") {
			t.Errorf("contract %q against %s: %s", row.Name, sent[typ], e)
		}
	}
}

// TestSpecExamplesValid: the examples inside the documents are valid too.
func TestSpecExamplesValid(t *testing.T) {
	o, a := loadSpecs(t)
	n := 0
	var walk func(v any, at string)
	walk = func(v any, at string) {
		switch c := v.(type) {
		case map[string]any:
			// An OpenAPI media type: {schema, examples: {name: {value}}}.
			if s, ok := c["schema"].(jsonDoc); ok {
				if ex, ok := c["examples"].(jsonDoc); ok {
					for name, e := range ex {
						n++
						for _, err := range validate(o, s, e.(jsonDoc)["value"], at+"/examples/"+name) {
							t.Error(err)
						}
					}
				}
			}
			for k, x := range c {
				walk(x, at+"/"+k)
			}
		case []any:
			for i, x := range c {
				walk(x, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(o["paths"], "#/paths")
	for name, m := range a["components"].(jsonDoc)["messages"].(jsonDoc) {
		payload := m.(jsonDoc)["payload"].(jsonDoc)
		exs, _ := m.(jsonDoc)["examples"].([]any)
		for _, e := range exs {
			n++
			for _, err := range validate(a, payload, e.(jsonDoc)["payload"], "#/components/messages/"+name) {
				t.Error(err)
			}
		}
	}
	if n == 0 {
		t.Error("the documents have no examples")
	}
}

func readContract(t *testing.T, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/contract.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// toDoc re-reads a decoded value with exact numbers.
func toDoc(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return parseJSON(t, "frame", b)
}
