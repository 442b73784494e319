package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pageshot/pageshot"
)

// checkSelectors asks the browser's own CSS parser about every selector
// option before the page loads, and reports every invalid one at once as
// invalid_request. A hide_selectors entry must also make exactly one style
// rule on its own, so that it cannot close the rule and add another
// ("x { } body") nor disable the others.
func (r *renderer) checkSelectors(ctx context.Context) error {
	type check struct {
		Field, Sel string
		Rule       bool
	}
	var list []check
	for _, c := range []check{{"selector", r.o.Selector, false}, {"wait_for_selector", r.o.WaitForSelector, false}, {"click", r.o.Click, false}} {
		if c.Sel != "" {
			list = append(list, c)
		}
	}
	for _, s := range r.o.HideSelectors {
		list = append(list, check{"hide_selectors", s, true})
	}
	if len(list) == 0 {
		return nil
	}
	bad, err := eval[[]int](ctx, `(list => list.flatMap((c, i) => {
  try {
    document.createDocumentFragment().querySelector(c.Sel);
    if (c.Rule) { new CSSStyleSheet().insertRule(c.Sel + " { visibility: hidden !important; }"); }
    return [];
  } catch (e) { return [i]; }
}))(`+jsonString(list)+`)`)
	if err != nil {
		return fmt.Errorf("check selectors: %w", err)
	}
	if len(bad) == 0 {
		return nil
	}
	var problems []pageshot.FieldError
	for _, i := range bad {
		if i >= 0 && i < len(list) {
			problems = append(problems, pageshot.FieldError{Field: list[i].Field, Message: fmt.Sprintf("%q is not a valid CSS selector.", list[i].Sel)})
		}
	}
	return pageshot.InvalidRequest(problems)
}

// icuLocale is the ICU locale that Emulation.setLocaleOverride takes for
// a BCP 47 tag: its language, script and region. Extensions and private
// use (-u-co-phonebk, -x-…) are for the Accept-Language header only.
func icuLocale(tag string) string {
	parts := strings.Split(tag, "-")
	for i, p := range parts {
		if i > 0 && len(p) == 1 {
			parts = parts[:i]
			break
		}
	}
	return strings.Join(parts, "_")
}

// jsonString is v as a JavaScript literal.
func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
