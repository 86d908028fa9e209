package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/parleychat/parley/wire/wiretest"
)

// restTypes are the request and response bodies of each route; an error
// status answers an ErrorBody.
var restTypes = map[string]struct{ req, resp any }{
	"POST /api/v1/users":                                      {RegisterRequest{}, User{}},
	"POST /api/v1/sessions":                                   {LoginRequest{}, Session{}},
	"DELETE /api/v1/sessions/current":                         {nil, nil},
	"GET /api/v1/sessions":                                    {nil, SessionList{}},
	"DELETE /api/v1/sessions/{session_id}":                    {nil, nil},
	"DELETE /api/v1/sessions":                                 {nil, nil},
	"PUT /api/v1/users/me/password":                           {ChangePasswordRequest{}, nil},
	"POST /api/v1/bots":                                       {CreateBotRequest{}, BotKey{}},
	"GET /api/v1/bots":                                        {nil, BotList{}},
	"POST /api/v1/bots/{id}/key":                              {nil, BotKey{}},
	"DELETE /api/v1/bots/{id}/key":                            {nil, nil},
	"DELETE /api/v1/bots/{id}":                                {nil, nil},
	"PUT /api/v1/bots/{id}/webhook":                           {SetWebhookRequest{}, Webhook{}},
	"GET /api/v1/bots/{id}/webhook":                           {nil, Webhook{}},
	"DELETE /api/v1/bots/{id}/webhook":                        {nil, nil},
	"GET /api/v1/bots/{id}/deliveries":                        {nil, WebhookDeliveries{}},
	"GET /api/v1/users":                                       {nil, User{}},
	"GET /api/v1/users/{id}":                                  {nil, User{}},
	"GET /api/v1/users/{id}/presence":                         {nil, UserPresence{}},
	"GET /api/v1/users/me/settings":                           {nil, Settings{}},
	"GET /api/v1/users/me/contacts":                           {nil, ContactList{}},
	"PUT /api/v1/users/me/contacts/{user_id}":                 {nil, nil},
	"POST /api/v1/conversations/{id}/invites":                 {nil, Invite{}},
	"GET /api/v1/conversations/{id}/invites":                  {nil, InviteList{}},
	"DELETE /api/v1/conversations/{id}/invites/{code}":        {nil, nil},
	"GET /api/v1/invites/{code}":                              {nil, InvitePreview{}},
	"POST /api/v1/invites/{code}/join":                        {nil, Conversation{}},
	"DELETE /api/v1/users/me/contacts/{user_id}":              {nil, nil},
	"GET /api/v1/users/me/blocks":                             {nil, BlockList{}},
	"PUT /api/v1/users/me/blocks/{user_id}":                   {nil, nil},
	"DELETE /api/v1/users/me/blocks/{user_id}":                {nil, nil},
	"PATCH /api/v1/users/me/settings":                         {SettingsUpdate{}, Settings{}},
	"PATCH /api/v1/users/me/profile":                          {ProfileUpdate{}, User{}},
	"PUT /api/v1/conversations/{id}/avatar":                   {AvatarRequest{}, Conversation{}},
	"DELETE /api/v1/conversations/{id}/avatar":                {nil, nil},
	"PUT /api/v1/conversations/{id}/disappearing":             {DisappearingRequest{}, Conversation{}},
	"POST /api/v1/conversations":                              {CreateConversationRequest{}, Conversation{}},
	"GET /api/v1/conversations":                               {nil, ConversationList{}},
	"GET /api/v1/conversations/{id}":                          {nil, Conversation{}},
	"PATCH /api/v1/conversations/{id}":                        {RenameRequest{}, Conversation{}},
	"GET /api/v1/conversations/{id}/participants":             {nil, ParticipantList{}},
	"POST /api/v1/conversations/{id}/participants":            {AddParticipantRequest{}, Conversation{}},
	"PATCH /api/v1/conversations/{id}/participants/{user_id}": {SetRoleRequest{}, Conversation{}},
	"GET /api/v1/conversations/{id}/messages":                 {nil, MessageList{}},
	"POST /api/v1/conversations/{id}/messages":                {SendRequest{}, SentMessage{}},
	"POST /api/v1/conversations/{id}/read":                    {ReceiptRequest{}, nil},
	"POST /api/v1/messages/delivered":                         {ReceiptRequest{}, nil},
	"GET /api/v1/messages/{id}/status":                        {nil, MessageStatus{}},
	"GET /api/v1/messages/{id}/trace":                         {nil, MessageTrace{}},
	"POST /api/v1/media":                                      {CreateMediaRequest{}, Upload{}},
	"POST /api/v1/media/{id}/complete":                        {nil, Media{}},
	"GET /api/v1/media/{id}":                                  {nil, Media{}},
	"GET /api/v1/server":                                      {nil, ServerInfo{}},
	"GET /api/v1/push/vapid":                                  {nil, VAPIDKey{}},
	"POST /api/v1/push/subscriptions":                         {PushSubscription{}, nil},
	"DELETE /api/v1/push/subscriptions":                       {nil, nil},
	"POST /api/v1/push/relays":                                {PushRelay{}, nil},
	"DELETE /api/v1/push/relays":                              {nil, nil},
}

// roundTrip checks data against a new value of proto's type.
func roundTrip(t *testing.T, name string, proto any, data []byte) {
	t.Helper()
	if err := RoundTrip(data, reflect.New(reflect.TypeOf(proto)).Interface()); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

func sameJSON(t *testing.T, name string, want, got []byte) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !reflect.DeepEqual(w, g) {
		t.Errorf("%s: re-encoded as\n  %s\nwant\n  %s", name, got, want)
	}
}

// TestContractClientFrames: every example client frame is accepted by the
// server's decoder and, as its own type, encodes back to itself; every
// refused one is refused with its code, keeping its client_message_id.
func TestContractClientFrames(t *testing.T) {
	c := wiretest.Load(t)
	for _, row := range c.ClientFrames {
		f, err := Decode(row.Frame, DefaultLimits())
		if err != nil {
			t.Errorf("%s: refused: %v", row.Name, err)
			continue
		}
		typed := f.Typed()
		if reflect.TypeOf(typed) != reflect.TypeOf(clientFrames[f.Type]) {
			t.Errorf("%s: Typed is %T, want %T", row.Name, typed, clientFrames[f.Type])
			continue
		}
		sameJSON(t, row.Name, row.Frame, Encode(typed))
		roundTrip(t, row.Name, typed, row.Frame)
	}
	for _, row := range c.RefusedClientFrames {
		f, err := Decode(row.Bytes(), DefaultLimits())
		var pe *Error
		if !errors.As(err, &pe) || string(pe.Code) != row.Code {
			t.Errorf("%s: Decode = %v, want %s", row.Name, err, row.Code)
			continue
		}
		if row.ClientMessageID != "" && (f == nil || f.ClientMessageID != row.ClientMessageID) {
			t.Errorf("%s: the refusal lost client_message_id %q", row.Name, row.ClientMessageID)
		}
	}
}

// TestContractServerFrames: every example server frame decodes into its
// type with no field left over and encodes back to itself, and a client's
// DecodeServer reads its type.
func TestContractServerFrames(t *testing.T) {
	c := wiretest.Load(t)
	seen := map[string]bool{}
	for _, row := range c.ServerFrames {
		f, err := DecodeServer(row.Frame)
		if err != nil {
			t.Errorf("%s: %v", row.Name, err)
			continue
		}
		v := NewServerFrame(f.Type)
		if v == nil || reflect.TypeOf(v).Elem() != reflect.TypeOf(serverFrames[f.Type]) {
			t.Errorf("%s: NewServerFrame(%q) = %T", row.Name, f.Type, v)
			continue
		}
		seen[f.Type] = true
		if err := RoundTrip(row.Frame, v); err != nil {
			t.Errorf("%s: %v", row.Name, err)
		}
	}
	for typ := range serverFrames {
		if !seen[typ] {
			t.Errorf("no contract row shows a %q frame", typ)
		}
	}
}

// TestContractREST: every example request and response decodes into its
// route's type with no field left over and encodes back to itself.
func TestContractREST(t *testing.T) {
	c := wiretest.Load(t)
	for _, row := range c.REST {
		types, ok := restTypes[row.Method+" "+row.Path]
		if !ok {
			t.Errorf("%s: no types for %s %s", row.Name, row.Method, row.Path)
			continue
		}
		if len(row.Request) > 0 {
			roundTrip(t, row.Name+" (request)", types.req, row.Request)
		}
		switch {
		case len(row.Response) == 0:
			if row.Status != 204 {
				t.Errorf("%s: no response body with status %d", row.Name, row.Status)
			}
		case row.Status >= 400:
			roundTrip(t, row.Name+" (error)", ErrorBody{}, row.Response)
		default:
			roundTrip(t, row.Name+" (response)", types.resp, row.Response)
		}
	}
}
