module github.com/safecheck/safecheck/cmd/safecheck

go 1.25.0

require github.com/safecheck/safecheck v0.0.0-00010101000000-000000000000

require (
	github.com/mitchellh/colorstring v0.0.0-20190213212951-d06e56a500db // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	github.com/schollz/progressbar/v3 v3.19.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/sys v0.46.0 // indirect
	golang.org/x/term v0.44.0 // indirect
)

replace github.com/safecheck/safecheck => ../..
