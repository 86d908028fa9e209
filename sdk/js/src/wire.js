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
/** @typedef {MessageFrame|DeliveryAckFrame|ReadReceiptFrame|HeartbeatFrame|TypingFrame|PresenceSubscribeFrame} ClientFrame */

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
 * @property {number} [forwarded] how many times it was forwarded on its way here; absent for one that was not. At FORWARDED_MANY_TIMES or more it is "forwarded many times"
 * @property {number} [expires_at] a disappearing message's: when it is deleted everywhere (Unix ms); a client drops it then too
 */
/**
 * The start of the message a reply answers, as the server copied it.
 * @typedef {object} Quote
 * @property {string} sender_id
 * @property {MessageType} message_type
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
 */
/**
 * A frame of a type this SDK does not know (a newer server's): kept whole
 * in `frame`, so a caller can still read it.
 * @typedef {object} UnknownFrame
 * @property {'unknown'} type
 * @property {string} wire_type the frame's own `type`
 * @property {Record<string, unknown>} frame
 */
/** @typedef {MessageAckFrame|IncomingMessageFrame|StatusFrame|PresenceFrame|IncomingTypingFrame|HeartbeatAckFrame|ErrorFrame|ProfileFrame} ServerFrame */

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
    case undefined:
    case '':
      throw invalid('type is required');
    default:
      throw invalid('unknown frame type');
  }
  return JSON.stringify(frame);
}

/**
 * The fields each server frame must carry, with their JSON types.
 * @type {Record<string, Record<string, 'string'|'number'>>}
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
};
/** @type {Record<string, Record<string, 'string'|'number'>>} */
const OPTIONAL = {
  message: { media_id: 'string', reply_to: 'string' },
  presence: { last_seen: 'number' },
  error: { client_message_id: 'string', retry_after_ms: 'number' },
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
  return /** @type {ServerFrame} */ (/** @type {unknown} */ (f));
}
