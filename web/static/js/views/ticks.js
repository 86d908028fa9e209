// Ticks: a clock while waiting to be sent, ✓ sent (stored by the server), ✓✓ delivered
// (every recipient's device has it), blue ✓✓ read (every recipient read it).

import { h } from '../dom.js';
import { icon } from '../icons.js';

const LABEL = {
  failed: 'Not sent',
  pending: 'Sending',
  sent: 'Sent',
  delivered: 'Delivered',
  read: 'Read',
};

const ICON = {
  failed: 'alert',
  pending: 'clock',
  sent: 'tick',
  delivered: 'ticks',
  read: 'ticks',
};

export function tickLabel(status) { return LABEL[status] || ''; }

/** The tick as a span; null when the state is unknown. */
export function tickMark(status, small = false) {
  if (!status) return null;
  return h('span', {
    class: `ticks ticks-${status}${small ? ' ticks-small' : ''}`,
    role: 'img',
    'aria-label': LABEL[status],
    title: LABEL[status],
    'data-status': status,
  }, icon(ICON[status]));
}
