// The PUT of an attachment's bytes to the presigned URL the SDK's
// createUpload() answered, by XHR for its upload progress events (fetch has
// none). A plain upload, not Parley's protocol: the URL carries its own
// authorization, so no token goes with it, and it may point at another
// origin (an object store).

import { ParleyError } from '/sdk/index.js';

/**
 * @param {{upload_url: string, upload_method?: string}} up what createUpload() answered
 * @param {Blob} blob
 * @param {string} contentType
 * @param {(fraction: number) => void} onProgress
 * @returns {{promise: Promise<void>, abort: () => void}}
 */
export function putWithProgress(up, blob, contentType, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open(up.upload_method || 'PUT', up.upload_url);
    if (contentType) xhr.setRequestHeader('Content-Type', contentType);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve();
        return;
      }
      let code = '';
      let message = `Upload failed (HTTP ${xhr.status}).`;
      try {
        const e = JSON.parse(xhr.responseText).error;
        if (e) { code = e.code; message = e.message || message; }
      } catch { /* an object store's XML */ }
      reject(new ParleyError(xhr.status, code, message));
    });
    xhr.addEventListener('error', () => reject(new ParleyError(0, 'network', 'The upload was interrupted.')));
    xhr.addEventListener('abort', () => reject(new ParleyError(0, 'cancelled', 'The upload was cancelled.')));
    xhr.send(blob);
  });
  return { promise, abort: () => xhr.abort() };
}
