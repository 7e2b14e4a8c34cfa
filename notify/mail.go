package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net/smtp"
	"strings"
	"time"

	"github.com/cascade-planning/cascade/planning"
)

// SMTPConfig is the optional e-mail sender. Mail is off while Addr is
// empty.
type SMTPConfig struct {
	Addr     string // host:port of the submission server
	From     string // the envelope and header sender
	Username string // PLAIN authentication, when set
	Password string
}

// Mailer sends e-mail for the events people act on: deadline reminders to
// those who have not answered, escalations to the product managers and the
// strategy office, and decisions to the counterproposal's author. It reads
// the outbox through a shared cursor, so with several servers each event is
// mailed by one of them.
type Mailer struct {
	cfg     SMTPConfig
	svcs    planning.Services
	cursors planning.EventCursors
	logger  *slog.Logger
	// send is smtp.SendMail; tests keep it.
	send func(addr string, a smtp.Auth, from string, to []string, msg []byte) error
}

// NewMailer returns a mailer; nil when cfg.Addr is empty.
func NewMailer(cfg SMTPConfig, svcs planning.Services, cursors planning.EventCursors, logger *slog.Logger) *Mailer {
	if cfg.Addr == "" {
		return nil
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Mailer{cfg: cfg, svcs: svcs, cursors: cursors, logger: logger, send: smtp.SendMail}
}

const mailCursor = "mail"

// RunOnce mails the events since the cursor, returning how many events it
// read. A failed send stops the batch there; it is tried again next time.
func (m *Mailer) RunOnce(ctx context.Context) (int, error) {
	last, ok, err := m.cursors.ClaimCursor(ctx, mailCursor, 2*time.Minute)
	if err != nil || !ok {
		return 0, err
	}
	ctx = planning.NewContextWithActor(ctx, planning.SystemActor())
	evs, read, err := m.svcs.Events.FindEvents(ctx, planning.EventFilter{AfterID: last, Limit: 100})
	pos := last
	if err == nil {
		pos = read
		for _, e := range evs {
			if err = m.mail(ctx, e); err != nil {
				pos = e.ID - 1
				break
			}
		}
	}
	if rerr := m.cursors.ReleaseCursor(context.WithoutCancel(ctx), mailCursor, pos); err == nil {
		err = rerr
	}
	return int(pos - last), err
}

// Run mails until ctx ends, looking every poll.
func (m *Mailer) Run(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := m.RunOnce(ctx); err != nil && ctx.Err() == nil {
			m.logger.Warn("mail", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type mailDetails struct {
	Deadline *struct {
		Phase string    `json:"phase"`
		Due   time.Time `json:"due"`
	} `json:"deadline"`
	Waiting []struct {
		UserID int64 `json:"user_id"`
	} `json:"waiting"`
	EscalatedTo []int64 `json:"escalated_to"`
	AuthorID    int64   `json:"author_id"`
	Title       string  `json:"title"`
	Status      string  `json:"status"`
}

func (m *Mailer) mail(ctx context.Context, e *planning.Event) error {
	var d mailDetails
	if len(e.Data) > 0 {
		if err := json.Unmarshal(e.Data, &d); err != nil {
			return nil // not one of ours
		}
	}
	var to []int64
	var subject, body string
	round := ""
	if e.RoundID != nil {
		if r, err := m.svcs.Rounds.FindRoundByID(ctx, *e.RoundID); err == nil {
			round = r.Name
		}
	}
	switch e.Type {
	case planning.EventDeadlineApproaching:
		for _, w := range d.Waiting {
			to = append(to, w.UserID)
		}
		subject = fmt.Sprintf("Reminder: %s — the %s phase is due %s", round, d.Deadline.Phase, d.Deadline.Due.UTC().Format("2006-01-02 15:04 MST"))
		body = "Your answer for this phase has not arrived yet. Open Cascade to review your targets and submit your counterproposal or approval before the deadline."
	case planning.EventDeadlinePassed:
		to = d.EscalatedTo
		subject = fmt.Sprintf("Escalation: %s — the %s deadline passed with %d still to answer", round, d.Deadline.Phase, len(d.Waiting))
		body = "The deadline of this phase has passed and some answers are missing. Open Cascade to see who has not answered."
	case planning.EventCounterproposalDecided:
		to = []int64{d.AuthorID}
		subject = fmt.Sprintf("Decided: your counterproposal %q in %s", d.Title, round)
		body = "The product manager has decided your counterproposal. Open Cascade to see each line's decision."
	default:
		return nil
	}
	var addrs []string
	for _, id := range to {
		u, err := m.svcs.Users.FindUserByID(ctx, id)
		if err != nil || !u.Active || u.Email == "" {
			continue
		}
		addrs = append(addrs, u.Email)
	}
	if len(addrs) == 0 {
		return nil
	}
	msg := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <event-%d@cascade>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
		m.cfg.From, strings.Join(addrs, ", "), mime.QEncoding.Encode("utf-8", subject), time.Now().UTC().Format(time.RFC1123Z), e.ID, body)
	var auth smtp.Auth
	if m.cfg.Username != "" {
		host, _, _ := strings.Cut(m.cfg.Addr, ":")
		auth = smtp.PlainAuth("", m.cfg.Username, m.cfg.Password, host)
	}
	return m.send(m.cfg.Addr, auth, m.cfg.From, addrs, []byte(msg))
}
