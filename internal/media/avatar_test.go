package media

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"
)

// TestAvatarImagesCropTheCentreSquare: a wide picture, blue at both ends
// and red in its middle third, becomes red squares of 640 and 96 pixels:
// the ends are cut, not squeezed in; a small picture is enlarged.
func TestAvatarImagesCropTheCentreSquare(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
	}{{"wide", 300, 100}, {"tall", 40, 120}, {"small square", 10, 10}} {
		t.Run(tc.name, func(t *testing.T) {
			img := image.NewRGBA(image.Rect(0, 0, tc.w, tc.h))
			n := min(tc.w, tc.h)
			x0, y0 := (tc.w-n)/2, (tc.h-n)/2
			for y := range tc.h {
				for x := range tc.w {
					c := color.RGBA{0, 0, 255, 255}
					if x >= x0 && x < x0+n && y >= y0 && y < y0+n {
						c = color.RGBA{255, 0, 0, 255}
					}
					img.Set(x, y, c)
				}
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				t.Fatal(err)
			}
			big, small, err := avatarImages(buf.Bytes(), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range []struct {
				b    []byte
				side int
			}{{big, AvatarSide}, {small, AvatarThumbSide}} {
				got, err := jpeg.Decode(bytes.NewReader(o.b))
				if err != nil {
					t.Fatal(err)
				}
				if b := got.Bounds(); b.Dx() != o.side || b.Dy() != o.side {
					t.Fatalf("size %v; want %d square", b, o.side)
				}
				for _, p := range []image.Point{{1, 1}, {o.side / 2, o.side / 2}, {o.side - 2, o.side - 2}} {
					r, g, b, _ := got.At(p.X, p.Y).RGBA()
					if r>>8 < 200 || b>>8 > 60 || g>>8 > 60 {
						t.Fatalf("pixel %v of the %d avatar is %d,%d,%d; want red (the centre square only)", p, o.side, r>>8, g>>8, b>>8)
					}
				}
			}
		})
	}
	if _, _, err := avatarImages([]byte("not an image"), 1<<20); err == nil {
		t.Fatal("garbage made an avatar")
	}
}
