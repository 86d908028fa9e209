package media

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// Metadata stripping is lossless: the pixels' bytes are copied untouched
// and only the containers' metadata segments are dropped, so a photo is
// not recompressed just to remove its EXIF block. (A JPEG whose EXIF
// orientation is not "upright" is the exception: see processImage.)

var errCorrupt = errors.New("corrupt image container")

// stripJPEG drops every APPn segment except APP0 (JFIF), APP2 (ICC colour
// profile) and APP14 (Adobe colour transform), and every COM segment:
// APP1 holds EXIF (GPS, camera serials, thumbnails) and XMP, APP13 IPTC.
// Each scan's entropy-coded data is copied as is; the segments between
// and after the scans are filtered as those before them, and anything
// after EOI is dropped. It also returns the EXIF orientation (1 when
// absent).
func stripJPEG(b []byte) ([]byte, int, error) {
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return nil, 0, errCorrupt
	}
	out := make([]byte, 0, len(b))
	out = append(out, 0xff, 0xd8)
	orientation := 1
	i := 2
	for {
		// Markers may be padded with fill bytes 0xff.
		for i < len(b) && b[i] == 0xff && i+1 < len(b) && b[i+1] == 0xff {
			i++
		}
		if i+4 > len(b) || b[i] != 0xff {
			return nil, 0, errCorrupt
		}
		marker := b[i+1]
		if marker == 0xd9 { // EOI before any scan
			return nil, 0, errCorrupt
		}
		if marker == 0x01 || marker >= 0xd0 && marker <= 0xd7 {
			// Standalone markers: no length.
			out = append(out, b[i:i+2]...)
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return nil, 0, errCorrupt
		}
		seg := b[i : i+2+n]
		if marker == 0xda {
			// SOS: entropy-coded data follows, copied as is up to the
			// next marker (0xff then neither a stuffed 0x00, fill nor a
			// restart marker). Segments between and after the scans
			// are filtered like those before: a COM or APP1 may sit
			// there too. EOI ends the file; what trails it is dropped.
			j := i + 2 + n
			for j+1 < len(b) && (b[j] != 0xff || b[j+1] == 0x00 || b[j+1] == 0xff || b[j+1] >= 0xd0 && b[j+1] <= 0xd7) {
				j++
			}
			if j+1 >= len(b) { // no marker after the scan: keep it all
				return append(out, b[i:]...), orientation, nil
			}
			out = append(out, b[i:j]...)
			if b[j+1] == 0xd9 {
				return append(out, 0xff, 0xd9), orientation, nil
			}
			i = j
			continue
		}
		keep := true
		switch {
		case marker == 0xe1:
			if o := exifOrientation(seg[4:]); o != 0 {
				orientation = o
			}
			keep = false
		case marker >= 0xe0 && marker <= 0xef:
			keep = marker == 0xe0 || marker == 0xe2 || marker == 0xee
		case marker == 0xfe:
			keep = false
		}
		if keep {
			out = append(out, seg...)
		}
		i += 2 + n
	}
}

// exifOrientation reads tag 0x0112 of IFD0 from an APP1 payload; 0 when
// the payload is not EXIF or has no valid orientation.
func exifOrientation(p []byte) int {
	if !bytes.HasPrefix(p, []byte("Exif\x00\x00")) {
		return 0
	}
	t := p[6:]
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int(bo.Uint32(t[4:]))
	if off < 8 || off+2 > len(t) {
		return 0
	}
	n := int(bo.Uint16(t[off:]))
	for k := 0; k < n; k++ {
		e := off + 2 + 12*k
		if e+12 > len(t) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 && bo.Uint16(t[e+2:]) == 3 {
			if o := int(bo.Uint16(t[e+8:])); o >= 1 && o <= 8 {
				return o
			}
			return 0
		}
	}
	return 0
}

// pngKeep are the ancillary chunks that affect how pixels look (colour,
// transparency, animation); the rest (tEXt, zTXt, iTXt, eXIf, tIME, ...)
// are metadata and dropped.
var pngKeep = map[string]bool{
	"IHDR": true, "PLTE": true, "IDAT": true, "IEND": true,
	"tRNS": true, "gAMA": true, "cHRM": true, "sRGB": true, "iCCP": true, "sBIT": true, "bKGD": true, "pHYs": true,
	"acTL": true, "fcTL": true, "fdAT": true,
}

// stripPNG drops metadata chunks; kept chunks are copied with their CRCs.
func stripPNG(b []byte) ([]byte, error) {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(b, []byte(sig)) {
		return nil, errCorrupt
	}
	out := make([]byte, 0, len(b))
	out = append(out, sig...)
	for i := len(sig); ; {
		if i+12 > len(b) {
			return nil, errCorrupt
		}
		n := int(binary.BigEndian.Uint32(b[i:]))
		if n < 0 || n > len(b)-i-12 {
			return nil, errCorrupt
		}
		typ := string(b[i+4 : i+8])
		if pngKeep[typ] {
			out = append(out, b[i:i+12+n]...)
		}
		i += 12 + n
		if typ == "IEND" {
			return out, nil
		}
	}
}

// stripWebP drops the EXIF and XMP chunks of an extended (VP8X) WebP and
// clears their flags; the RIFF size is rewritten.
func stripWebP(b []byte) ([]byte, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return nil, errCorrupt
	}
	end := 8 + int(binary.LittleEndian.Uint32(b[4:]))
	if end > len(b) || end < 12 {
		return nil, errCorrupt
	}
	out := make([]byte, 12, len(b))
	copy(out, b[:12])
	for i := 12; i < end; {
		if i+8 > end {
			return nil, errCorrupt
		}
		fourcc := string(b[i : i+4])
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		padded := n + n&1
		if n < 0 || i+8+padded > end {
			return nil, errCorrupt
		}
		chunk := b[i : i+8+padded]
		switch fourcc {
		case "EXIF", "XMP ":
		case "VP8X":
			c := bytes.Clone(chunk)
			if len(c) > 8 {
				c[8] &^= 0x08 | 0x04 // EXIF and XMP present flags
			}
			out = append(out, c...)
		default:
			out = append(out, chunk...)
		}
		i += 8 + padded
	}
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out, nil
}

// stripGIF drops comment extensions and application extensions other
// than the animation loop (NETSCAPE2.0 / ANIMEXTS1.0), which is where XMP
// lives. It also counts the frames.
func stripGIF(b []byte) ([]byte, int, error) {
	if len(b) < 13 {
		return nil, 0, errCorrupt
	}
	i := 13
	if b[10]&0x80 != 0 {
		i += 3 << (b[10]&7 + 1)
	}
	if i > len(b) {
		return nil, 0, errCorrupt
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:i]...)
	frames := 0
	// subBlocks returns the end of a run of data sub-blocks at j.
	subBlocks := func(j int) (int, error) {
		for {
			if j >= len(b) {
				return 0, errCorrupt
			}
			n := int(b[j])
			j++
			if n == 0 {
				return j, nil
			}
			j += n
		}
	}
	for {
		if i >= len(b) {
			return nil, 0, errCorrupt
		}
		switch b[i] {
		case 0x3b: // trailer
			return append(out, 0x3b), frames, nil
		case 0x2c: // image descriptor
			j := i + 10
			if j > len(b) {
				return nil, 0, errCorrupt
			}
			if b[i+9]&0x80 != 0 {
				j += 3 << (b[i+9]&7 + 1)
			}
			end, err := subBlocks(j + 1) // after the LZW minimum code size
			if err != nil {
				return nil, 0, err
			}
			out = append(out, b[i:end]...)
			frames++
			i = end
		case 0x21: // extension
			if i+2 > len(b) {
				return nil, 0, errCorrupt
			}
			label := b[i+1]
			end, err := subBlocks(i + 2)
			if err != nil {
				return nil, 0, err
			}
			keep := label == 0xf9 || label == 0x01 // graphic control, plain text
			if label == 0xff && i+14 <= len(b) && b[i+2] == 11 {
				id := string(b[i+3 : i+14])
				keep = id == "NETSCAPE2.0" || id == "ANIMEXTS1.0"
			}
			if keep {
				out = append(out, b[i:end]...)
			}
			i = end
		default:
			return nil, 0, errCorrupt
		}
	}
}
