// Package words formats the counts in the CLI's messages, so that every
// message says "1 case" and "2 cases".
package words
