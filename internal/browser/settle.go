package browser

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pageshot/pageshot"
)

// The page-side halves of the settle phase; each file is one JavaScript
// function expression.
var (
	//go:embed js/settle.js
	settleJS string
	//go:embed js/hide.js
	hideJS string
	//go:embed js/unobscure.js
	unobscureJS string
)

// maxSettle bounds the wait for fonts and animations. A page whose
// animations run longer is captured as it is then, rather than costing
// every capture of it seconds.
const maxSettle = 3 * time.Second

// settleReserve is the part of the budget the settle phase leaves for
// taking the picture.
const settleReserve = 2 * time.Second

// settled is what the settle phase saw on the page.
type settled struct {
	Fonts      string `json:"fonts"`      // "none" when no font was loading, else the status after the wait
	Animations int    `json:"animations"` // animations waited for or frozen
	TimedOut   bool   `json:"timedOut"`
}

// rest waits, bounded by maxSettle and the budget, for web fonts and for
// running CSS animations and transitions to finish, or with
// disable_animations makes them jump to their end state, so that the
// picture is the one a person sees once the page has come to rest.
func (r *renderer) rest(ctx context.Context) error {
	wait := maxSettle
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl)-settleReserve)
	}
	wait = max(wait, 0)
	args, _ := json.Marshal(map[string]any{"disable": r.o.DisableAnimations, "maxWait": wait.Milliseconds()})
	_, err := eval[settled](ctx, "("+settleJS+")("+string(args)+")")
	return err
}

// hide takes the elements of hide_selectors out of the picture and the
// layout.
func (r *renderer) hide(ctx context.Context) error {
	if len(r.o.HideSelectors) == 0 {
		return nil
	}
	args, _ := json.Marshal(r.o.HideSelectors)
	res, err := eval[struct{ Bad *string }](ctx, "("+hideJS+")("+string(args)+")")
	if err != nil {
		return err
	}
	if res.Bad != nil {
		return pageshot.InvalidRequest([]pageshot.FieldError{{Field: "hide_selectors", Message: fmt.Sprintf("%q is not a valid CSS selector.", *res.Bad)}})
	}
	return nil
}

// unobscure hides the fixed and sticky elements that could be painted over
// the selector's element.
func (r *renderer) unobscure(ctx context.Context) error {
	_, err := eval[int](ctx, "("+unobscureJS+")("+jsString(r.o.Selector)+")")
	return err
}
