// HTTP side of the protocol: JSON calls under /api/v1 with the bearer token,
// and the presigned media upload (XHR, for its upload progress events).

/** An error answer: the HTTP status and the wire code ({"error": {code, message}}). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || '';
  }
}

export class Api {
  /**
   * @param {() => string|null} token the current session token
   * @param {() => void} onUnauthorized called when an authenticated call answers 401
   */
  constructor(token, onUnauthorized) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  async request(method, path, body) {
    const headers = { Accept: 'application/json' };
    const tok = this.token();
    if (tok) headers.Authorization = `Bearer ${tok}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(`/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ApiError(0, 'network', 'The server cannot be reached.');
    }
    if (res.status === 204) return null;
    let data = null;
    const text = await res.text();
    if (text) {
      try { data = JSON.parse(text); } catch { /* not JSON: a proxy's page */ }
    }
    if (!res.ok) {
      const e = data && data.error ? data.error : {};
      if (res.status === 401 && tok) this.onUnauthorized();
      throw new ApiError(res.status, e.code, e.message);
    }
    return data;
  }

  get(path) { return this.request('GET', path); }
  post(path, body) { return this.request('POST', path, body ?? {}); }
  patch(path, body) { return this.request('PATCH', path, body); }
  del(path) { return this.request('DELETE', path); }

  register(username, password, displayName) {
    return this.post('/users', { username, password, display_name: displayName });
  }
  login(username, password) { return this.post('/sessions', { username, password }); }
  // logout ends this session on the server: its token stops working and
  // its other open connections (other tabs) close.
  logout() { return this.del('/sessions/current'); }
  /** What the server can process now, and its limits (GET /server). */
  server() { return this.get('/server'); }
  user(id) { return this.get(`/users/${encodeURIComponent(id)}`); }
  presence(id) { return this.get(`/users/${encodeURIComponent(id)}/presence`); }
  conversations() { return this.get('/conversations'); }
  conversation(id) { return this.get(`/conversations/${encodeURIComponent(id)}`); }
  createDirect(otherId) { return this.post('/conversations', { type: '1:1', participants: [otherId] }); }
  createGroup(name, ids) { return this.post('/conversations', { type: 'group', name, participants: ids }); }
  addMember(convId, userId) {
    return this.post(`/conversations/${encodeURIComponent(convId)}/participants`, { user_id: userId });
  }
  removeMember(convId, userId) {
    return this.del(`/conversations/${encodeURIComponent(convId)}/participants/${encodeURIComponent(userId)}`);
  }
  /** @param {{before_seq?: number, after_seq?: number, limit?: number}} q */
  messages(convId, q = {}) {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (v != null) qs.set(k, String(v));
    const s = qs.toString();
    return this.get(`/conversations/${encodeURIComponent(convId)}/messages${s ? `?${s}` : ''}`);
  }
  messageStatus(id) { return this.get(`/messages/${encodeURIComponent(id)}/status`); }
  createMedia(contentType, size) { return this.post('/media', { content_type: contentType, size }); }
  completeMedia(id) { return this.post(`/media/${encodeURIComponent(id)}/complete`); }
  media(id) { return this.get(`/media/${encodeURIComponent(id)}`); }
}

/**
 * PUTs blob to a presigned URL with upload progress. The URL carries its own
 * authorization, so no token is sent: it may point at another origin.
 * @param {string} url
 * @param {string} method
 * @param {Blob} blob
 * @param {string} contentType
 * @param {(fraction: number) => void} onProgress
 * @returns {{promise: Promise<void>, abort: () => void}}
 */
export function upload(url, method, blob, contentType, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open(method || 'PUT', url);
    if (contentType) xhr.setRequestHeader('Content-Type', contentType);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
      } else {
        let code = '';
        let message = `Upload failed (HTTP ${xhr.status}).`;
        try {
          const e = JSON.parse(xhr.responseText).error;
          if (e) { code = e.code; message = e.message || message; }
        } catch { /* not JSON */ }
        reject(new ApiError(xhr.status, code, message));
      }
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'The upload was interrupted.')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.')));
    xhr.send(blob);
  });
  return { promise, abort: () => xhr.abort() };
}
