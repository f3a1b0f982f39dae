package progress

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestPlainLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		r, err := New(&buf, 20, WithMode(Plain), WithInterval(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if r.Mode() != Plain {
			t.Fatalf("Mode = %s", r.Mode())
		}
		// One pair a second: a 10 % line every two pairs, and a timed line
		// every ten seconds.
		for i := 1; i <= 20; i++ {
			time.Sleep(time.Second)
			synctest.Wait()
			r.Add(i == 3, i == 7)
		}
		r.Finish()
		want := `progress: 2/20 pairs (10%), 1.0/s, elapsed 2s, eta 18s, flagged 0, errors 0
progress: 4/20 pairs (20%), 1.0/s, elapsed 4s, eta 16s, flagged 1, errors 0
progress: 6/20 pairs (30%), 1.0/s, elapsed 6s, eta 14s, flagged 1, errors 0
progress: 8/20 pairs (40%), 1.0/s, elapsed 8s, eta 12s, flagged 1, errors 1
progress: 9/20 pairs (45%), 0.9/s, elapsed 10s, eta 12s, flagged 1, errors 1
progress: 10/20 pairs (50%), 1.0/s, elapsed 10s, eta 10s, flagged 1, errors 1
progress: 12/20 pairs (60%), 1.0/s, elapsed 12s, eta 8s, flagged 1, errors 1
progress: 14/20 pairs (70%), 1.0/s, elapsed 14s, eta 6s, flagged 1, errors 1
progress: 16/20 pairs (80%), 1.0/s, elapsed 16s, eta 4s, flagged 1, errors 1
progress: 18/20 pairs (90%), 1.0/s, elapsed 18s, eta 2s, flagged 1, errors 1
progress: 19/20 pairs (95%), 0.9/s, elapsed 20s, eta 1s, flagged 1, errors 1
progress: 20/20 pairs (100%), 1.0/s, elapsed 20s, eta 0s, flagged 1, errors 1
`
		if got := buf.String(); got != want {
			t.Errorf("lines:\n%s\nwant\n%s", got, want)
		}
	})
}

func TestPlainStalledRunStillReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		r, err := New(&buf, 100, WithMode(Plain), WithInterval(5*time.Second), WithLabel("eval"))
		if err != nil {
			t.Fatal(err)
		}
		r.Add(false, false)
		time.Sleep(16 * time.Second) // a long 429 pause: nothing finishes
		synctest.Wait()
		r.Finish()
		lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
		// Three timed lines; Finish adds none, since the last one already
		// says 1/100.
		if len(lines) != 3 {
			t.Fatalf("got %d lines, want 3:\n%s", len(lines), buf.String())
		}
		for _, l := range lines {
			if !strings.HasPrefix(l, "eval: 1/100 pairs (1%)") {
				t.Errorf("unexpected line %q", l)
			}
		}
		if !strings.Contains(lines[2], "elapsed 15s") {
			t.Errorf("final line %q does not say 15s", lines[2])
		}
	})
}

func TestPlainOnlyDeciles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		r, err := New(&buf, 3, WithMode(Plain), WithInterval(0))
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			time.Sleep(time.Minute)
			r.Add(false, false)
		}
		r.Finish()
		r.Finish() // a second call does nothing
		r.Add(true, true)
		if n := strings.Count(buf.String(), "\n"); n != 3 {
			t.Errorf("got %d lines, want 3 (33%%, 66%%, 100%%):\n%s", n, buf.String())
		}
		if !strings.Contains(buf.String(), "3/3 pairs (100%), 0.0/s, elapsed 3m0s, eta 0s, flagged 0, errors 0") {
			t.Errorf("no final line:\n%s", buf.String())
		}
	})
}

func TestPlainInterruptedWritesFinalLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		r, err := New(&buf, 1000, WithMode(Plain), WithInterval(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		for range 50 {
			r.Add(false, false)
		}
		r.Printf("interrupted: letting %d calls finish\n", 3)
		r.Finish()
		want := "interrupted: letting 3 calls finish\n" +
			"progress: 50/1000 pairs (5%), 25.0/s, elapsed 2s, eta 38s, flagged 0, errors 0\n"
		if buf.String() != want {
			t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
		}
	})
}

// TestPlainFinishSaysItOnce: interrupted just after a line, Finish does
// not write the same count again; with more done since, it does.
func TestPlainFinishSaysItOnce(t *testing.T) {
	tests := []struct {
		name string
		adds int
		want []string
	}{
		{"right after a 10 % line", 3, []string{"1/10 pairs (10%)", "2/10 pairs (20%)", "3/10 pairs (30%)"}},
		{"nothing done", 0, []string{"0/10 pairs (0%)"}},
		{"one pair of one", 1, []string{"1/1 pair (100%)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				total := 10
				if tt.name == "one pair of one" {
					total = 1
				}
				var buf bytes.Buffer
				r, err := New(&buf, total, WithMode(Plain), WithInterval(time.Hour))
				if err != nil {
					t.Fatal(err)
				}
				for range tt.adds {
					time.Sleep(time.Second)
					r.Add(false, false)
				}
				r.Printf("interrupted: letting 2 calls finish\n")
				r.Finish()
				var got []string
				for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
					if p, ok := strings.CutPrefix(l, "progress: "); ok {
						got = append(got, p[:strings.Index(p, ")")+1])
					}
				}
				if strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Errorf("progress lines %q, want %q:\n%s", got, tt.want, buf.String())
				}
			})
		})
	}
}

func TestBar(t *testing.T) {
	var buf bytes.Buffer
	r, err := New(&buf, 3, WithMode(Bar))
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode() != Bar {
		t.Fatalf("Mode = %s", r.Mode())
	}
	r.Add(true, false)
	r.Add(false, true)
	r.Printf("a message\n")
	r.Add(false, false)
	r.Finish()
	out := buf.String()
	for _, want := range []string{"flagged 1 · errors 1", "3/3", "100%", "pairs/s", "a message\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q:\n%q", want, out)
		}
	}
	// No frame before the first pair: it would show no rate ("0 pairs/hr")
	// and an endless time left.
	for _, unwanted := range []string{"0/3", "pairs/hr", "pairs/min"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("bar output has %q:\n%q", unwanted, out)
		}
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("the finished bar does not end its line: %q", out)
	}
}

func TestBarInterrupted(t *testing.T) {
	var buf bytes.Buffer
	r, err := New(&buf, 10, WithMode(Bar))
	if err != nil {
		t.Fatal(err)
	}
	r.Add(false, false)
	r.Finish()
	out := buf.String()
	// The bar's line is cleared and the final state written there, once.
	last := out[strings.LastIndex(out, "\r")+1:]
	if !strings.HasPrefix(last, "progress: 1/10 pairs (10%)") || !strings.HasSuffix(last, "\n") ||
		strings.Count(out, "\n") != 1 || strings.Count(out, "1/10") != 2 {
		t.Errorf("interrupted bar: %q", out)
	}
}

func TestAutoMode(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tests := []struct {
		name string
		opts []Option
		w    interface{ Write([]byte) (int, error) }
		want Mode
	}{
		{"buffer", nil, &bytes.Buffer{}, Plain},
		{"regular file", nil, f, Plain},
		{"said to be a terminal", []Option{WithTerminal(true)}, &bytes.Buffer{}, Bar},
		{"said not to be a terminal", []Option{WithTerminal(false)}, &bytes.Buffer{}, Plain},
		{"off", []Option{WithMode(Off)}, &bytes.Buffer{}, Off},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.w, 5, append(tt.opts, WithInterval(0))...)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Finish()
			if r.Mode() != tt.want {
				t.Errorf("Mode = %s, want %s", r.Mode(), tt.want)
			}
		})
	}
}

func TestOffWritesNothing(t *testing.T) {
	for _, tc := range []struct {
		mode  Mode
		total int
	}{{Off, 5}, {Plain, 0}, {Bar, 0}} {
		var buf bytes.Buffer
		r, err := New(&buf, tc.total, WithMode(tc.mode))
		if err != nil {
			t.Fatal(err)
		}
		r.Add(true, true)
		r.Finish()
		if buf.Len() != 0 {
			t.Errorf("mode %s, total %d wrote %q", tc.mode, tc.total, buf.String())
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"unknown mode", []Option{WithMode("fancy")}, `unknown progress mode "fancy"`},
		{"negative interval", []Option{WithInterval(-time.Second)}, "interval must not be negative"},
		{"nil option", []Option{WithMode(Off), nil}, "progress: option 2 is nil"},
	} {
		if _, err := New(&bytes.Buffer{}, 1, tc.opts...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(&bytes.Buffer{}, -1); err == nil {
		t.Error("New accepted a negative total")
	}
	if _, err := ParseMode("fancy"); err == nil {
		t.Error("ParseMode accepted fancy")
	}
	for _, m := range []string{"auto", "bar", "plain", "off"} {
		if got, err := ParseMode(m); err != nil || string(got) != m {
			t.Errorf("ParseMode(%q) = %q, %v", m, got, err)
		}
	}
}
