// Formatting shared by the views: times, durations, sizes, avatars, and the
// text of system messages.

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const dateFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const longFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function startOfDay(ms) {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

const DAY = 86_400_000;

/** "14:02" today, "Tue" this week, else a date: the conversation list's clock. */
export function shortTime(ms) {
  if (!ms) return '';
  const today = startOfDay(Date.now());
  if (ms >= today) return timeFmt.format(ms);
  if (ms >= today - 6 * DAY) return dayFmt.format(ms);
  return dateFmt.format(ms);
}

export function clockTime(ms) { return ms ? timeFmt.format(ms) : ''; }

export function fullTime(ms) { return ms ? longFmt.format(ms) : ''; }

/** "last seen today at 14:02", "last seen yesterday at 09:10", "last seen 3 Mar 2026 at …". */
export function lastSeen(ms) {
  if (!ms) return 'offline';
  const today = startOfDay(Date.now());
  if (ms >= today) return `last seen today at ${timeFmt.format(ms)}`;
  if (ms >= today - DAY) return `last seen yesterday at ${timeFmt.format(ms)}`;
  return `last seen ${dateFmt.format(ms)} at ${timeFmt.format(ms)}`;
}

/** A day separator's label. */
export function dayLabel(ms) {
  const today = startOfDay(Date.now());
  if (ms >= today) return 'Today';
  if (ms >= today - DAY) return 'Yesterday';
  return dateFmt.format(ms);
}

export function sameDay(a, b) { return startOfDay(a) === startOfDay(b); }

/** 65_000 → "1:05". */
export function duration(ms) {
  if (ms == null || !Number.isFinite(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/**
 * The length of s in bytes of UTF-8, as the server counts message content
 * (a string's length counts UTF-16 code units: "é" is 1 of those, 2 bytes;
 * an emoji 2, 4 bytes). Counted, not encoded: no copy of a long paste.
 */
export function utf8Length(s) {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4; // a surrogate pair: one code point past U+FFFF
      i++;
    } else n += 3; // the rest of the BMP, and a lone surrogate (sent as U+FFFD)
  }
  return n;
}

/** 65536 → "65,536". */
export function count(n) { return n.toLocaleString('en'); }

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

export function initials(name) {
  const parts = String(name || '?').trim().split(/\s+/).filter(Boolean);
  const s = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || '?').slice(0, 2);
  return s.toUpperCase();
}

/** A stable hue per id, for avatars and group sender names. */
export function hue(id) {
  let h = 0;
  for (const c of String(id)) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return h % 360;
}

/** Parses a system message's JSON content; null when it is not one. */
export function parseSystem(content) {
  try {
    const v = JSON.parse(content);
    return v && typeof v.event === 'string' ? v : null;
  } catch {
    return null;
  }
}

/**
 * "Alice added Bob", from a system message's content.
 * @param {string} content
 * @param {(id: string) => string} name a user's name ("You" for the caller)
 */
export function systemText(content, name) {
  const e = parseSystem(content);
  if (!e) return 'Group updated';
  const actor = name(e.actor_id);
  const user = e.user_id ? name(e.user_id) : '';
  switch (e.event) {
    case 'member_added': return `${actor} added ${user}`;
    case 'member_removed': return `${actor} removed ${user}`;
    case 'member_left': return `${user || actor} left`;
    case 'renamed': return e.name ? `${actor} renamed the group to “${e.name}”` : `${actor} removed the group name`;
    case 'role_changed':
      return e.role === 'admin' ? `${actor} made ${user} an admin` : `${actor} made ${user} a member`;
    case 'group_created': return `${actor} created the group`;
    case 'pinned': return `${actor} pinned a message`;
    case 'unpinned': return `${actor} unpinned a message`;
    case 'avatar_changed': return e.avatar === 'removed' ? `${actor} removed the group photo` : `${actor} changed the group photo`;
    case 'description_changed': return e.description ? `${actor} changed the group description` : `${actor} removed the group description`;
    case 'settings_changed':
      if (e.only_admins_send !== undefined) {
        return e.only_admins_send ? `${actor} allowed only admins to send messages` : `${actor} allowed all members to send messages`;
      }
      if (e.only_admins_edit_info !== undefined) {
        return e.only_admins_edit_info ? `${actor} allowed only admins to edit the group info` : `${actor} allowed all members to edit the group info`;
      }
      return `${actor} changed the group settings`;
    case 'member_joined': return `${user || actor} joined using an invite link`;
    case 'disappearing_changed':
      return e.seconds ? `${actor} turned on disappearing messages: new messages will disappear ${disappearLabel(e.seconds)} after they are sent`
        : `${actor} turned off disappearing messages`;
    case 'account_deleted': return user === 'Deleted account' ? 'An account was deleted' : `${user} deleted their account`;
    default: return 'Group updated';
  }
}

/** The disappearing-message settings a chat offers, in seconds (0: off). */
export const DISAPPEAR_OPTIONS = [
  { seconds: 0, label: 'Off' },
  { seconds: 86400, label: '24 hours' },
  { seconds: 604800, label: '7 days' },
  { seconds: 7776000, label: '90 days' },
];

/** A disappearing-message setting in words ("24 hours"). */
export function disappearLabel(seconds) {
  const o = DISAPPEAR_OPTIONS.find((x) => x.seconds === seconds);
  return o ? o.label : `${Math.round(seconds / 3600)} hours`;
}

/** A one-line preview of a message for the conversation list. */
export function preview(m, name) {
  if (!m) return '';
  if (m.deleted) return 'This message was deleted';
  switch (m.message_type) {
    case 'system': return systemText(m.content, name);
    case 'image': return m.content || 'Photo';
    case 'video': return m.content || 'Video';
    case 'audio': return 'Voice message';
    case 'document': return 'Document';
    case 'location': return 'Location';
    default: return m.content;
  }
}
