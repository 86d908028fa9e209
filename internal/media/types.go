package media

import (
	"bytes"
	"mime"
	"strings"
	"unicode/utf8"
)

// family is what a file's first bytes say it is. Several declared types
// share a family (an .m4a and an .mp4 are both ISO-BMFF); the probe that
// follows decides whether the streams inside fit the kind.
type family string

const (
	famUnknown family = ""
	famJPEG    family = "JPEG"
	famPNG     family = "PNG"
	famGIF     family = "GIF"
	famWebP    family = "WebP"
	famISOBMFF family = "MP4/QuickTime"
	famEBML    family = "WebM/Matroska"
	famOgg     family = "Ogg"
	famWAV     family = "WAV"
	famMP3     family = "MPEG audio"
	famADTS    family = "AAC (ADTS)"
	famPDF     family = "PDF"
	famZIP     family = "ZIP"
	famOLE     family = "OLE (legacy Office)"
	famText    family = "text"
)

type typeRule struct {
	kind     Kind
	families []family
}

// allowed is every content type an upload may declare, with the families
// its bytes may have. Anything else is refused at creation.
var allowed = map[string]typeRule{
	"image/jpeg": {KindImage, []family{famJPEG}},
	"image/png":  {KindImage, []family{famPNG}},
	"image/gif":  {KindImage, []family{famGIF}},
	"image/webp": {KindImage, []family{famWebP}},

	"video/mp4":       {KindVideo, []family{famISOBMFF}},
	"video/quicktime": {KindVideo, []family{famISOBMFF}},
	"video/webm":      {KindVideo, []family{famEBML}},

	"audio/aac":      {KindAudio, []family{famADTS, famISOBMFF}},
	"audio/mp4":      {KindAudio, []family{famISOBMFF}},
	"audio/x-m4a":    {KindAudio, []family{famISOBMFF}},
	"audio/mpeg":     {KindAudio, []family{famMP3}},
	"audio/ogg":      {KindAudio, []family{famOgg}},
	"audio/opus":     {KindAudio, []family{famOgg}},
	"audio/wav":      {KindAudio, []family{famWAV}},
	"audio/wave":     {KindAudio, []family{famWAV}},
	"audio/x-wav":    {KindAudio, []family{famWAV}},
	"audio/vnd.wave": {KindAudio, []family{famWAV}},
	"audio/webm":     {KindAudio, []family{famEBML}},

	"application/pdf":               {KindDocument, []family{famPDF}},
	"application/zip":               {KindDocument, []family{famZIP}},
	"application/msword":            {KindDocument, []family{famOLE}},
	"application/vnd.ms-excel":      {KindDocument, []family{famOLE}},
	"application/vnd.ms-powerpoint": {KindDocument, []family{famOLE}},
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   {KindDocument, []family{famZIP}},
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         {KindDocument, []family{famZIP}},
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": {KindDocument, []family{famZIP}},
	"application/vnd.oasis.opendocument.text":                                   {KindDocument, []family{famZIP}},
	"application/vnd.oasis.opendocument.spreadsheet":                            {KindDocument, []family{famZIP}},
	"application/vnd.oasis.opendocument.presentation":                           {KindDocument, []family{famZIP}},
	"text/plain": {KindDocument, []family{famText}},
	"text/csv":   {KindDocument, []family{famText}},
}

// aliases are spellings clients use for an allowed type.
var aliases = map[string]string{"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "audio/mp3": "audio/mpeg", "audio/m4a": "audio/x-m4a"}

// normalizeType returns the canonical form of a declared content type
// (lower case, parameters dropped, aliases resolved) and its rule.
func normalizeType(ct string) (string, typeRule, bool) {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", typeRule{}, false
	}
	if a, ok := aliases[mt]; ok {
		mt = a
	}
	r, ok := allowed[mt]
	return mt, r, ok
}

// sniffLen is how many leading bytes sniff looks at.
const sniffLen = 512

// sniff names the family of a file from its first bytes.
func sniff(b []byte) family {
	has := func(off int, sig string) bool { return len(b) >= off+len(sig) && string(b[off:off+len(sig)]) == sig }
	switch {
	case has(0, "\xff\xd8\xff"):
		return famJPEG
	case has(0, "\x89PNG\r\n\x1a\n"):
		return famPNG
	case has(0, "GIF87a"), has(0, "GIF89a"):
		return famGIF
	case has(0, "RIFF") && has(8, "WEBP"):
		return famWebP
	case has(0, "RIFF") && has(8, "WAVE"):
		return famWAV
	case has(4, "ftyp"), has(4, "moov"), has(4, "mdat"), has(4, "wide"), has(4, "free"), has(4, "skip"):
		return famISOBMFF
	case has(0, "\x1a\x45\xdf\xa3"):
		return famEBML
	case has(0, "OggS"):
		return famOgg
	case has(0, "%PDF-"):
		return famPDF
	case has(0, "PK\x03\x04"):
		return famZIP
	case has(0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
		return famOLE
	case has(0, "ID3"):
		return famMP3
	case len(b) >= 2 && b[0] == 0xff && b[1]&0xf6 == 0xf0:
		// Frame sync with layer bits 00: an ADTS AAC frame.
		return famADTS
	case len(b) >= 2 && b[0] == 0xff && b[1]&0xe0 == 0xe0 && b[1]&0x06 != 0:
		// Frame sync with a layer: an MPEG audio frame (MP3 without ID3).
		return famMP3
	case isText(b):
		return famText
	}
	return famUnknown
}

// isText accepts UTF-8 without control characters other than whitespace;
// a rune cut by the sniffing window is forgiven.
func isText(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for i := 0; i < 3 && !utf8.Valid(b) && len(b) > 0; i++ {
		b = b[:len(b)-1]
	}
	if !utf8.Valid(b) {
		return false
	}
	return bytes.IndexFunc(b, func(r rune) bool {
		return r < 0x20 && !strings.ContainsRune("\t\n\r\f", r) || r == 0x7f
	}) < 0
}

func (r typeRule) accepts(f family) bool {
	for _, x := range r.families {
		if x == f {
			return true
		}
	}
	return false
}
