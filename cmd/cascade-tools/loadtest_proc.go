package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverProcess is a `cascade serve` child process on a loopback port: the
// load test runs two of them against one database, and the crash tests kill
// one with SIGKILL and start it again.
type serverProcess struct {
	URL  string // base URL, http://127.0.0.1:PORT
	cmd  *exec.Cmd
	logs *tailBuffer
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done is closed
}

// startServer runs `bin serve --db dsn --addr 127.0.0.1:0 extra…`, waits for
// the banner that names its address and then for /readyz to answer 200. The
// process's output is kept (its tail) for Logs. On error the process is
// killed.
func startServer(ctx context.Context, bin, dsn string, extra ...string) (*serverProcess, error) {
	args := append([]string{"serve", "--db", dsn, "--addr", "127.0.0.1:0", "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = serverEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &serverProcess{cmd: cmd, logs: newTailBuffer(64 << 10), done: make(chan struct{})}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.logs, line)
			if _, after, ok := strings.Cut(line, " listening on "); ok {
				select {
				case urls <- strings.TrimSpace(after):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { p.err = cmd.Wait(); close(p.done) }()
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	select {
	case p.URL = <-urls:
	case <-p.done:
		return nil, fmt.Errorf("cascade serve exited before listening (%v):\n%s", p.err, p.Logs())
	case <-ctx.Done():
		p.Kill()
		return nil, fmt.Errorf("cascade serve did not listen in time:\n%s", p.Logs())
	}
	if err := waitReady(ctx, p.URL); err != nil {
		p.Kill()
		return nil, fmt.Errorf("%w:\n%s", err, p.Logs())
	}
	return p, nil
}

// serverEnv is the environment of a child server: this process's, less the
// CASCADE_* settings, so only the flags configure it.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CASCADE_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady polls /readyz until it answers 200 or ctx ends.
func waitReady(ctx context.Context, base string) error {
	client := &http.Client{Timeout: 3 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s/readyz never answered 200: %w", base, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *serverProcess) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop asks the process to shut down gracefully and waits for it, killing
// it if it takes longer than the timeout.
func (p *serverProcess) Stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		var ee *exec.ExitError
		if errors.As(p.err, &ee) {
			return fmt.Errorf("cascade serve: %v", p.err)
		}
		return nil
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("cascade serve did not stop within %s; killed", timeout)
	}
}

// Logs returns the tail of the process's output.
func (p *serverProcess) Logs() string { return p.logs.String() }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
