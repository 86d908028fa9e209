package media

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoder registration
	"image/jpeg"
	_ "image/png" // decoder registration
	"math"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp" // decoder registration
)

// Image processing limits.
const (
	// ThumbSide is the longest side of a thumbnail.
	ThumbSide = 320
	// VariantSide is the longest side of the compressed variant.
	VariantSide = 2048
	// VariantOver: originals above this size (or VariantSide) get a
	// compressed variant.
	VariantOver = 1 << 20

	thumbQuality   = 75
	variantQuality = 80
	// rotatedQuality re-encodes a JPEG turned upright (see processImage).
	rotatedQuality = 90
)

// output is what processing produced. A nil Original keeps the uploaded
// bytes; nil Thumb or Variant: none.
type output struct {
	Original []byte
	Thumb    []byte
	Variant  []byte
}

// processImage checks an image, strips its metadata and makes its
// thumbnail and, when large, a compressed variant. The pixel budget is
// checked on the header alone, before anything is decoded, so a
// decompression bomb (a tiny file claiming 50,000 x 50,000 pixels) is
// refused without allocating its pixels.
func processImage(data []byte, maxPixels int64, m *Media) (output, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return output{}, refused("the image cannot be decoded")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return output{}, refused("the image has no pixels")
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > maxPixels {
		return output{}, refused(fmt.Sprintf("the image is %d x %d pixels, more than the %d allowed", cfg.Width, cfg.Height, maxPixels))
	}

	var out output
	stripped, orientation, frames := data, 1, 1
	switch format {
	case "jpeg":
		stripped, orientation, err = stripJPEG(data)
	case "png":
		stripped, err = stripPNG(data)
	case "gif":
		stripped, frames, err = stripGIF(data)
	case "webp":
		stripped, err = stripWebP(data)
	default:
		return output{}, refused("unsupported image format " + format)
	}
	if err != nil {
		return output{}, refused("the image is corrupt: " + err.Error())
	}
	if !bytes.Equal(stripped, data) {
		out.Original = stripped
	}

	// gif.Decode (through image.Decode) keeps only the first frame.
	img, _, err := image.Decode(bytes.NewReader(stripped))
	if err != nil {
		return output{}, refused("the image cannot be decoded")
	}
	if r := image.Rect(0, 0, cfg.Width, cfg.Height); format == "gif" && img.Bounds() != r {
		// A GIF's first frame may cover part of its logical screen only;
		// the picture is the screen, as a browser shows it, not the frame.
		canvas := image.NewRGBA(r)
		draw.Draw(canvas, img.Bounds(), img, img.Bounds().Min, draw.Src)
		img = canvas
	}
	if orientation != 1 {
		// The orientation tag went with the EXIF block: turn the pixels
		// upright instead and re-encode, or the picture would show on its
		// side. This is the one lossy case.
		img = orient(img, orientation)
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: rotatedQuality}); err != nil {
			return output{}, fmt.Errorf("encode upright jpeg: %w", err)
		}
		out.Original = buf.Bytes()
	}
	b := img.Bounds()
	m.Width, m.Height = b.Dx(), b.Dy()

	opaque := format == "jpeg"
	src := img
	if frames == 1 && (len(data) > VariantOver || max(m.Width, m.Height) > VariantSide) {
		v := scale(img, VariantSide, opaque)
		if out.Variant, err = encodeJPEG(v, variantQuality); err != nil {
			return output{}, err
		}
		// The thumbnail from the variant: the same look, far less work.
		src, opaque = v, true
	}
	if out.Thumb, err = encodeJPEG(scale(src, ThumbSide, opaque), thumbQuality); err != nil {
		return output{}, err
	}
	return out, nil
}

func encodeJPEG(img image.Image, q int) ([]byte, error) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
		return nil, fmt.Errorf("encode jpeg: %w", err)
	}
	return buf.Bytes(), nil
}

// scale fits img within side x side (never enlarging it) on a white
// background, so transparent images make sensible JPEGs.
func scale(img image.Image, side int, opaque bool) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if f := float64(side) / float64(max(w, h)); f < 1 {
		w = max(1, int(math.Round(float64(w)*f)))
		h = max(1, int(math.Round(float64(h)*f)))
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	op := draw.Src
	if !opaque {
		draw.Draw(dst, dst.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
		op = draw.Over
	}
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, b, op, nil)
	return dst
}

// orient turns img upright for an EXIF orientation of 2 to 8.
func orient(img image.Image, o int) image.Image {
	b := img.Bounds()
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	w, h := b.Dx(), b.Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var dx, dy int
			switch o {
			case 2:
				dx, dy = w-1-x, y
			case 3:
				dx, dy = w-1-x, h-1-y
			case 4:
				dx, dy = x, h-1-y
			case 5:
				dx, dy = y, x
			case 6:
				dx, dy = h-1-y, x
			case 7:
				dx, dy = h-1-y, w-1-x
			case 8:
				dx, dy = y, w-1-x
			default:
				dx, dy = x, y
			}
			si, di := src.PixOffset(x, y), dst.PixOffset(dx, dy)
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}
