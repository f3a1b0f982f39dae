// Command fleet shows safecheck's fleet mode: three replicas of one app
// (three Guards on three loopback ports, in one process) share one Redis.
//
//	go run ./examples/fleet -demo
//
// It uses REDIS_URL when set (redis://host:port/db), else starts the
// redis-server on PATH on a free loopback port without persistence, else
// says what is missing and exits 2. Checks go to an in-process fake of the
// AssuranceHub API. It starts an incident through replica 1's admin
// handler, shows every replica sample 100 % and revert, then offers far
// more work than the plan allows and shows the fleet's calls staying under
// the plan's limit. It exits 0 when all of that held.
package main
