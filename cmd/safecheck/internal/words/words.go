package words

import "strconv"

// N returns n followed by the noun that goes with it: one when n is 1,
// many otherwise ("1 case", "0 cases", "2 cases").
func N(n int, one, many string) string {
	return strconv.Itoa(n) + " " + Plural(n, one, many)
}

// Plural returns one when n is 1 and many otherwise, for messages where
// the count and the noun are apart ("2 pairs fail", "1 pair fails").
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
