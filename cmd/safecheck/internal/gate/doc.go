// Package gate decides which verdicts fail a CI run: it parses the
// safecheck CLI's -fail-on expression and applies it to verdicts.
//
// An expression is a comma-separated list of rules; a verdict fails the
// gate when any rule matches it. A rule is one of
//
//	flagged            the API flagged the pair
//	fail               the API's pass_fail is "fail"
//	risk OP LEVEL      compare the risk level, e.g. risk>=high
//	score OP NUMBER    compare the score (0 to 1), e.g. score>=0.7
//
// where OP is one of >=, >, <=, <, = (or ==). Any rule may be limited to
// one test type with a prefix: "toxicity:score>=0.5". Risk levels are
// ordered
//
//	low < medium < high < reject < critical
//
// (the AssuranceHub documentation shows low, high, reject and critical;
// medium is placed where its name puts it). A risk level outside this
// list, which the API may introduce, matches every risk rule, so an
// unknown level fails the gate rather than slipping through it.
package gate
