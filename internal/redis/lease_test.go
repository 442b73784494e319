package redis_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/pageshot/pageshot/internal/redis"
	"github.com/pageshot/pageshot/internal/redistest"
)

// The test binary doubles as a node holding leases: started with
// holderEnv set, it takes every slot of a bucket, says so on stdout, and
// keeps renewing them until it is killed.
const holderEnv = "PAGESHOT_TEST_LEASE_HOLDER"

func TestMain(m *testing.M) {
	if os.Getenv(holderEnv) != "" {
		os.Exit(holdLeases())
	}
	os.Exit(m.Run())
}

// holdLeases reads "URL PREFIX BUCKET MAX LEASE" from holderEnv.
func holdLeases() int {
	f := strings.Fields(os.Getenv(holderEnv))
	if len(f) != 5 {
		fmt.Fprintln(os.Stderr, "holder: want URL PREFIX BUCKET MAX LEASE")
		return 2
	}
	max, _ := strconv.Atoi(f[3])
	lease, _ := time.ParseDuration(f[4])
	l, err := redis.Open(f[0], redis.Config{Prefix: f[1], Lease: lease})
	if err != nil {
		fmt.Fprintln(os.Stderr, "holder:", err)
		return 1
	}
	for range max {
		if _, ok, err := l.Acquire(context.Background(), f[2], max); err != nil || !ok {
			fmt.Fprintln(os.Stderr, "holder: acquire:", ok, err)
			return 1
		}
	}
	fmt.Println("held")
	// Until killed; or, should the test die first, until its end of
	// stdin closes.
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// redisNow returns Redis's clock in milliseconds, the clock of the leases.
func redisNow(t *testing.T, rdb *goredis.Client) int64 {
	t.Helper()
	now, err := rdb.Time(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return now.UnixMilli()
}

// expiries returns the expiry (Redis ms) of each lease of key.
func expiries(t *testing.T, rdb *goredis.Client, key string) []int64 {
	t.Helper()
	zs, err := rdb.ZRangeWithScores(t.Context(), key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, z := range zs {
		out = append(out, int64(z.Score))
	}
	return out
}

// TestLeaseExpiry: a node (a process of its own) holds both slots of a key
// and renews them past their first expiry; killed with SIGKILL, its
// leases expire within the lease time of its last renewal, after which
// another node takes both slots.
func TestLeaseExpiry(t *testing.T) {
	url := redistest.URL(t)
	t.Parallel()
	prefix := redistest.Prefix(t, url)
	rdb := redistest.Client(t, url)
	const lease = 2 * time.Second
	const max = 2
	key := prefix + "conc:key:k"

	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s key:k %d %s", holderEnv, url, prefix, max, lease))
	holder.Stderr = os.Stderr
	stdin, err := holder.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() { holder.Process.Kill(); <-exited })
	said := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		said <- line
		holder.Wait()
		close(exited)
	}()
	select {
	case line := <-said:
		if strings.TrimSpace(line) != "held" {
			t.Fatalf("holder said %q", line)
		}
	case <-time.After(time.Minute):
		t.Fatal("the holder did not take its leases within a minute")
	}

	other := open(t, url, redis.Config{Prefix: prefix, Lease: lease})
	first := expiries(t, rdb, key)
	if len(first) != max {
		t.Fatalf("%d leases in Redis, want %d", len(first), max)
	}
	firstEnd := slices.Max(first)

	// Wait, on Redis's clock, until the first leases would have expired:
	// renewed, they still hold both slots.
	deadline := time.Now().Add(time.Minute)
	for redisNow(t, rdb) <= firstEnd+lease.Milliseconds()/3 {
		if time.Now().After(deadline) {
			t.Fatal("Redis's clock does not move")
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	if _, ok, err := other.Acquire(t.Context(), "key:k", max); err != nil || ok {
		t.Fatalf("another node took a slot of a live holder past its first lease: %v, %v", ok, err)
	}
	if renewed := expiries(t, rdb, key); len(renewed) != max || slices.Max(renewed) <= firstEnd {
		t.Fatalf("leases %v after %v first, want both renewed", renewed, first)
	}

	holder.Process.Kill()
	<-exited
	killedAt := redisNow(t, rdb)
	last := expiries(t, rdb, key)
	if len(last) != max || slices.Max(last) > killedAt+lease.Milliseconds() {
		t.Fatalf("leases end at %v, killed at %d: want both, ending within %v of the kill", last, killedAt, lease)
	}

	deadline = time.Now().Add(lease + time.Minute)
	var releases []func()
	for len(releases) < max {
		rel, ok, err := other.Acquire(t.Context(), "key:k", max)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			releases = append(releases, rel)
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dead node's slots are still taken %v after its kill", lease+time.Minute)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
	freedAt := redisNow(t, rdb)
	if freedAt < slices.Max(last) {
		t.Fatalf("slots taken at %d, before the dead leases ended at %v", freedAt, last)
	}
	t.Logf("both slots free %d ms after the kill (lease %v)", freedAt-killedAt, lease)
	if _, ok, err := other.Acquire(t.Context(), "key:k", max); err != nil || ok {
		t.Fatalf("a third slot of %d: %v, %v", max, ok, err)
	}
	for _, r := range releases {
		r()
	}
	if n := len(expiries(t, rdb, key)); n != 0 {
		t.Errorf("%d leases left after every release", n)
	}
}
