// Package demo holds what the two example programs share besides their
// safecheck setup, which each keeps in its main.go for readers to copy:
// the demo's "model" (Answer), the traffic it sends (Traffic), the story
// it prints on stdout (Story) and the verdict records it shows (Records).
package demo
