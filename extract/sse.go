package extract

import (
	"bytes"
	"iter"
)

// Event is one server-sent event.
type Event struct {
	// Type is the event type: the last "event" field, or "message".
	Type string
	// Data is the event's data: its "data" field values joined with "\n".
	Data string
	// ID is the last event ID seen so far in the stream.
	ID string
}

// SSEEvents returns the events of a text/event-stream body in the order an
// EventSource dispatches them, per the HTML Living Standard: a leading byte
// order mark is skipped, lines end with CRLF, LF or CR, lines starting with
// ':' are comments, a field's value loses one leading space, "data" values
// accumulate joined with "\n", and an empty line dispatches the event unless
// it has no data. It departs from the standard in one way: an event left
// unterminated at the end of the body is dispatched too, because a captured
// stream may be cut anywhere and what the client already received must be
// seen. Any bytes are accepted.
func SSEEvents(body []byte) iter.Seq[Event] {
	return func(yield func(Event) bool) {
		parseSSE(body, nil, new(sseEvent), func(ev *sseEvent) bool {
			typ := "message"
			if len(ev.typ) > 0 {
				typ = string(ev.typ)
			}
			return yield(Event{Type: typ, Data: string(ev.data), ID: string(ev.id)})
		})
	}
}

// sseEvent is an event as the parser dispatches it. Its slices alias the
// body or the parser's scratch buffer and are valid only during the call.
type sseEvent struct {
	typ, data, id []byte
	// atEOF is set for an event dispatched at the end of the body without
	// the empty line that ends an event.
	atEOF bool
}

// parseSSE calls fn for every event of body, dispatched in ev, until fn
// returns false. scratch is reused for multi-line data and returned for the
// next call. cut reports a body that ends inside a line or inside an event,
// not at an event's end.
func parseSSE(body, scratch []byte, ev *sseEvent, fn func(*sseEvent) bool) (_ []byte, cut bool) {
	body = bytes.TrimPrefix(body, bom)
	*ev = sseEvent{}
	var (
		first     []byte // the value of the only data line so far
		dataLines int
	)
	dispatch := func(atEOF bool) bool {
		if dataLines == 0 {
			ev.typ = nil
			return true
		}
		ev.data = first
		if dataLines > 1 {
			ev.data = scratch
		}
		ev.atEOF = atEOF
		ok := fn(ev)
		ev.typ, ev.data, first, dataLines = nil, nil, nil, 0
		return ok
	}
	for len(body) > 0 {
		var line []byte
		seg := body
		nl := bytes.IndexByte(body, '\n')
		if nl >= 0 {
			seg = body[:nl]
		}
		if cr := bytes.IndexByte(seg, '\r'); cr >= 0 {
			line = body[:cr]
			if cr+1 < len(body) && body[cr+1] == '\n' {
				body = body[cr+2:]
			} else {
				body = body[cr+1:]
			}
		} else if nl >= 0 {
			line, body = body[:nl], body[nl+1:]
		} else {
			line, body = body, nil
			cut = true
		}
		if len(line) == 0 {
			if !dispatch(false) {
				return scratch, false
			}
			continue
		}
		if line[0] == ':' {
			continue // comment
		}
		field, value := line, []byte(nil)
		if c := bytes.IndexByte(line, ':'); c >= 0 {
			field, value = line[:c], line[c+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			switch dataLines {
			case 0:
				first = value
			case 1:
				scratch = append(append(append(scratch[:0], first...), '\n'), value...)
			default:
				scratch = append(append(scratch, '\n'), value...)
			}
			dataLines++
		case "event":
			ev.typ = value
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				ev.id = value
			}
		}
	}
	if dataLines > 0 {
		cut = true
	}
	dispatch(true)
	return scratch, cut
}
