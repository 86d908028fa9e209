package messaging

import (
	"testing"
	"time"

	"github.com/parleychat/parley/wire"
)

// TestTraceDevice: what a device's facts say about one message, case by
// case (the store's side is tested through the API in internal/app).
func TestTraceDevice(t *testing.T) {
	c := time.UnixMilli(1_790_000_000_000) // committed
	at := func(s int) time.Time { return c.Add(time.Duration(s) * time.Second) }
	m := Message{Seq: 5, CreatedAt: c}
	cases := []struct {
		name                     string
		d                        DeviceFacts
		visible, online, expired bool
		want                     TraceDevice
	}{
		{name: "never connected", d: DeviceFacts{CreatedAt: at(-60)}, visible: true,
			want: TraceDevice{State: wire.TraceQueued, QueuedSince: c}},
		{name: "left before the commit", d: DeviceFacts{ConnectedAt: at(-60), DisconnectedAt: at(-30)}, visible: true,
			want: TraceDevice{State: wire.TraceQueued, QueuedSince: c}},
		{name: "open at the commit", d: DeviceFacts{ConnectedAt: at(-60)}, visible: true, online: true,
			want: TraceDevice{State: wire.TraceWritten, WrittenAt: c, Online: true}},
		{name: "open at the commit, left since", d: DeviceFacts{ConnectedAt: at(-60), DisconnectedAt: at(30)}, visible: true,
			want: TraceDevice{State: wire.TraceWritten, WrittenAt: c}},
		{name: "connected after: the sync", d: DeviceFacts{ConnectedAt: at(10)}, visible: true, online: true,
			want: TraceDevice{State: wire.TraceWritten, WrittenAt: at(10), Online: true}},
		{name: "its node died: not open, not written", d: DeviceFacts{ConnectedAt: at(-60)}, visible: true, online: false,
			want: TraceDevice{State: wire.TraceQueued, QueuedSince: c}},
		{name: "hidden online status: queued, offline", d: DeviceFacts{ConnectedAt: at(-60)}, visible: false, online: true,
			want: TraceDevice{State: wire.TraceQueued, QueuedSince: c}},
		{name: "acknowledged", d: DeviceFacts{ConnectedAt: at(10), Cursor: 7, AckedAt: at(12)}, visible: true, online: true,
			want: TraceDevice{State: wire.TraceAcknowledged, WrittenAt: at(10), AcknowledgedAt: at(12), Online: true}},
		{name: "acknowledged, hidden: no connection facts", d: DeviceFacts{ConnectedAt: at(10), Cursor: 7, AckedAt: at(12)}, online: true,
			want: TraceDevice{State: wire.TraceAcknowledged, AcknowledgedAt: at(12)}},
		{name: "cursor made past it at login: no time", d: DeviceFacts{CreatedAt: at(60), Cursor: 5}, visible: true,
			want: TraceDevice{State: wire.TraceAcknowledged}},
		{name: "signed in after the commit", d: DeviceFacts{CreatedAt: at(60), Cursor: 4}, visible: true,
			want: TraceDevice{State: wire.TraceQueued, QueuedSince: at(60)}},
		{name: "disappeared first", d: DeviceFacts{ConnectedAt: at(10)}, visible: true, expired: true,
			want: TraceDevice{State: wire.TraceExpired}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := traceDevice(m, tc.d, tc.visible, tc.online, tc.expired); got != tc.want {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
