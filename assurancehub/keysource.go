package assurancehub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
)

// The environments WithEnvironment accepts. AssuranceHub's best practices
// ask for separate keys per environment and no production key in
// development.
const (
	// Development refuses live keys ("ash_live_...").
	Development = "development"
	// Staging accepts test and live keys.
	Staging = "staging"
	// Production refuses test keys ("ash_test_...").
	Production = "production"
)

// ErrKeyEnvironment means a key is of the wrong kind for the environment
// set with WithEnvironment: a live key in development or a test key in
// production. Errors wrapping it never contain the key.
var ErrKeyEnvironment = errors.New("assurancehub: API key does not match the environment")

// MaxKeyFileBytes is the largest key file FileKeySource reads.
const MaxKeyFileBytes = 4 << 10

// WithKeyFromEnv makes New read the API key from the environment variable
// name instead of EnvAPIKey. The variable is read once, by New; leading and
// trailing white space is ignored.
func WithKeyFromEnv(name string) Option {
	return optionFunc(func(c *config) {
		c.keyEnv = name
		c.keyEnvSet = true
	})
}

// WithKeyFile reads the API key from the file at path, such as a mounted
// Kubernetes or Docker secret, and rotates to a new key when the file
// changes, without a restart. It is WithKeySource(FileKeySource(path)),
// except that New reads the file once and fails if it cannot be read or
// holds a key that is refused (bad shape, or the wrong kind for
// WithEnvironment).
func WithKeyFile(path string) Option {
	return optionFunc(func(c *config) {
		c.keyFile = path
		c.keyFileSet = true
	})
}

// WithEnvironment declares the environment the Client runs in:
// Development, Staging or Production. In development a live key is
// refused, in production a test key is refused, by New for a fixed key and
// on every rotation for a key source (the last good key is then kept, see
// WithKeySource). Without this option both kinds are accepted, and the
// first live key the Client sees is logged once as a warning naming its
// Fingerprint (to the WithLogger logger), since nothing then stops a live
// key being used in development.
func WithEnvironment(env string) Option {
	return optionFunc(func(c *config) {
		c.environment = env
		c.environmentSet = true
	})
}

// WithLogger sets the logger that reports key rotations (by fingerprint),
// key source failures and a live key used without WithEnvironment, each
// once. The default is slog.Default(). Keys never appear in its records.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		c.logger = l
		c.loggerSet = true
	})
}

func validEnvironment(env string) bool {
	return env == Development || env == Staging || env == Production
}

// checkKey checks a key's shape and, when env is set, its kind. Its errors
// never contain the key.
func checkKey(key, env string) error {
	if err := validateKey(key); err != nil {
		return err
	}
	switch {
	case env == Development && strings.HasPrefix(key, "ash_live_"):
		return fmt.Errorf("%w: a live key (ash_live_) is refused in %s; use a test key", ErrKeyEnvironment, env)
	case env == Production && strings.HasPrefix(key, "ash_test_"):
		return fmt.Errorf("%w: a test key (ash_test_) is refused in %s; use a live key", ErrKeyEnvironment, env)
	}
	return nil
}

// isLiveKey reports whether key is a well-formed live key.
func isLiveKey(key string) bool {
	return strings.HasPrefix(key, "ash_live_") && validateKey(key) == nil
}

// logLiveKey warns that a live key is in use while no environment was
// declared, so nothing would stop it being used in development.
func logLiveKey(ctx context.Context, log *slog.Logger, key string) {
	log.LogAttrs(ctx, slog.LevelWarn, "AssuranceHub live API key (ash_live_) in use without WithEnvironment: "+
		"declare the environment so that development refuses live keys and production refuses test keys",
		slog.String("fingerprint", Fingerprint(key)))
}

// warnOnLiveKey wraps a key source so that the first live key it returns
// is warned about once (see logLiveKey); used by New when no environment is
// declared.
func warnOnLiveKey(src KeySource, log *slog.Logger) KeySource {
	var warned atomic.Bool
	return func(ctx context.Context) (string, error) {
		key, err := src(ctx)
		if err == nil && !warned.Load() && isLiveKey(key) && warned.CompareAndSwap(false, true) {
			logLiveKey(ctx, log, key)
		}
		return key, err
	}
}

// Fingerprint returns a short, stable identifier of key that is safe to log:
// "sha256:" followed by the first 8 hex digits of the key's SHA-256 digest.
// Operators compare fingerprints to tell which key is in use; the key cannot
// be recovered from it. The fingerprint of "" is "".
func Fingerprint(key string) string {
	if key == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:4])
}

// KeyFingerprint returns the Fingerprint of the key the Client sends: the
// fixed key, or the last good key of its key source ("" before the source
// has returned one).
func (c *Client) KeyFingerprint() string {
	if c.keySource == nil {
		return Fingerprint(c.staticKey)
	}
	if k := c.goodKey.Load(); k != nil {
		return Fingerprint(k.key)
	}
	return ""
}

// ActiveKeyFingerprint returns the Fingerprint of the key the next request
// would send, without sending anything. For a fixed key it is that key's
// fingerprint. For a key source it reads the source exactly as a request
// does, with the same checks and the same fallback to the last good key, so
// the read may record a rotation (and log it) like a request's would; an
// error is the one a request would fail with, which happens only before the
// source has returned a good key.
//
// After the API rejects the key (401 or 403), a caller polls it to learn
// when the key has changed: a fingerprint other than the rejected key's
// means the next request carries a new key.
func (c *Client) ActiveKeyFingerprint(ctx context.Context) (string, error) {
	key, err := c.apiKey(ctx)
	if err != nil {
		return "", err
	}
	if k := c.goodKey.Load(); c.keySource != nil && k != nil {
		// A read that started after this one may have been recorded first.
		key = k.key
	}
	return Fingerprint(key), nil
}

// readKey is a key a key source returned and the ticket of the read that
// returned it. Tickets order reads by when they started, so a read that
// started later supersedes one that finished later.
type readKey struct {
	key    string
	ticket uint64
}

// FileKeySource returns a KeySource that reads the API key from the file at
// path (leading and trailing white space ignored, at most MaxKeyFileBytes).
//
// Each call compares the file's identity, size and modification time with
// those of the last read (one stat call) and reads the file again only when
// they differ, so a rotated secret is picked up by the next request while
// requests already sent finish with the key they were sent with. Replace the
// file atomically (write a new file and rename it over the old one, as
// Kubernetes does for mounted secrets); a file rewritten in place with the
// same size within the file system's timestamp granularity may be missed
// until its next change. Read errors are returned; the Client then keeps the
// last good key (see WithKeySource). Errors name the path, never the file's
// content.
func FileKeySource(path string) KeySource {
	f := &keyFile{path: path}
	return f.key
}

// keyFile is the state of a FileKeySource.
type keyFile struct {
	path string

	mu   sync.Mutex
	info os.FileInfo // of the file the key was read from
	val  string
}

func (f *keyFile) key(context.Context) (string, error) {
	st, err := os.Stat(f.path)
	if err != nil {
		return "", fmt.Errorf("key file: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.info != nil && sameVersion(f.info, st) {
		return f.val, nil
	}
	key, info, err := readKeyFile(f.path)
	if err != nil {
		return "", err
	}
	f.info, f.val = info, key
	return key, nil
}

// sameVersion reports whether a and b describe the same version of a file.
func sameVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// readKeyFile reads a key file and describes the version it read, taken
// from the open file so that the two belong together.
func readKeyFile(path string) (string, os.FileInfo, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", nil, fmt.Errorf("key file: %w", err)
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return "", nil, fmt.Errorf("key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return "", nil, fmt.Errorf("key file %s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(fh, MaxKeyFileBytes+1))
	if err != nil {
		return "", nil, fmt.Errorf("key file: %w", err)
	}
	if len(b) > MaxKeyFileBytes {
		return "", nil, fmt.Errorf("key file %s: larger than %d bytes", path, MaxKeyFileBytes)
	}
	return strings.TrimSpace(string(b)), info, nil
}

// apiKey returns the key for one request. A key source's result is checked;
// once a good key has been seen, a failing source or a refused key falls
// back to the last good key and is reported once. A good key becomes the
// last good key unless a read that started later has already been recorded:
// such a stale key is sent with this request only.
func (c *Client) apiKey(ctx context.Context) (string, error) {
	if c.keySource == nil {
		return c.staticKey, nil
	}
	ticket := c.keyReads.Add(1)
	key, err := c.keySource(ctx)
	if err == nil {
		err = checkKey(key, c.environment)
	}
	if err != nil {
		// A source's own error text might quote what it read.
		err = fmt.Errorf("assurancehub: API key source: %w", &redactedError{err: err, red: newRedactor(key)})
		last := c.goodKey.Load()
		if last == nil {
			return "", err
		}
		if c.keyFailing.CompareAndSwap(false, true) {
			c.log.LogAttrs(ctx, slog.LevelWarn, "AssuranceHub API key source failed; still sending the last good key",
				slog.String("fingerprint", Fingerprint(last.key)), slog.String("error", err.Error()))
		}
		return last.key, nil
	}
	if !c.recordKey(ctx, key, ticket) {
		return key, nil // stale
	}
	if c.keyFailing.CompareAndSwap(true, false) {
		c.log.LogAttrs(ctx, slog.LevelInfo, "AssuranceHub API key source recovered",
			slog.String("fingerprint", Fingerprint(key)))
	}
	return key, nil
}

// recordKey makes key, read with ticket, the last good key and logs a
// rotation when it replaces another key. It reports false, and changes
// nothing, when a read with a later ticket has been recorded.
func (c *Client) recordKey(ctx context.Context, key string, ticket uint64) bool {
	next := &readKey{key: key, ticket: ticket}
	for {
		last := c.goodKey.Load()
		if last != nil && last.ticket > ticket {
			return false
		}
		if !c.goodKey.CompareAndSwap(last, next) {
			continue
		}
		if last != nil && last.key != key {
			c.log.LogAttrs(ctx, slog.LevelInfo, "AssuranceHub API key rotated",
				slog.String("fingerprint", Fingerprint(key)), slog.String("previous_fingerprint", Fingerprint(last.key)))
		}
		return true
	}
}

// primeKey reads a key source once at construction, for WithKeyFile.
func (c *Client) primeKey(what string) error {
	ticket := c.keyReads.Add(1)
	key, err := c.keySource(context.Background())
	if err == nil {
		err = checkKey(key, c.environment)
	}
	if err != nil {
		return fmt.Errorf("assurancehub: %s: %w", what, &redactedError{err: err, red: newRedactor(key)})
	}
	c.goodKey.Store(&readKey{key: key, ticket: ticket})
	return nil
}
