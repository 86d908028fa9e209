package media

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/media/mediatest"
)

var photo12MP = sync.OnceValue(func() []byte {
	// 4000 x 3000 with noise, so it compresses like a photo (~4-5 MB at
	// q90), not like a flat gradient.
	img := mediatest.Picture(4000, 3000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		if i%4 != 3 {
			img.Pix[i] = uint8(int(img.Pix[i]) + r.IntN(48) - 24)
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	return buf.Bytes()
})

// BenchmarkImageThumbnail12MP: decode a 12 MP JPEG, scale it to 320 px
// (ApproxBiLinear), encode the thumbnail. Run with -cpu 1,2 for per-core
// and whole-machine rates (RunParallel keeps every core busy).
func BenchmarkImageThumbnail12MP(b *testing.B) {
	data := photo12MP()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			img, _, err := image.Decode(bytes.NewReader(data))
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := encodeJPEG(scale(img, ThumbSide, true), thumbQuality); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "thumbs/s")
}

// BenchmarkImageProcess12MP: everything an uploaded 12 MP JPEG goes
// through: header check, EXIF strip, decode, 2048 px variant, thumbnail.
func BenchmarkImageProcess12MP(b *testing.B) {
	data := photo12MP()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var m Media
			if _, err := processImage(data, 50_000_000, &m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
