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
		f.db.Now = func() time.Time { return due.Add(time.Minute) }
		if n, err := sqlstore.NewDeadlineQueue(f.db).FireDue(context.Background()); err != nil || n != 3 {
			t.Fatalf("fired %d: %v", n, err)
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
