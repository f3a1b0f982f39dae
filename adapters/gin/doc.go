// Package safecheckgin mounts safecheck on gin applications.
//
// It is the gin adapter of github.com/safecheck/safecheck: on each
// configured route it samples a share of the prompt/response pairs the app
// serves, copies them without changing anything the client receives, and
// hands them to the Guard, which checks them in the background against the
// AssuranceHub safety API and logs one record per verdict. It lives in its
// own Go module so that net/http users of safecheck never pull in gin.
//
// # Mounting
//
// One global middleware carries a table of routes, keyed by the request
// method and gin's route template (c.FullPath()):
//
//	guard, err := safecheck.New(safecheck.AssuranceHub(client), safecheck.WithLogger(logger))
//	defer guard.Close(ctx)
//	mw, err := safecheckgin.Middleware(guard,
//		safecheckgin.WithRoute("POST", "/v1/chat/completions", safecheck.WithSampleRate(0.2)),
//		safecheckgin.WithRoute("POST", "/v1/support/:ticket", safecheck.WithSampleRate(1)),
//		safecheckgin.WithCustomerIDFromContextKey("customer_id"),
//	)
//	r := gin.New()
//	r.Use(gin.Recovery(), auth, mw)
//
// Each table entry is a safecheck route named method+" "+path, for example
// "POST /v1/support/:ticket": that is the name to pass to
// Guard.StartIncident and Guard.SetSampleRate and the name Stats and the
// verdict records show. Requests whose route is not in the table, and 404
// and 405 answers, are not sampled and cost a table lookup (no allocation).
//
// To guard one route or one group without a table, mount Route on it:
//
//	chat, err := safecheckgin.Route(guard, "chat", safecheck.WithSampleRate(0.2))
//	v1 := r.Group("/v1", chat)
//
// # Ordering
//
// Mount the middleware after gin.Recovery, so that a panic reaches Recovery
// unchanged, and before (outside) compression middleware such as
// gin-contrib/gzip. Such middleware sets Content-Encoding before the
// handlers run: inside it, the capture would hold plain bytes labelled
// gzip and the sample would be dropped as undecodable; outside it, the
// capture holds the compressed bytes, which safecheck decodes. The
// authentication middleware may come before or after: the customer id is
// read when the chain returns.
//
// # What the client sees
//
// Nothing changes for the client. On a sampled request c.Writer is replaced,
// for the rest of the handler chain, by a writer that embeds the original
// gin.ResponseWriter and copies what Write and WriteString pass through into
// the Guard's bounded capture; Status, Size, Written, Flush, Hijack,
// CloseNotify, Pusher, c.Stream and c.SSEvent reach the original writer, and
// http.ResponseController reaches it through Unwrap. The request body is
// copied as the handlers read it, so c.ShouldBindJSON and friends work as
// before. Both are restored when the chain returns. A panic in a later
// handler is not recovered: it propagates unchanged (to gin.Recovery, say)
// and the sample is counted as dropped with reason
// drop.HandlerPanic.
//
// The customer and request ids are read after the handler chain returns, so
// an authentication middleware mounted after this one (on a group, say) has
// already set the context key WithCustomerIDFromContextKey reads. The
// *gin.Context is never used after the middleware returns nor from another
// goroutine: the Guard's workers get copies.
package safecheckgin
