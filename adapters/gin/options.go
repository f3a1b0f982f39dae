package safecheckgin

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"
	"github.com/safecheck/safecheck"
)

type routeSpec struct {
	method string // empty for the default route
	path   string
	name   string
	opts   []safecheck.RouteOption
}

type config struct {
	routes     []routeSpec
	defaults   []routeSpec // WithDefaultRoute; more than one is an error
	customers  []string    // names of the customer id options given, to reject more than one
	customerID func(*gin.Context) string
	requestID  func(*gin.Context) string
	errs       []error
}

// Option configures Middleware; a nil Option makes it fail.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithRoute adds a route to the middleware's table: requests whose method is
// method and whose gin route template (c.FullPath()) is fullPath are sampled
// on the safecheck route named method+" "+fullPath, for example
// "POST /v1/chat/:id", configured by routeOpts. When routeOpts is empty and
// the Guard already has a route of that name, the existing route is used;
// otherwise the route is registered with the Guard's defaults.
//
// fullPath is in gin's syntax (":id" for a parameter, "*path" for the rest
// of the path); Middleware refuses templates in another router's syntax
// ("{id}", "<id>") and others gin would not register, since they would
// never match and the route would silently sample nothing.
func WithRoute(method, fullPath string, routeOpts ...safecheck.RouteOption) Option {
	return optionFunc(func(c *config) {
		c.routes = append(c.routes, routeSpec{
			method: method,
			path:   fullPath,
			name:   method + " " + fullPath,
			opts:   append([]safecheck.RouteOption(nil), routeOpts...),
		})
	})
}

// WithDefaultRoute samples, on the safecheck route name configured by
// routeOpts, every request that reaches the middleware, matched a gin route
// and is not in the table. It is how Route guards a whole group.
func WithDefaultRoute(name string, routeOpts ...safecheck.RouteOption) Option {
	return optionFunc(func(c *config) {
		c.defaults = append(c.defaults, routeSpec{name: name, opts: append([]safecheck.RouteOption(nil), routeOpts...)})
	})
}

// WithCustomerIDFromContextKey takes a sampled request's customer id from the
// string value its gin context holds under key (set with c.Set, typically by
// an authentication middleware). Values of another type count as no id.
func WithCustomerIDFromContextKey(key string) Option {
	return optionFunc(func(c *config) {
		c.customers = append(c.customers, "WithCustomerIDFromContextKey")
		if key == "" {
			c.errs = append(c.errs, errors.New("WithCustomerIDFromContextKey: empty key"))
			return
		}
		c.customerID = func(gc *gin.Context) string { return gc.GetString(key) }
	})
}

// WithCustomerIDFromHeader takes a sampled request's customer id from the
// request header name.
func WithCustomerIDFromHeader(name string) Option {
	return optionFunc(func(c *config) {
		c.customers = append(c.customers, "WithCustomerIDFromHeader")
		if !validHeaderName(name) {
			c.errs = append(c.errs, fmt.Errorf("WithCustomerIDFromHeader: %q is not a valid header name", name))
			return
		}
		name = http.CanonicalHeaderKey(name)
		c.customerID = func(gc *gin.Context) string {
			if v := gc.Request.Header[name]; len(v) > 0 { // name is canonical: no Header.Get needed
				return v[0]
			}
			return ""
		}
	})
}

// WithCustomerID takes a sampled request's customer id from f. f runs on the
// request's goroutine after the handler chain has returned, only for sampled
// requests, and must not keep the *gin.Context.
func WithCustomerID(f func(*gin.Context) string) Option {
	return optionFunc(func(c *config) {
		c.customers = append(c.customers, "WithCustomerID")
		if f == nil {
			c.errs = append(c.errs, errors.New("WithCustomerID: nil function"))
			return
		}
		c.customerID = f
	})
}

// WithRequestID takes a sampled request's id from f instead of the
// X-Request-ID header (safecheck.RequestIDHeader). f runs like the
// WithCustomerID function; when it returns "", the id safecheck found is
// kept.
func WithRequestID(f func(*gin.Context) string) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.errs = append(c.errs, errors.New("WithRequestID: nil function"))
			return
		}
		c.requestID = f
	})
}

func (c *config) validate() error {
	errs := append([]error(nil), c.errs...)
	if len(c.customers) > 1 {
		errs = append(errs, fmt.Errorf("more than one customer id option (%s): combine them in one WithCustomerID function",
			strings.Join(c.customers, ", ")))
	}
	if len(c.defaults) > 1 {
		errs = append(errs, fmt.Errorf("WithDefaultRoute given %d times", len(c.defaults)))
	}
	for _, d := range c.defaults {
		if d.name == "" {
			errs = append(errs, errors.New("WithDefaultRoute: empty route name"))
		}
	}
	if len(c.routes) == 0 && len(c.defaults) == 0 {
		errs = append(errs, errors.New("no routes: add WithRoute or WithDefaultRoute, or nothing is sampled"))
	}
	seen := map[string]bool{}
	for _, r := range c.routes {
		switch {
		case !validMethod(r.method):
			errs = append(errs, fmt.Errorf("WithRoute: method %q is not an upper-case HTTP method", r.method))
		case !strings.HasPrefix(r.path, "/"):
			errs = append(errs, fmt.Errorf("WithRoute %q: the path must be a gin route template starting with /", r.name))
		case seen[r.name]:
			errs = append(errs, fmt.Errorf("WithRoute %q given twice", r.name))
		default:
			if err := checkTemplate(r.path); err != nil {
				errs = append(errs, fmt.Errorf("WithRoute %q: %w", r.name, err))
			}
		}
		seen[r.name] = true
	}
	return errors.Join(errs...)
}

// Parameters in the syntax of other routers: {id}, {id:[0-9]+} and
// {path...} (net/http, chi, gorilla), <id> and <int:id> (Flask).
var (
	braceParam = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)(\.\.\.)?(?::[^{}]*)?\}`)
	angleParam = regexp.MustCompile(`<(?:[A-Za-z_]+:)?([A-Za-z_][A-Za-z0-9_]*)>`)
)

// checkTemplate reports what makes path, which starts with "/", something
// other than a gin route template that a route can have: such a template
// would never equal c.FullPath(), so the route would never be sampled.
// Parameters are written :name, a catch-all *name as the last segment.
func checkTemplate(path string) error {
	if strings.ContainsAny(path, "{}<>") {
		fixed := braceParam.ReplaceAllStringFunc(path, func(m string) string {
			sub := braceParam.FindStringSubmatch(m)
			if sub[2] != "" {
				return "*" + sub[1]
			}
			return ":" + sub[1]
		})
		fixed = angleParam.ReplaceAllString(fixed, ":$1")
		if !strings.ContainsAny(fixed, "{}<>") {
			return fmt.Errorf("not gin syntax: write %q (gin names a parameter :name, the rest of the path *name)", fixed)
		}
		return errors.New("not gin syntax: gin names a parameter :name and the rest of the path *name, without braces")
	}
	if i := strings.IndexFunc(path, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return fmt.Errorf("white space or a control character at byte %d: a template is a path", i)
	}
	if strings.ContainsAny(path, "?#") {
		return errors.New("a route template has no query or fragment (c.FullPath() never does)")
	}
	segments := strings.Split(path[1:], "/")
	for i, seg := range segments {
		j := strings.IndexAny(seg, ":*")
		if j < 0 {
			continue
		}
		wild := seg[j:]
		switch {
		case strings.ContainsAny(wild[1:], ":*"):
			return fmt.Errorf("segment %q holds more than one parameter; gin allows one per segment", seg)
		case len(wild) == 1:
			return fmt.Errorf("parameter %q has no name: write %sname", seg, wild)
		case wild[0] == '*' && (j > 0 || i < len(segments)-1):
			return fmt.Errorf("catch-all %q must be a whole segment at the end of the path", wild)
		}
	}
	return nil
}

// validMethod accepts what gin's Engine.Handle accepts: upper-case letters.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < 'A' || m[i] > 'Z' {
			return false
		}
	}
	return true
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0:
		default:
			return false
		}
	}
	return true
}
