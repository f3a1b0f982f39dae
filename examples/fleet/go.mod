module github.com/safecheck/safecheck/examples/fleet

go 1.26.0

require (
	github.com/redis/go-redis/v9 v9.23.0
	github.com/safecheck/safecheck v0.1.0
	github.com/safecheck/safecheck/adapters/redis v0.1.0
	go.uber.org/goleak v1.3.0
)

replace (
	github.com/safecheck/safecheck => ../..
	github.com/safecheck/safecheck/adapters/redis => ../../adapters/redis
)
