package api

import (
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/clock"
	"github.com/parleychat/parley/internal/messaging"
	"github.com/parleychat/parley/wire"
)

// getMessageTrace answers GET /api/v1/messages/{id}/trace: the sender's
// view of where its message stands on each recipient device. Anyone else
// gets not_found, as for an id that does not exist.
func (a *API) getMessageTrace(w http.ResponseWriter, r *http.Request) {
	t, err := a.msgs.Trace(r.Context(), session(r.Context()).UserID, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, traceBody(t))
}

func traceBody(t messaging.Trace) wire.MessageTrace {
	out := wire.MessageTrace{
		MessageID: t.Message.ID, ConversationID: t.Message.ConversationID,
		CommittedAt: clock.Millis(t.Message.CreatedAt), DeletedAt: optMillis(t.Message.DeletedAt),
		ExpiresAt: optMillis(t.Message.ExpiresAt), Recipients: make([]wire.TraceRecipient, len(t.Recipients)),
	}
	for i, rc := range t.Recipients {
		devs := make([]wire.TraceDevice, len(rc.Devices))
		for j, d := range rc.Devices {
			devs[j] = wire.TraceDevice{
				DeviceID: d.DeviceID, DeviceName: d.Name, State: d.State, QueuedSince: optMillis(d.QueuedSince),
				WrittenAt: optMillis(d.WrittenAt), AcknowledgedAt: optMillis(d.AcknowledgedAt), Online: d.Online,
			}
		}
		out.Recipients[i] = wire.TraceRecipient{
			UserID: rc.UserID, Status: rc.Status, DeliveredAt: optMillis(rc.DeliveredAt),
			ReadAt: optMillis(rc.ReadAt), Devices: devs,
		}
	}
	return out
}

// optMillis is t in Unix ms, 0 (left out of the body) for the zero time.
func optMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return clock.Millis(t)
}
