package obs

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress reports the advance of long CLI work: a bar when out is a terminal,
// a log line every interval otherwise. It is safe for concurrent use.
type Progress struct {
	mu       sync.Mutex
	bar      *progressbar.ProgressBar
	log      *slog.Logger
	what     string
	total    int64
	done     int64
	detail   string
	start    time.Time
	lastLog  time.Time
	interval time.Duration
}

// NewProgress starts reporting work of total units (-1 when unknown) named what.
func NewProgress(out io.Writer, log *slog.Logger, what string, total int64, interval time.Duration) *Progress {
	p := &Progress{log: log, what: what, total: total, start: time.Now(), lastLog: time.Now(), interval: interval}
	if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(out),
			progressbar.OptionSetDescription(what),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(what),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionFullWidth(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(out) }),
		)
	}
	return p
}

// Set records that done units are finished; detail (e.g. "event time 2001-02-03 04:00")
// is shown beside the bar.
func (p *Progress) Set(done int64, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.detail = done, detail
	if p.bar != nil {
		p.bar.Describe(p.what + " " + detail)
		_ = p.bar.Set64(done)
		return
	}
	if now := time.Now(); now.Sub(p.lastLog) >= p.interval {
		p.lastLog = now
		p.logLine("progress")
	}
}

// Finish ends the report with a last line.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
	p.logLine("done")
}

func (p *Progress) logLine(msg string) {
	el := time.Since(p.start)
	rate := float64(p.done) / el.Seconds()
	attrs := []any{"what", p.what, "done", p.done, "rate_per_s", int64(rate), "elapsed", el.Round(time.Second)}
	if p.total > 0 {
		attrs = append(attrs, "total", p.total, "percent", fmt.Sprintf("%.1f", 100*float64(p.done)/float64(p.total)))
		if rate > 0 && p.done < p.total {
			attrs = append(attrs, "eta", (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second))
		}
	}
	if p.detail != "" {
		attrs = append(attrs, "detail", p.detail)
	}
	p.log.Info(msg, attrs...)
}
