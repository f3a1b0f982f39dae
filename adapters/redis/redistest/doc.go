// Package redistest starts a real redis-server on a free loopback port,
// without persistence (--save "" and --appendonly no), for tests and demos of
// fleet mode: it runs the redis-server found on PATH and never downloads
// one.
package redistest
