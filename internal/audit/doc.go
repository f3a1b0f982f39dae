// Package audit carries the attributes that describe who makes a change to a
// Guard (an operator's token name, the client address, the interface used)
// in a context, from the code that knows them to the audit record the Guard
// writes.
//
// The admin handler puts them in the request's context with WithAttrs and
// passes that context to Guard.StartIncident, EndIncident or SetSampleRate;
// the Guard adds Attrs(ctx) to the change's audit record. A change made in
// code with a context that holds none is recorded without them.
package audit
