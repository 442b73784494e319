package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// A node that dies leaves its running items behind, and River's own
// rescuer runs them again only after RescueAfter (the longest run plus a
// margin), minutes later. So a running item beats: its node records every
// StaleAfter/6 that it still works on it, and every node with a job runner
// claims the running items that stopped beating for StaleAfter and queues
// them again. The store stays the authority: the item's end is recorded
// once and charged once, whichever run ends it first; a node that was only
// slow (not dead) at worst captures an item twice.

// beat keeps the item's heartbeat going until the returned stop is called.
func (s *Service) beat(ctx context.Context, jobID string, index int) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.everyBeat(ctx, func() {
			bctx, bcancel := context.WithTimeout(ctx, s.cfg.StaleAfter/6)
			defer bcancel()
			if err := s.cfg.Store.Heartbeat(bctx, jobID, index); err != nil && ctx.Err() == nil {
				s.log.Warn("job item heartbeat", "job", jobID, "index", index, "err", err)
			}
		})
	}()
	return func() {
		cancel()
		<-done
	}
}

// rescueLoop queues again, every StaleAfter/6 until ctx ends, the running
// items whose heartbeat stopped.
func (s *Service) rescueLoop(ctx context.Context) {
	defer close(s.rescued)
	s.everyBeat(ctx, func() {
		if err := s.rescue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("rescue job items", "err", err)
		}
	})
}

// everyBeat calls f every StaleAfter/6 until ctx ends.
func (s *Service) everyBeat(ctx context.Context, f func()) {
	t := time.NewTicker(s.cfg.StaleAfter / 6)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// rescue claims the items whose node stopped beating and queues each
// again, under arguments of its own (River still holds the dead run).
func (s *Service) rescue(ctx context.Context) error {
	items, err := s.cfg.Store.ClaimStaleItems(ctx, time.Now().Add(-s.cfg.StaleAfter), 100)
	if err != nil || len(items) == 0 {
		return err
	}
	params := make([]river.InsertManyParams, len(items))
	now := time.Now().UnixNano()
	for i, it := range items {
		s.log.Info("job item rescued: its node stopped", "job", it.JobID, "index", it.Index, "last_beat", it.UpdatedAt)
		params[i] = river.InsertManyParams{Args: captureArgs{JobID: it.JobID, Index: it.Index, Rescue: now}}
	}
	return s.queue.insertParams(ctx, params)
}
