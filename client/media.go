package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/parleychat/parley/wire"
)

// Upload is a new upload: PUT the bytes to UploadURL, then complete it.
// Media is a media item's metadata; its URLs are short-lived and present
// only once Status is "ready".
type (
	Upload = wire.Upload
	Media  = wire.Media
)

// CreateMedia starts an upload of size bytes of contentType.
func (c *Client) CreateMedia(ctx context.Context, contentType string, size int64) (Upload, error) {
	var u Upload
	err := c.do(ctx, http.MethodPost, "/api/v1/media", wire.CreateMediaRequest{ContentType: contentType, Size: &size}, &u)
	return u, err
}

// Upload sends size bytes from r to an upload URL. The URL carries its
// own authorization, so no token is sent: it may point at object storage.
func (c *Client) Upload(ctx context.Context, u Upload, r io.Reader, size int64) error {
	method := u.UploadMethod
	if method == "" {
		method = http.MethodPut
	}
	req, err := http.NewRequestWithContext(ctx, method, c.resolve(u.UploadURL), r)
	if err != nil {
		return fmt.Errorf("parley: %w", err)
	}
	req.ContentLength = size
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("parley: upload: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 {
		return errorFrom(resp.StatusCode, data)
	}
	return nil
}

// CompleteMedia asks the server to check and process an upload; it
// answers once the media is ready (or refused).
func (c *Client) CompleteMedia(ctx context.Context, mediaID string) (Media, error) {
	var m Media
	err := c.do(ctx, http.MethodPost, "/api/v1/media/"+url.PathEscape(mediaID)+"/complete", nil, &m)
	return m, err
}

// GetMedia returns a media item's metadata with fresh download URLs.
func (c *Client) GetMedia(ctx context.Context, mediaID string) (Media, error) {
	var m Media
	err := c.do(ctx, http.MethodGet, "/api/v1/media/"+url.PathEscape(mediaID), nil, &m)
	return m, err
}

// Download fetches a media URL (url, thumbnail_url or compressed_url)
// into memory, at most limit bytes.
func (c *Client) Download(ctx context.Context, mediaURL string, limit int64) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.resolve(mediaURL), nil)
	if err != nil {
		return nil, "", fmt.Errorf("parley: %w", err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("parley: download: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, "", fmt.Errorf("parley: download: %w", err)
	}
	if resp.StatusCode >= 300 {
		return nil, "", errorFrom(resp.StatusCode, data)
	}
	return data, resp.Header.Get("Content-Type"), nil
}

// resolve makes a server-relative URL absolute on the client's server.
func (c *Client) resolve(u string) string {
	if len(u) > 0 && u[0] == '/' {
		return c.BaseURL + u
	}
	return u
}

// errorFrom turns an error answer into *Error. Object storage answers in
// XML, not Parley's JSON: its status still says what happened.
func errorFrom(status int, body []byte) error {
	var eb wire.ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Code != "" {
		return &Error{Status: status, Code: string(eb.Error.Code), Message: eb.Error.Message}
	}
	return &Error{Status: status, Code: codeForStatus(status), Message: http.StatusText(status)}
}
