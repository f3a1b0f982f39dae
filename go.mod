module github.com/safecheck/safecheck

go 1.26.0

require (
	github.com/failsafe-go/failsafe-go v0.9.8
	github.com/felixge/httpsnoop v1.1.0
	github.com/go-json-experiment/json v1.27.2
	github.com/patrickmn/go-cache v2.1.0+incompatible
	github.com/samber/slog-multi v1.7.1
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.25.0
)

require (
	github.com/bits-and-blooms/bitset v1.24.4 // indirect
	github.com/samber/lo v1.52.0 // indirect
	github.com/samber/slog-common v0.20.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.43.0 // indirect
)
