package browser

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"image/png"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/pageshot/pageshot"
)

// tiled captures a clip taller than Chromium's texture limit in bands and
// stitches them. The bands are taken as PNG so nothing is lost before the
// final encoding.
func (r *renderer) tiled(ctx context.Context, params page.CaptureScreenshotParams) ([]byte, int, int, error) {
	o := r.o
	clip := *params.Clip
	px := o.DeviceScaleFactor * clip.Scale // image pixels per CSS pixel
	band := float64(maxTextureHeight/2) / px
	var out *image.RGBA
	for y := 0.0; y < clip.Height; y += band {
		h := min(band, clip.Height-y)
		p := params
		p.Format = page.CaptureScreenshotFormatPng
		p.Quality = nil
		p.OptimizeForSpeed = new(true)
		p.Clip = &page.Viewport{X: clip.X, Y: clip.Y + y, Width: clip.Width, Height: h, Scale: clip.Scale}
		res, err := chromedp.Call(ctx, page.CaptureScreenshot, p)
		if err != nil {
			return nil, 0, 0, err
		}
		img, err := png.Decode(bytes.NewReader(res.Data))
		if err != nil {
			return nil, 0, 0, fmt.Errorf("decode band: %w", err)
		}
		if out == nil {
			out = image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx(), int(clip.Height*px+0.5)))
		}
		top := int(y*px + 0.5)
		draw.Draw(out, image.Rect(0, top, out.Bounds().Dx(), top+img.Bounds().Dy()), img, img.Bounds().Min, draw.Src)
	}
	var buf bytes.Buffer
	var err error
	switch o.Format {
	case pageshot.FormatJPEG:
		err = jpeg.Encode(&buf, out, &jpeg.Options{Quality: o.Quality})
	case pageshot.FormatWebP:
		return nil, 0, 0, pageshot.Errorf(pageshot.CodePageTooLarge, "A WebP image may be at most %d pixels tall; use png or jpeg, or a smaller full_page_max_height.", maxTextureHeight)
	default:
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, out)
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("encode stitched image: %w", err)
	}
	return buf.Bytes(), out.Bounds().Dx(), out.Bounds().Dy(), nil
}
