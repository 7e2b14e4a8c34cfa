package notify_test

import (
	"bufio"
	"context"
	"mime"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cascade-planning/cascade/notify"
	"github.com/cascade-planning/cascade/planning"
	"github.com/cascade-planning/cascade/planning/sqlstore"
)

// smtpServer is a minimal in-process SMTP server that keeps what it is
// sent: enough of RFC 5321 for net/smtp's client.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	mail []sentMail
}

type sentMail struct {
	from string
	to   []string
	data string
}

func newSMTPServer(t *testing.T) *smtpServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(line string) { c.Write([]byte(line + "\r\n")) }
	say("220 test ESMTP")
	var m sentMail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 test")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m = sentMail{from: strings.TrimSpace(line[10:])}
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.to = append(m.to, strings.Trim(strings.TrimSpace(line[8:]), "<>"))
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.data = b.String()
			s.mu.Lock()
			s.mail = append(s.mail, m)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

// TestMailerSendsRemindersAndEscalations: with SMTP configured, a
// reminder goes to the branch managers who have not answered and the
// escalation to the product managers and the strategy office, each once
// even with two mailers (servers) running.
func TestMailerSendsRemindersAndEscalations(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		srv := newSMTPServer(t)
		if notify.NewMailer(notify.SMTPConfig{}, f.svcs, nil, nil) != nil {
			t.Fatal("mail is on without an SMTP address")
		}
		cfg := notify.SMTPConfig{Addr: srv.ln.Addr().String(), From: "cascade@plan.example"}
		mailers := []*notify.Mailer{
			notify.NewMailer(cfg, f.svcs, sqlstore.NewEventCursors(f.db), nil),
			notify.NewMailer(cfg, f.svcs, sqlstore.NewEventCursors(f.db), nil),
		}
		// The cursor starts at the newest event: history is not mailed.
		if _, err := mailers[0].RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		strategy := f.as("strategy")
		ms, _, _ := f.svcs.Measures.FindMeasures(strategy, planning.MeasureFilter{})
		due := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		r := &planning.Round{Code: "MAIL", Name: "Plan 2027", FiscalYear: 2027, FirstMonth: 1, MeasureIDs: []int64{ms[0].ID},
			Calendar: []planning.Deadline{{Phase: planning.RoundCounterproposals, Due: due}}}
		if err := f.svcs.Rounds.CreateRound(strategy, r); err != nil {
			t.Fatal(err)
		}
		for _, to := range []planning.RoundStatus{planning.RoundOpen, planning.RoundCounterproposals} {
			if _, err := f.svcs.Rounds.TransitionRound(strategy, r.ID, to, "", nil); err != nil {
				t.Fatal(err)
			}
		}
		// Each timer fires in its own time: the two reminders, then the
		// escalation (fired together, the reminders would be superseded).
		for _, at := range []time.Duration{-71 * time.Hour, -23 * time.Hour, time.Minute} {
			f.db.Now = func() time.Time { return due.Add(at) }
			if n, err := sqlstore.NewDeadlineQueue(f.db).FireDue(context.Background()); err != nil || n != 1 {
				t.Fatalf("at %s fired %d: %v", at, n, err)
			}
		}
		var wg sync.WaitGroup
		for _, m := range mailers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 5 {
					if _, err := m.RunOnce(context.Background()); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		srv.mu.Lock()
		defer srv.mu.Unlock()
		var reminders, escalations int
		for _, m := range srv.mail {
			msg, err := mail.ReadMessage(strings.NewReader(m.data))
			if err != nil {
				t.Fatal(err)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case strings.HasPrefix(subject, "Reminder: Plan 2027"):
				reminders++
				if !containsAddr(m.to, "bm-sh@start.example") || containsAddr(m.to, "strategy@start.example") {
					t.Errorf("reminder to %v", m.to)
				}
			case strings.HasPrefix(subject, "Escalation: Plan 2027"):
				escalations++
				if !containsAddr(m.to, "strategy@start.example") || !containsAddr(m.to, "pm-industry@start.example") || containsAddr(m.to, "bm-sh@start.example") {
					t.Errorf("escalation to %v", m.to)
				}
			}
		}
		if reminders != 2 || escalations != 1 {
			t.Fatalf("%d reminders and %d escalations, want 2 and 1 (mail %d)", reminders, escalations, len(srv.mail))
		}
	})
}

func containsAddr(to []string, a string) bool {
	for _, x := range to {
		if x == a {
			return true
		}
	}
	return false
}

// TestMailerSendsDecisions: the author of a counterproposal gets an
// e-mail when the product manager decides it, and nobody else does.
func TestMailerSendsDecisions(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		srv := newSMTPServer(t)
		m := notify.NewMailer(notify.SMTPConfig{Addr: srv.ln.Addr().String(), From: "cascade@plan.example"}, f.svcs, sqlstore.NewEventCursors(f.db), nil)
		if _, err := m.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		strategy, bm, pm := f.as("strategy"), f.as("bm-sh"), f.as("pm-industry")
		ms, _, _ := f.svcs.Measures.FindMeasures(strategy, planning.MeasureFilter{Code: "revenue"})
		r := &planning.Round{Code: "DEC", Name: "Plan 2027", FiscalYear: 2027, FirstMonth: 1, MeasureIDs: []int64{ms[0].ID}}
		if err := f.svcs.Rounds.CreateRound(strategy, r); err != nil {
			t.Fatal(err)
		}
		for _, to := range []planning.RoundStatus{planning.RoundOpen, planning.RoundCounterproposals} {
			var err error
			if r, err = f.svcs.Rounds.TransitionRound(strategy, r.ID, to, "", nil); err != nil {
				t.Fatal(err)
			}
		}
		units, _, _ := f.svcs.OrgUnits.FindOrgUnits(strategy, planning.OrgUnitFilter{Code: "B-SH"})
		pls, _, _ := f.svcs.ProductLines.FindProductLines(strategy, planning.ProductLineFilter{Code: "POS"})
		cp, err := f.svcs.Proposals.CreateCounterproposal(bm, *r.WorkingVersionID, units[0].ID, "Shanghai 2027", []planning.LineInput{{
			ProductLineID: pls[0].ID, MeasureID: ms[0].ID, Period: planning.YearPeriod, Proposed: decimal.RequireFromString("100.00"), Reason: "r"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.svcs.Proposals.Submit(bm, cp.ID, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svcs.Proposals.Decide(pm, cp.ID, []planning.LineDecision{{LineID: cp.Lines[0].ID, Action: planning.DecisionReject, Comment: "no"}}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := m.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if len(srv.mail) != 1 || len(srv.mail[0].to) != 1 || srv.mail[0].to[0] != "bm-sh@start.example" || !strings.Contains(srv.mail[0].data, "Shanghai 2027") {
			t.Fatalf("mail %+v", srv.mail)
		}
	})
}
