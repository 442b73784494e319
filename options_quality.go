package pageshot

import (
	"fmt"
	"slices"
	"strings"
)

// qualityOptions reads the options that shape how faithful the picture is:
// device and disable_animations. A device preset fills the viewport, scale
// and user agent that the request did not set itself.
func (d *decoder) qualityOptions(o *Options) {
	if d.str("device", &o.Device) {
		dev, ok := DeviceByName(o.Device)
		if !ok {
			names := make([]string, len(Devices))
			for i, dv := range Devices {
				names[i] = dv.Name
			}
			d.problem("device", fmt.Sprintf("%q is not a device preset; GET /v1/devices lists them: %s.", o.Device, strings.Join(names, ", ")))
			o.Device = ""
		} else {
			if !d.has("viewport_width") {
				o.ViewportWidth = dev.Width
			}
			if !d.has("viewport_height") {
				o.ViewportHeight = dev.Height
			}
			if !d.has("device_scale_factor") {
				o.DeviceScaleFactor = dev.ScaleFactor
			}
			if !d.has("user_agent") {
				o.UserAgent = dev.UserAgent
			}
			o.Mobile, o.Touch = dev.Mobile, dev.Touch
		}
	}
	d.boolean("disable_animations", &o.DisableAnimations)
	d.boolean("block_cookie_banners", &o.BlockCookieBanners)
	d.boolean("block_ads", &o.BlockAds)
	d.boolean("block_trackers", &o.BlockTrackers)
	d.boolean("block_chats", &o.BlockChats)

	o.ColorsCount = DefaultColorsCount
	if d.strings("metadata", &o.Metadata, true) {
		var fields []string
		for _, f := range o.Metadata {
			switch {
			case !slices.Contains(MetadataFields, f):
				d.problem("metadata", fmt.Sprintf("%q is not one of %s.", f, strings.Join(MetadataFields, ", ")))
			case !slices.Contains(fields, f):
				fields = append(fields, f)
			}
		}
		o.Metadata = fields
		if o.ResponseType != ResponseJSON {
			d.problem("metadata", "Is returned in the json answer: give response_type json.")
		}
		if o.Async {
			d.problem("metadata", "Is returned in the json answer of a capture made at once, not with async.")
		}
		if slices.Contains(o.Metadata, "colors") && o.Format == FormatPDF {
			d.problem("metadata", "colors is the palette of an image; format pdf has none.")
		}
	}
	if d.integer("colors_count", &o.ColorsCount, 2, 12) && !slices.Contains(o.Metadata, "colors") {
		d.problem("colors_count", "Applies when metadata asks for colors.")
	}
}

// FullPageLimits returns lim with the plan's bound on full_page_max_height
// applied: the smaller of the server's and the plan's, when the plan sets
// one.
func (p Plan) FullPageLimits(lim Limits) Limits {
	if p.MaxFullPageHeight > 0 {
		lim.MaxFullPageHeight = min(lim.withDefaults().MaxFullPageHeight, p.MaxFullPageHeight)
	}
	return lim
}
