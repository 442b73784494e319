package pageshot

import (
	"fmt"
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
