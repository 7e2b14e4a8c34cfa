package planning

import (
	"context"
	"sync"
	"time"
)

// JobWorker runs the allocation jobs that wait, in the service's own
// goroutines: at most Concurrency at once, each taking the next job as
// soon as it is free, woken when this process queues one and polling
// otherwise (for jobs other servers queued, or left behind when they
// died).
type JobWorker struct {
	Jobs AllocationJobService
	// Concurrency is how many jobs run at once; at least 1.
	Concurrency int
	// Poll is how long an idle worker waits before it looks again.
	Poll time.Duration
	// Wake, when it delivers, ends an idle worker's wait at once.
	Wake <-chan struct{}
	// OnError is told of errors the worker met while claiming a job.
	OnError func(error)
}

// Run runs jobs until ctx ends, then returns once the jobs it was running
// have given their jobs back (a job stopped by shutting down is queued
// again and runs after the restart, here or on another server).
func (w *JobWorker) Run(ctx context.Context) {
	n := max(w.Concurrency, 1)
	poll := w.Poll
	if poll <= 0 {
		poll = 2 * time.Second
	}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				ran, err := w.Jobs.RunNextAllocationJob(ctx)
				if err != nil && ctx.Err() == nil && w.OnError != nil {
					w.OnError(err)
				}
				if ran {
					continue
				}
				t := time.NewTimer(poll)
				select {
				case <-ctx.Done():
				case <-w.Wake:
				case <-t.C:
				}
				t.Stop()
			}
		}()
	}
	wg.Wait()
}
