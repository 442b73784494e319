package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pageshot/pageshot"
	"github.com/pageshot/pageshot/internal/app"
)

// storeFlags name the store and the config file of the commands that work
// on the store beside a running server.
type storeFlags struct {
	dataDir     string
	databaseURL string
	config      string
}

func (s *storeFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.dataDir, "data-dir", "pageshot-data", "directory of the node's state")
	fs.StringVar(&s.databaseURL, "database-url", "", "PostgreSQL store, postgres://… (default: SQLite under --data-dir)")
	fs.StringVar(&s.config, "config", "", "YAML config file (plans)")
}

// name describes the store for messages.
func (s *storeFlags) name() string { return app.StoreName(s.dataDir, s.databaseURL) }

// open reads the environment and the config file, then opens the store.
func (s *storeFlags) open(cmd *cobra.Command) (app.Store, fileConfig, error) {
	if err := bindEnv(cmd.Flags()); err != nil {
		return nil, fileConfig{}, err
	}
	fc, err := loadFile(s.config)
	if err != nil {
		return nil, fc, err
	}
	st, err := app.OpenStore(cmd.Context(), s.dataDir, s.databaseURL)
	if err != nil {
		return nil, fc, fmt.Errorf("open store %s: %w", s.name(), err)
	}
	return st, fc, nil
}

// openPlans opens the store and reads the plans of the config file.
func (s *storeFlags) openPlans(cmd *cobra.Command) (app.Store, map[string]pageshot.Plan, error) {
	st, fc, err := s.open(cmd)
	if err != nil {
		return nil, nil, err
	}
	plans, err := fc.plans()
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, plans, nil
}

func newKeys(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys"}
	cmd.AddCommand(newKeysCreate(stdout), newKeysList(stdout), newKeysRevoke(stdout))
	return cmd
}

// keyJSON is a key as keys create --json and keys list --json print it;
// the secrets only at creation.
type keyJSON struct {
	ID            string   `json:"id"`
	Key           string   `json:"key,omitempty"`
	SigningSecret string   `json:"signing_secret,omitempty"`
	WebhookSecret string   `json:"webhook_secret,omitempty"`
	Name          string   `json:"name"`
	Plan          string   `json:"plan"`
	Scopes        []string `json:"scopes"`
	SignedOnly    bool     `json:"signed_only"`
	URLAllow      []string `json:"url_allow,omitempty"`
	URLBlock      []string `json:"url_block,omitempty"`
	CreatedAt     string   `json:"created_at"`
	ExpiresAt     string   `json:"expires_at,omitempty"`
	RevokedAt     string   `json:"revoked_at,omitempty"`
	Status        string   `json:"status"`
}

func toKeyJSON(k *pageshot.APIKey, now time.Time) keyJSON {
	out := keyJSON{
		ID: k.ID, Name: k.Name, Plan: k.Plan, SignedOnly: k.SignedOnly,
		URLAllow: k.URLAllow, URLBlock: k.URLBlock,
		CreatedAt: k.CreatedAt.UTC().Format(time.RFC3339), Status: keyStatus(k, now),
	}
	out.Scopes = []string{}
	for _, s := range k.Scopes {
		out.Scopes = append(out.Scopes, string(s))
	}
	if !k.ExpiresAt.IsZero() {
		out.ExpiresAt = k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if !k.RevokedAt.IsZero() {
		out.RevokedAt = k.RevokedAt.UTC().Format(time.RFC3339)
	}
	return out
}

func keyStatus(k *pageshot.APIKey, now time.Time) string {
	switch pageshot.ErrorCode(k.Usable(now)) {
	case pageshot.CodeAPIKeyRevoked:
		return "revoked"
	case pageshot.CodeAPIKeyExpired:
		return "expired"
	}
	return "active"
}

func newKeysCreate(stdout io.Writer) *cobra.Command {
	var (
		sf                 storeFlags
		name, plan, expiry string
		scopes, allow      []string
		block              []string
		signedOnly, asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME",
		Short: "Create an API key and print it with its secrets (shown only now)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, plans, err := sf.openPlans(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if _, ok := plans[plan]; !ok && plan != pageshot.DefaultPlanName {
				return fmt.Errorf("no plan %q in the config; define it under plans: in --config, or use default", plan)
			}
			var sc []pageshot.Scope
			for _, s := range scopes {
				s = strings.TrimSpace(s)
				if !slices.Contains(pageshot.AllScopes(), pageshot.Scope(s)) {
					return fmt.Errorf("unknown scope %q; scopes are screenshot, jobs and usage", s)
				}
				sc = append(sc, pageshot.Scope(s))
			}
			if len(sc) == 0 {
				sc = pageshot.AllScopes()
			}
			now := time.Now()
			k, key, err := pageshot.NewKey(name, plan, sc, now)
			if err != nil {
				return err
			}
			if expiry != "" {
				if k.ExpiresAt, err = time.Parse(time.RFC3339, expiry); err != nil {
					return fmt.Errorf("--expires: want RFC 3339, such as 2027-01-31T00:00:00Z: %w", err)
				}
			}
			if err := checkNewKey(name, k.ExpiresAt, now); err != nil {
				return err
			}
			k.SignedOnly, k.URLAllow, k.URLBlock = signedOnly, allow, block
			if err := st.CreateKey(cmd.Context(), k); err != nil {
				return err
			}
			if asJSON {
				out := toKeyJSON(k, now)
				out.Key, out.SigningSecret, out.WebhookSecret = key, k.SigningSecret, k.WebhookSecret
				return printJSON(stdout, out)
			}
			fmt.Fprintf(stdout, "Created %s (%s, plan %s). The secrets are shown only now:\n\n    API key:        %s\n    signing secret: %s\n    webhook secret: %s\n",
				k.ID, k.Name, k.Plan, key, k.SigningSecret, k.WebhookSecret)
			return nil
		},
	}
	fs := cmd.Flags()
	sf.register(fs)
	fs.StringVar(&name, "name", "", "a name for the key (required)")
	fs.StringVar(&plan, "plan", pageshot.DefaultPlanName, "the key's plan")
	fs.StringSliceVar(&scopes, "scopes", nil, "screenshot, jobs, usage (default: all)")
	fs.StringVar(&expiry, "expires", "", "expiry time, RFC 3339")
	fs.BoolVar(&signedOnly, "signed-only", false, "accept signed URLs only")
	fs.StringSliceVar(&allow, "url-allow", nil, "hosts the key may capture (and their subdomains); default all")
	fs.StringSliceVar(&block, "url-block", nil, "hosts the key may not capture (and their subdomains)")
	fs.BoolVar(&asJSON, "json", false, "print a JSON object")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newKeysList(stdout io.Writer) *cobra.Command {
	var (
		sf     storeFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sf.mustExist(cmd); err != nil {
				return err
			}
			st, _, err := sf.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := st.ListKeys(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			if asJSON {
				out := []keyJSON{}
				for _, k := range keys {
					out = append(out, toKeyJSON(k, now))
				}
				return printJSON(stdout, out)
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPLAN\tSCOPES\tSTATUS\tCREATED\tEXPIRES")
			for _, k := range keys {
				j := toKeyJSON(k, now)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, printable(j.Name), j.Plan, strings.Join(j.Scopes, ","), j.Status, j.CreatedAt, orDash(j.ExpiresAt))
			}
			return tw.Flush()
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newKeysRevoke(stdout io.Writer) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key; a running server refuses it from the next request on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sf.mustExist(cmd); err != nil {
				return err
			}
			st, _, err := sf.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			id := args[0]
			if kid, _, ok := pageshot.ParseKey(id); ok {
				id = kid // a whole key was given; only its id is needed
			}
			if err := st.RevokeKey(cmd.Context(), id, time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "revoked %s\n", id)
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

func newUsage(stdout io.Writer) *cobra.Command {
	var (
		sf     storeFlags
		keyID  string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "usage [--key ID]",
		Short: "Usage of the current period (UTC month) per key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sf.mustExist(cmd); err != nil {
				return err
			}
			st, plans, err := sf.openPlans(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			return printUsage(cmd.Context(), stdout, st, plans, keyID, asJSON)
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().StringVar(&keyID, "key", "", "only this key")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

type usageRow struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Plan      string `json:"plan"`
	Period    string `json:"period"`
	Used      int64  `json:"used"`
	InFlight  int64  `json:"in_flight"`
	Limit     int64  `json:"limit"`
	Remaining *int64 `json:"remaining"`
	ResetAt   int64  `json:"reset_at"`
	// PlanUnknown is set when the plan is not in the config given (Limit
	// and Remaining are then unknown, not unlimited).
	PlanUnknown bool `json:"plan_unknown,omitempty"`
}

func printUsage(ctx context.Context, stdout io.Writer, st app.Store, plans map[string]pageshot.Plan, keyID string, asJSON bool) error {
	var keys []*pageshot.APIKey
	if keyID != "" {
		k, err := st.Key(ctx, keyID)
		if err != nil {
			return err
		}
		keys = append(keys, k)
	} else {
		var err error
		if keys, err = st.ListKeys(ctx); err != nil {
			return err
		}
	}
	period, reset := pageshot.Period(time.Now())
	rows := []usageRow{}
	for _, k := range keys {
		u, err := st.Usage(ctx, k.ID, period)
		if err != nil {
			return err
		}
		p, ok := plans[k.Plan]
		r := usageRow{ID: k.ID, Name: k.Name, Plan: k.Plan, Period: period, Used: u.Committed, InFlight: u.Reserved, Limit: p.MonthlyQuota, ResetAt: reset.Unix()}
		if !ok {
			// Without the server's --config the plan's limits are not known
			// here; the default plan's would be a guess.
			r.Limit, r.PlanUnknown = 0, true
		} else if p.MonthlyQuota > 0 {
			left := max(0, p.MonthlyQuota-u.Committed-u.Reserved)
			r.Remaining = &left
		}
		rows = append(rows, r)
	}
	if asJSON {
		return printJSON(stdout, rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "period %s (resets %s)\n", period, reset.Format(time.RFC3339))
	fmt.Fprintln(tw, "ID\tNAME\tPLAN\tUSED\tIN FLIGHT\tLIMIT\tREMAINING")
	for _, r := range rows {
		limit, left := "unlimited", "-"
		if r.PlanUnknown {
			limit = "unknown (plan not in --config)"
		} else if r.Remaining != nil {
			limit, left = fmt.Sprint(r.Limit), fmt.Sprint(*r.Remaining)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", r.ID, printable(r.Name), r.Plan, r.Used, r.InFlight, limit, left)
	}
	return tw.Flush()
}

func newMigrate(stdout io.Writer) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the store's migrations (serve also does it on start)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, _, err := sf.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			applied, err := st.Applied(cmd.Context())
			if err != nil {
				return err
			}
			queue, err := app.MigrateQueue(cmd.Context(), st, slog.New(slog.DiscardHandler))
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s is up to date (%d store migrations; %d job queue migrations applied now)\n", sf.name(), len(applied), queue)
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
