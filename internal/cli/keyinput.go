package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/pageshot/pageshot/internal/app"
)

// maxKeyName bounds the name of a key, in characters.
const maxKeyName = 200

// checkNewKey refuses what keys create must not store: an empty or
// over-long name, a name with control characters (which would reach
// terminals through keys list and logs), and an expiry that has passed.
func checkNewKey(name string, expires, now time.Time) error {
	var problems []string
	switch {
	case strings.TrimSpace(name) == "":
		problems = append(problems, "--name must not be empty")
	case strings.ContainsFunc(name, unicode.IsControl):
		problems = append(problems, "--name must not contain control characters")
	case len([]rune(name)) > maxKeyName:
		problems = append(problems, fmt.Sprintf("--name has more than %d characters", maxKeyName))
	}
	if !expires.IsZero() && !expires.After(now) {
		problems = append(problems, fmt.Sprintf("--expires %s has passed", expires.UTC().Format(time.RFC3339)))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// printable is s for a terminal: control characters (of a name stored
// before keys create checked them) are shown escaped, never sent raw.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

// mustExist refuses to work on a SQLite store that is not there: keys
// list, keys revoke and usage run from the wrong directory, or without
// --data-dir, would otherwise create an empty one and report nothing. (A
// PostgreSQL database is named exactly; opening it creates nothing.)
func (s *storeFlags) mustExist(cmd *cobra.Command) error {
	if err := bindEnv(cmd.Flags()); err != nil {
		return err
	}
	if s.databaseURL != "" {
		return nil
	}
	path := app.DatabasePath(s.dataDir)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no store at %s; pass --data-dir (or PAGESHOT_DATA_DIR) with the server's data directory", path)
	}
	return nil
}
