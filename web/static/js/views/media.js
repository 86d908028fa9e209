// Attachments in bubbles (image thumbnails, video posters with their
// duration, voice notes) and the voice-note recorder.

import { h, fill } from '../dom.js';
import { duration, bytes } from '../format.js';
import { icon } from '../icons.js';

const KIND_LABEL = { image: 'Photo', video: 'Video', audio: 'Voice message' };

/** The kind of message a file makes, or null when it is none of ours. */
export function kindOf(file) {
  const t = (file.type || '').split('/')[0];
  return t === 'image' || t === 'video' || t === 'audio' ? t : null;
}

/** Scales w×h to fit a bubble, keeping the ratio. */
function fit(w, hgt, max = 280) {
  if (!w || !hgt) return {};
  const s = Math.min(1, max / Math.max(w, hgt));
  return { width: String(Math.round(w * s)), height: String(Math.round(hgt * s)) };
}

/** The attachment part of a bubble for message m. */
export function attachment(client, m) {
  const box = h('div', { class: `attachment attachment-${m.message_type}`, 'data-kind': m.message_type });
  if (m.upload && m.upload.localUrl) {
    fill(box, local(m), progress(m));
    return box;
  }
  if (!m.media_id) {
    fill(box, unavailable(m.message_type));
    return box;
  }
  fill(box, h('div', { class: 'media-loading', 'aria-label': `Loading ${KIND_LABEL[m.message_type] || 'attachment'}` }));
  load(client, m, box, false);
  return box;
}

async function load(client, m, box, fresh) {
  let meta;
  try {
    meta = await client.media(m.media_id, { fresh });
  } catch {
    fill(box, unavailable(m.message_type));
    return;
  }
  // A short-lived URL that expired while the page was open is fetched again, once.
  const retry = fresh ? () => fill(box, unavailable(m.message_type)) : () => load(client, m, box, true);
  switch (m.message_type) {
    case 'image': fill(box, image(meta, retry)); break;
    case 'video': fill(box, video(meta, retry)); break;
    case 'audio': fill(box, audio(meta, retry)); break;
    default: fill(box, h('a', { href: meta.url, target: '_blank', rel: 'noopener' }, 'Open attachment'));
  }
}

function image(meta, retry) {
  const img = h('img', {
    class: 'media-thumb',
    src: meta.thumbnail_url || meta.url,
    alt: 'Photo',
    loading: 'lazy',
    decoding: 'async',
    ...fit(meta.width, meta.height),
    onerror: retry,
  });
  return h('button', {
    type: 'button',
    class: 'media-open',
    'aria-label': `Open photo${meta.width ? `, ${meta.width} by ${meta.height}` : ''}`,
    onclick: () => viewer(h('img', { src: meta.url, alt: 'Photo', class: 'viewer-media' })),
  }, img);
}

function video(meta, retry) {
  const poster = meta.thumbnail_url
    ? h('img', { class: 'media-thumb', src: meta.thumbnail_url, alt: '', ...fit(meta.width, meta.height), onerror: retry })
    : h('div', { class: 'video-blank' });
  const button = h('button', {
    type: 'button',
    class: 'media-open video-poster',
    'aria-label': `Play video${meta.duration_ms ? `, ${duration(meta.duration_ms)}` : ''}`,
  },
  poster,
  h('span', { class: 'play', 'aria-hidden': 'true' }, icon('play')),
  meta.duration_ms ? h('span', { class: 'duration-badge', 'data-testid': 'duration' }, icon('video'), duration(meta.duration_ms)) : null);
  button.addEventListener('click', () => {
    const v = h('video', { class: 'media-video', src: meta.url, poster: meta.thumbnail_url || null, controls: true, autoplay: true, playsinline: true });
    button.replaceWith(v);
    v.focus();
  });
  return button;
}

function audio(meta, retry) {
  return h('div', { class: 'voice' },
    icon('mic', 'voice-icon'),
    h('audio', { src: meta.url, controls: true, preload: 'metadata', onerror: retry, 'aria-label': 'Voice message' }),
    meta.duration_ms ? h('span', { class: 'voice-duration', 'data-testid': 'duration' }, duration(meta.duration_ms)) : null);
}

function unavailable(kind) {
  return h('div', { class: 'media-missing' }, icon(kind === 'video' ? 'video' : kind === 'audio' ? 'mic' : 'photo'), `${KIND_LABEL[kind] || 'Attachment'} unavailable`);
}

/** The sender's own copy while it uploads (and after: no need to download it again). */
function local(m) {
  const u = m.upload;
  switch (m.message_type) {
    case 'image': return h('img', { class: 'media-thumb local', src: u.localUrl, alt: 'Photo' });
    case 'video': return h('video', { class: 'media-video', src: u.localUrl, controls: true, preload: 'metadata' });
    default:
      return h('div', { class: 'voice' },
        icon('mic', 'voice-icon'),
        h('audio', { src: u.localUrl, controls: true, preload: 'metadata', 'aria-label': 'Voice message' }),
        u.duration_ms ? h('span', { class: 'voice-duration' }, duration(u.duration_ms)) : null);
  }
}

function progress(m) {
  const u = m.upload;
  if (u.done || m.failed) return null;
  const pct = Math.round((u.progress || 0) * 100);
  return h('div', { class: 'upload' },
    h('div', {
      class: 'upload-bar',
      role: 'progressbar',
      'aria-label': `Uploading ${bytes(u.size || 0)}`,
      'aria-valuemin': '0',
      'aria-valuemax': '100',
      'aria-valuenow': String(pct),
    }, h('div', { class: 'upload-fill', style: { width: `${pct}%` } })),
    h('span', { class: 'upload-text' }, `${pct}%`));
}

/** Updates a bubble's progress bar in place. */
export function updateProgress(box, m) {
  const bar = box.querySelector('.upload-bar');
  if (!bar) return;
  const pct = Math.round((m.upload.progress || 0) * 100);
  bar.setAttribute('aria-valuenow', String(pct));
  bar.firstChild.style.width = `${pct}%`;
  box.querySelector('.upload-text').textContent = `${pct}%`;
}

/** A full-size view of an image. */
function viewer(media) {
  const opener = document.activeElement;
  const close = h('button', { type: 'button', class: 'viewer-close', 'aria-label': 'Close' }, icon('close'));
  const dlg = h('dialog', { class: 'viewer', 'aria-label': 'Photo' }, close, media);
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('click', (e) => { if (e.target === dlg) dlg.close(); });
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  document.body.append(dlg);
  dlg.showModal();
  close.focus();
}

// Containers the media service accepts for audio first (Ogg Opus, AAC),
// then what Chromium's MediaRecorder can always make.
const AUDIO_TYPES = ['audio/ogg;codecs=opus', 'audio/mp4', 'audio/webm;codecs=opus', 'audio/webm'];

/** Records a voice note with MediaRecorder. */
export class Recorder {
  static supported() {
    return typeof MediaRecorder !== 'undefined' && !!navigator.mediaDevices?.getUserMedia;
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    const type = AUDIO_TYPES.find((t) => MediaRecorder.isTypeSupported(t));
    this.rec = new MediaRecorder(this.stream, type ? { mimeType: type } : undefined);
    this.chunks = [];
    this.rec.addEventListener('dataavailable', (e) => { if (e.data.size) this.chunks.push(e.data); });
    this.startedAt = performance.now();
    this.rec.start(250);
  }

  get elapsed() { return this.startedAt ? performance.now() - this.startedAt : 0; }

  /** Stops and returns {file, duration_ms}; cancel drops the recording. */
  stop(cancel = false) {
    return new Promise((resolve) => {
      const done = () => {
        for (const t of this.stream.getTracks()) t.stop();
        if (cancel) return resolve(null);
        const type = (this.rec.mimeType || 'audio/webm').split(';')[0];
        const ext = type.split('/')[1] || 'webm';
        const blob = new Blob(this.chunks, { type });
        resolve({ file: new File([blob], `voice.${ext}`, { type }), duration_ms: Math.round(this.elapsed) });
      };
      if (this.rec.state === 'inactive') done();
      else {
        this.rec.addEventListener('stop', done, { once: true });
        this.rec.stop();
      }
    });
  }
}
