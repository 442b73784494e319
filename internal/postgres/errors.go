package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pageshot/pageshot"
)

// UnavailableRetryAfter is the Retry-After of the service_unavailable
// errors the store returns while the database cannot be reached.
const UnavailableRetryAfter = 5 * time.Second

// storeError wraps the error of op. A database that cannot be reached
// (the server down or restarting, the connection lost, no connection
// left) becomes service_unavailable with a Retry-After: the request may
// succeed once the database is back, and no client sees a 500 for it. A
// *pageshot.Error (not_found, …) passes as it is.
func storeError(op string, err error) error {
	var pe *pageshot.Error
	if errors.As(err, &pe) {
		return err
	}
	wrapped := fmt.Errorf("%s: %w", op, err)
	if !unreachable(err) {
		return wrapped
	}
	return &pageshot.Error{Code: pageshot.CodeServiceUnavailable, Message: "The database cannot be reached; try again shortly.",
		RetryAfter: UnavailableRetryAfter, Err: wrapped}
}

// unreachable reports whether err says the database could not be talked
// to, rather than that it refused what it was asked.
func unreachable(err error) bool {
	var connect *pgconn.ConnectError
	if errors.As(err, &connect) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01–57P03: the server is
		// shutting down or starting; 53300: too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed")
}
