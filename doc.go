// Package pageshot is the domain of the pageshot screenshot service: capture
// options and results, the error catalogue, and the small interfaces that the
// adapters under internal/ implement. It imports the standard library only.
package pageshot
