// The WebSocket frame codec (PROTOCOL.md §3): one JSON object per text
// frame, discriminated by `type`. Client frames are checked before they
// leave, so a malformed frame fails at the call that built it rather than
// as an error frame later; server frames are checked on arrival, so the
// rest of the SDK can rely on the fields its types promise.

import { ParleyError } from './errors.js';

/** @typedef {'text'|'image'|'video'|'audio'|'document'|'location'} ClientMessageType */
/** @typedef {ClientMessageType|'system'} MessageType */
/** @typedef {'composing'|'paused'} TypingState */
/** @typedef {'online'|'offline'} PresenceStatus */
/** @typedef {'delivered'|'read'|'expired'} ReceiptStatus */

// ---- client → server ----

/**
 * @typedef {object} MessageFrame
 * @property {'message'} type
 * @property {string} client_message_id idempotency key, at most 128 bytes
 * @property {string} conversation_id
 * @property {ClientMessageType} message_type
 * @property {string} content opaque to the server
 * @property {string} [media_id]
 * @property {string} [reply_to] the message_id of a message of the same conversation this one answers
 * @property {string[]} [mentions] user ids of members of the conversation it names (at most 100)
 * @property {string} [forward_of] the message_id, of any conversation the sender can see, that this one forwards
 */
/**
 * @typedef {object} DeliveryAckFrame
 * @property {'delivery_ack'} type
 * @property {string[]} message_ids 1 to 1000
 */
/**
 * @typedef {object} ReadReceiptFrame
 * @property {'read_receipt'} type
 * @property {string} conversation_id
 * @property {string[]} message_ids 1 to 1000
 */
/**
 * @typedef {object} HeartbeatFrame
 * @property {'heartbeat'} type
 * @property {number} [timestamp]
 */
/**
 * @typedef {object} TypingFrame
 * @property {'typing'} type
 * @property {string} conversation_id
 * @property {TypingState} state
 */
/**
 * @typedef {object} PresenceSubscribeFrame
 * @property {'presence_subscribe'} type
 * @property {string[]} user_ids at most 1000
 */
/**
 * Sets this user's reaction to a message, replacing its earlier one; ""
 * removes it. Told back as a ReactionFrame, refused as an ErrorFrame with
 * refused_type 'reaction'.
 * @typedef {object} ReactionFrame
 * @property {'reaction'} type
 * @property {string} message_id
 * @property {string} emoji exactly one emoji, or "" to remove
 */
/**
 * Replaces the content of one's own text message, within EDIT_WINDOW_MS
 * of sending it.
 * @typedef {object} EditFrame
 * @property {'edit'} type
 * @property {string} message_id
 * @property {string} content not empty
 */
/** @typedef {'everyone'|'me'} DeleteFor */
/**
 * Deletes a message: for everyone (one's own within DELETE_WINDOW_MS, or
 * any as a group admin) or for this user's devices only.
 * @typedef {object} DeleteFrame
 * @property {'delete'} type
 * @property {string} message_id
 * @property {DeleteFor} for
 */
/** @typedef {MessageFrame|DeliveryAckFrame|ReadReceiptFrame|HeartbeatFrame|TypingFrame|PresenceSubscribeFrame|ReactionFrame|EditFrame|DeleteFrame} ClientFrame */

// ---- server → client ----

/**
 * @typedef {object} MessageAckFrame
 * @property {'message_ack'} type
 * @property {string} client_message_id
 * @property {string} message_id
 * @property {string} conversation_id
 * @property {number} sequence_number
 * @property {'sent'} status
 * @property {number} timestamp the message's created_at
 */
/**
 * A stored message as history returns it (a `message` frame without `type`).
 * @typedef {object} Message
 * @property {string} message_id
 * @property {string} conversation_id
 * @property {string} sender_id
 * @property {number} sequence_number
 * @property {MessageType} message_type
 * @property {string} content
 * @property {string} [media_id]
 * @property {number} created_at
 * @property {string} [reply_to] a reply's: the message_id it answers
 * @property {Quote} [quote] a reply's: what it answers, as it was when the reply was sent
 * @property {string[]} [mentions] the members it names, each once
 * @property {number} [edited_at] when its sender last edited it (Unix ms)
 * @property {boolean} [deleted] a tombstone: deleted for everyone; content is "", no media, quote or mentions
 * @property {number} [forwarded] how many times it was forwarded on its way here; absent for one that was not. At FORWARDED_MANY_TIMES or more it is "forwarded many times"
 * @property {number} [expires_at] a disappearing message's: when it is deleted everywhere (Unix ms); a client drops it then too
 * @property {ReactionCount[]} [reactions] history only: the members' reactions, most used first
 */
/**
 * How many members reacted to a message with one emoji, and who.
 * @typedef {object} ReactionCount
 * @property {string} emoji
 * @property {number} count
 * @property {string[]} user_ids
 */
/**
 * The start of the message a reply answers, as the server copied it.
 * @typedef {object} Quote
 * @property {string} sender_id
 * @property {MessageType|'deleted'} message_type 'deleted' (content "") once the quoted message was deleted for everyone
 * @property {string} content its first 200 bytes at most (cut on a UTF-8 boundary); "" for media without caption
 */
/** @typedef {{type: 'message'} & Message} IncomingMessageFrame */
/**
 * @typedef {object} StatusFrame
 * @property {'status'} type
 * @property {string} message_id
 * @property {string} conversation_id
 * @property {string} user_id the recipient
 * @property {ReceiptStatus} status
 * @property {number} timestamp
 */
/**
 * @typedef {object} PresenceFrame
 * @property {'presence'} type
 * @property {string} user_id
 * @property {PresenceStatus} status
 * @property {number} [last_seen] absent when unknown or hidden
 */
/**
 * A user's profile changed (one's own, from another device, or a
 * contact's): fetch it again with user(user_id), which answers what its
 * privacy settings let one see.
 * @typedef {object} ProfileFrame
 * @property {'profile'} type
 * @property {string} user_id
 * @property {string} display_name
 */
/**
 * @typedef {object} IncomingTypingFrame
 * @property {'typing'} type
 * @property {string} conversation_id
 * @property {string} user_id
 * @property {TypingState} state
 */
/**
 * @typedef {object} HeartbeatAckFrame
 * @property {'heartbeat_ack'} type
 * @property {number} server_time
 */
/**
 * @typedef {object} ErrorFrame
 * @property {'error'} type
 * @property {string} code
 * @property {string} message
 * @property {string} [client_message_id] when the refused frame was a message
 * @property {number} [retry_after_ms] on a rate_limited that knows its wait
 * @property {string} [message_id] when the refused frame was a reaction, edit or delete: its message
 * @property {'reaction'|'edit'|'delete'} [refused_type] which of the three was refused
 */
/**
 * A member set, changed or (emoji "") removed its reaction to a message;
 * this user's own devices get it too.
 * @typedef {object} IncomingReactionFrame
 * @property {'reaction'} type
 * @property {string} conversation_id
 * @property {string} message_id
 * @property {string} user_id who reacted
 * @property {string} emoji "" when the reaction was removed
 * @property {number} timestamp
 */
/**
 * A message's sender edited it: its content is now this.
 * @typedef {object} MessageEditedFrame
 * @property {'message_edited'} type
 * @property {string} conversation_id
 * @property {string} message_id
 * @property {string} sender_id
 * @property {string} content
 * @property {number} edited_at
 */
/**
 * A message was deleted: for 'everyone' it is a tombstone now (drop its
 * content and media); for 'me' this user's devices hide it.
 * @typedef {object} MessageDeletedFrame
 * @property {'message_deleted'} type
 * @property {string} conversation_id
 * @property {string} message_id
 * @property {DeleteFor} for
 * @property {string} deleted_by
 * @property {number} timestamp
 */
/**
 * A frame of a type this SDK does not know (a newer server's): kept whole
 * in `frame`, so a caller can still read it.
 * @typedef {object} UnknownFrame
 * @property {'unknown'} type
 * @property {string} wire_type the frame's own `type`
 * @property {Record<string, unknown>} frame
 */
/** @typedef {MessageAckFrame|IncomingMessageFrame|StatusFrame|PresenceFrame|IncomingTypingFrame|HeartbeatAckFrame|ErrorFrame|ProfileFrame|IncomingReactionFrame|MessageEditedFrame|MessageDeletedFrame} ServerFrame */

/** The message types a client may send (`system` is the server's own). */
export const CLIENT_MESSAGE_TYPES = Object.freeze(['text', 'image', 'video', 'audio', 'document', 'location']);
/** The server's limit on ids in one `message_ids` or `user_ids`. */
export const MAX_IDS = 1000;
/** The server's limit on any id a client sends, client_message_id included. */
export const MAX_ID_BYTES = 128;
/**
 * The hop count from which a message is "forwarded many times": it can then
 * be forwarded to one chat at a time (a second forward within 10 s is
 * refused with rate_limited).
 */
export const FORWARDED_MANY_TIMES = 5;

/** A conversation's disappearing-message settings, in seconds: off, 24 hours, 7 days, 90 days. */
export const DISAPPEARING_OPTIONS = Object.freeze([0, 86400, 604800, 7776000]);

/** The server's limit on the members one message mentions (a group's size). */
export const MAX_MENTIONS = 100;
/** The server's limit on a reaction's one emoji, in bytes. */
export const MAX_EMOJI_BYTES = 64;
/** How long after sending a message its sender may edit it (wire.EditWindow). */
export const EDIT_WINDOW_MS = 15 * 60 * 1000;
/** How long after sending a message its sender may delete it for everyone. */
export const DELETE_WINDOW_MS = 48 * 60 * 60 * 1000;

const utf8 = new TextEncoder();

/** @param {string} msg */
const invalid = (msg) => new ParleyError(0, 'invalid', msg);

/**
 * @param {Record<string, unknown>} f
 * @param {string} field
 */
function checkId(f, field) {
  const v = f[field];
  if (typeof v !== 'string' || v === '') throw invalid(`${field} is required`);
  if (utf8.encode(v).length > MAX_ID_BYTES) throw invalid(`${field} is longer than ${MAX_ID_BYTES} bytes`);
}

/**
 * @param {Record<string, unknown>} f
 * @param {string} field
 * @param {number} min
 */
function checkIds(f, field, min) {
  const v = f[field];
  if (!Array.isArray(v)) throw invalid(`${field} is required`);
  if (v.length < min) throw invalid(`${field} must list at least ${min} id`);
  if (v.length > MAX_IDS) throw invalid(`${field} lists more than ${MAX_IDS} ids`);
  for (const id of v) {
    if (typeof id !== 'string' || id === '' || utf8.encode(id).length > MAX_ID_BYTES) {
      throw invalid(`${field} holds a bad id`);
    }
  }
}

/**
 * Checks a client frame as the server would (PROTOCOL.md §3) and encodes it.
 * Fields the SDK does not know are sent as given: a newer server may read them.
 * @param {ClientFrame} frame
 * @returns {string} the JSON text to send
 * @throws {ParleyError} code `invalid` when the server would refuse the frame
 */
export function encodeClientFrame(frame) {
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) throw invalid('a frame is a JSON object');
  const f = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (frame));
  switch (f.type) {
    case 'message':
      checkId(f, 'client_message_id');
      checkId(f, 'conversation_id');
      if (!CLIENT_MESSAGE_TYPES.includes(/** @type {string} */ (f.message_type))) {
        throw invalid(`message_type must be one of ${CLIENT_MESSAGE_TYPES.join(', ')}`);
      }
      if (typeof f.content !== 'string') throw invalid('content is required and is a string');
      if (f.media_id !== undefined) checkId(f, 'media_id');
      if (f.reply_to !== undefined) checkId(f, 'reply_to');
      if (f.forward_of !== undefined) checkId(f, 'forward_of');
      if (f.mentions !== undefined) {
        checkIds(f, 'mentions', 0);
        if (/** @type {unknown[]} */ (f.mentions).length > MAX_MENTIONS) throw invalid(`mentions names more than ${MAX_MENTIONS} users`);
      }
      break;
    case 'read_receipt':
      checkId(f, 'conversation_id');
      checkIds(f, 'message_ids', 1);
      break;
    case 'delivery_ack':
      checkIds(f, 'message_ids', 1);
      break;
    case 'heartbeat':
      if (f.timestamp !== undefined && !Number.isInteger(f.timestamp)) throw invalid('timestamp is an integer');
      break;
    case 'typing':
      checkId(f, 'conversation_id');
      if (f.state !== 'composing' && f.state !== 'paused') throw invalid('state must be "composing" or "paused"');
      break;
    case 'presence_subscribe':
      checkIds(f, 'user_ids', 0);
      break;
    case 'reaction':
      checkId(f, 'message_id');
      if (typeof f.emoji !== 'string') throw invalid('emoji is required and is a string ("" removes)');
      if (f.emoji !== '' && !isEmoji(f.emoji)) throw invalid('emoji must be exactly one emoji');
      break;
    case 'edit':
      checkId(f, 'message_id');
      if (typeof f.content !== 'string' || f.content === '') throw invalid('content is required and is a non-empty string');
      break;
    case 'delete':
      checkId(f, 'message_id');
      if (f.for !== 'everyone' && f.for !== 'me') throw invalid('for must be "everyone" or "me"');
      break;
    case undefined:
    case '':
      throw invalid('type is required');
    default:
      throw invalid('unknown frame type');
  }
  return JSON.stringify(frame);
}

/** @typedef {'string'|'number'|'boolean'} FieldType */
/**
 * The fields each server frame must carry, with their JSON types.
 * @type {Record<string, Record<string, FieldType>>}
 */
const REQUIRED = {
  message_ack: { client_message_id: 'string', message_id: 'string', conversation_id: 'string', sequence_number: 'number', status: 'string', timestamp: 'number' },
  message: { message_id: 'string', conversation_id: 'string', sender_id: 'string', sequence_number: 'number', message_type: 'string', content: 'string', created_at: 'number' },
  status: { message_id: 'string', conversation_id: 'string', user_id: 'string', status: 'string', timestamp: 'number' },
  presence: { user_id: 'string', status: 'string' },
  typing: { conversation_id: 'string', user_id: 'string', state: 'string' },
  heartbeat_ack: { server_time: 'number' },
  error: { code: 'string', message: 'string' },
  profile: { user_id: 'string', display_name: 'string' },
  reaction: { conversation_id: 'string', message_id: 'string', user_id: 'string', emoji: 'string', timestamp: 'number' },
  message_edited: { conversation_id: 'string', message_id: 'string', sender_id: 'string', content: 'string', edited_at: 'number' },
  message_deleted: { conversation_id: 'string', message_id: 'string', for: 'string', deleted_by: 'string', timestamp: 'number' },
};
/** @type {Record<string, Record<string, FieldType>>} */
const OPTIONAL = {
  message: { media_id: 'string', reply_to: 'string', edited_at: 'number', deleted: 'boolean', forwarded: 'number', expires_at: 'number' },
  presence: { last_seen: 'number' },
  error: { client_message_id: 'string', retry_after_ms: 'number', message_id: 'string', refused_type: 'string' },
};

/**
 * A reply's quote: an object with the three fields of a Quote.
 * @param {unknown} q
 */
function checkQuote(q) {
  if (q === null || typeof q !== 'object' || Array.isArray(q)) throw invalid('message frame: quote is not an object');
  const o = /** @type {Record<string, unknown>} */ (q);
  for (const field of ['sender_id', 'message_type', 'content']) {
    if (typeof o[field] !== 'string') throw invalid(`message frame: quote.${field} is missing or not a string`);
  }
}

/**
 * A history message's reactions: a list of {emoji, count, user_ids}.
 * @param {unknown} rs
 */
function checkReactions(rs) {
  if (!Array.isArray(rs)) throw invalid('message frame: reactions is not a list');
  for (const r of rs) {
    const o = /** @type {Record<string, unknown>} */ (r);
    if (o === null || typeof o !== 'object' || typeof o.emoji !== 'string' || typeof o.count !== 'number'
        || !Array.isArray(o.user_ids) || !o.user_ids.every((id) => typeof id === 'string')) {
      throw invalid('message frame: a reaction is not {emoji, count, user_ids}');
    }
  }
}

/**
 * Whether s is exactly one emoji, as the server's wire.IsEmoji judges it
 * (Unicode TS #51 sequences, pictographs told by block): a pictograph with
 * optional presentation selector and skin tone, such elements joined by
 * ZWJ, a flag (two regional indicators or a tag sequence), or a keycap.
 * The server stays the judge; this only fails a bad reaction early.
 * @param {string} s
 * @returns {boolean}
 */
export function isEmoji(s) {
  if (s === '' || utf8.encode(s).length > MAX_EMOJI_BYTES) return false;
  const rs = Array.from(s, (c) => /** @type {number} */ (c.codePointAt(0)));
  if (rs.some((r) => r >= 0xD800 && r <= 0xDFFF)) return false; // a lone surrogate is not UTF-8
  const regional = (/** @type {number} */ r) => r >= 0x1F1E6 && r <= 0x1F1FF;
  if (rs.length === 2 && regional(rs[0]) && regional(rs[1])) return true;
  const k = rs[0];
  if (rs.length >= 2 && (k === 0x23 || k === 0x2A || (k >= 0x30 && k <= 0x39))) {
    const rest = rs[1] === 0xFE0F ? rs.slice(2) : rs.slice(1);
    return rest.length === 1 && rest[0] === 0x20E3;
  }
  let i = 0;
  for (;;) {
    const n = emojiElement(rs, i);
    if (n === 0) return false;
    i += n;
    if (i === rs.length) return true;
    if (rs[i] !== 0x200D || i + 1 === rs.length) return emojiTags(rs.slice(i));
    i++;
  }
}

/**
 * @param {number[]} rs
 * @param {number} i
 * @returns {number} how many code points the element at i takes (0: none)
 */
function emojiElement(rs, i) {
  if (i >= rs.length || !isPictograph(rs[i])) return 0;
  let n = 1;
  if (i + n < rs.length && rs[i + n] === 0xFE0F) n++;
  if (i + n < rs.length && rs[i + n] >= 0x1F3FB && rs[i + n] <= 0x1F3FF) n++;
  return n;
}

/** @param {number[]} rs a subdivision flag's tail: tag characters ending in CANCEL TAG */
function emojiTags(rs) {
  if (rs.length < 2 || rs[rs.length - 1] !== 0xE007F) return false;
  return rs.slice(0, -1).every((r) => r >= 0xE0020 && r <= 0xE007E);
}

/** @param {number} r */
function isPictograph(r) {
  if (r >= 0x1F000 && r <= 0x1FAFF) return !(r >= 0x1F3FB && r <= 0x1F3FF) && !(r >= 0x1F1E6 && r <= 0x1F1FF);
  if ((r >= 0x2600 && r <= 0x27BF) || (r >= 0x2300 && r <= 0x23FF) || (r >= 0x2B00 && r <= 0x2BFF)
      || (r >= 0x2190 && r <= 0x21FF) || (r >= 0x25A0 && r <= 0x25FF) || (r >= 0x2934 && r <= 0x2935)) return true;
  return [0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x3030, 0x303D, 0x3297, 0x3299].includes(r);
}

/**
 * Parses and checks one server frame. Unknown fields are kept (the frame
 * is returned as parsed, so it re-encodes to itself); a frame of an
 * unknown type comes back as an UnknownFrame rather than an error, since a
 * newer server may add types.
 * @param {string} text the WebSocket text frame
 * @returns {ServerFrame|UnknownFrame}
 * @throws {ParleyError} code `invalid` for text that is not a frame, or a known frame missing a field
 */
export function decodeServerFrame(text) {
  /** @type {unknown} */
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    throw invalid('a server frame is not JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw invalid('a server frame is not a JSON object');
  const f = /** @type {Record<string, unknown>} */ (v);
  if (typeof f.type !== 'string') throw invalid('a server frame has no type');
  const required = REQUIRED[f.type];
  if (!required) return { type: 'unknown', wire_type: f.type, frame: f };
  for (const [field, t] of Object.entries(required)) {
    if (typeof f[field] !== t) throw invalid(`${f.type} frame: ${field} is missing or not a ${t}`);
  }
  for (const [field, t] of Object.entries(OPTIONAL[f.type] || {})) {
    if (f[field] !== undefined && typeof f[field] !== t) throw invalid(`${f.type} frame: ${field} is not a ${t}`);
  }
  if (f.type === 'message' && f.quote !== undefined) checkQuote(f.quote);
  if (f.type === 'message' && f.mentions !== undefined &&
      !(Array.isArray(f.mentions) && f.mentions.every((id) => typeof id === 'string'))) {
    throw invalid('message frame: mentions is not a list of ids');
  }
  if (f.type === 'message' && f.reactions !== undefined) checkReactions(f.reactions);
  return /** @type {ServerFrame} */ (/** @type {unknown} */ (f));
}
