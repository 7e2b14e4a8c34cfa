package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cascade-planning/cascade/notify"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// startSenders starts the outbox's background senders: the webhook
// delivery worker, the deadline timers and, when configured, e-mail. Every
// one is safe to run in any number of servers on one database.
func (m *Main) startSenders(svcs planning.Services) error {
	n := m.Config.Notify
	ctx, cancel := context.WithCancel(context.Background())
	m.stopSenders, m.senders = cancel, make(chan struct{})
	if n.Off {
		close(m.senders)
		return nil
	}
	allow, err := notify.ParseAllowList(n.WebhookAllow)
	if err != nil {
		cancel()
		return err
	}
	if n.Poll <= 0 {
		n.Poll = time.Second
	}
	worker := notify.NewWorker(sqlstore.NewDeliveryQueue(m.db), notify.WorkerConfig{Poll: n.Poll, Timeout: n.WebhookTimeout,
		Retry: planning.RetryPolicy{Base: n.RetryBase, Max: n.RetryMax, For: n.RetryFor}, Guard: &notify.Guard{Allow: allow}, Logger: m.Logger})
	deadlines := sqlstore.NewDeadlineQueue(m.db)
	mailer := notify.NewMailer(n.SMTP, svcs, sqlstore.NewEventCursors(m.db), m.Logger)
	var wg sync.WaitGroup
	wg.Go(func() { worker.Run(ctx) })
	wg.Go(func() {
		t := time.NewTicker(n.Poll)
		defer t.Stop()
		for {
			if _, err := deadlines.FireDue(ctx); err != nil && ctx.Err() == nil {
				m.Logger.Warn("deadline timers", slog.Any("error", err))
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	})
	if mailer != nil {
		wg.Go(func() { mailer.Run(ctx, n.Poll) })
	}
	go func() { wg.Wait(); close(m.senders) }()
	return nil
}
