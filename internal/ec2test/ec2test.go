// Package ec2test is a loopback HTTP server that answers the EC2 Query API calls agentctl
// fleet makes (RunInstances, DescribeInstances, TerminateInstances): no real AWS is
// reachable from the tests, so this is the one boundary faked. It checks each request as EC2
// would (a SigV4 signature header, Action, Version, the parameters the call requires) and
// answers in EC2's XML, which the SDK's own deserializer parses.
package ec2test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is the fake EC2 endpoint.
type Server struct {
	URL string
	// Capacity caps how many instances one RunInstances starts (0: all asked for).
	Capacity int
	// PageSize splits DescribeInstances answers into pages (0: one page).
	PageSize int

	mu        sync.Mutex
	instances map[string]*instance
	next      int
	calls     []Call
}

// Call is one request the server answered.
type Call struct {
	Action string
	Params map[string]string
}

type instance struct {
	id, typ, image, state, ip string
	tags                      map[string]string
	launched                  time.Time
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{instances: map[string]*instance{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Calls returns the requests answered so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Set changes an instance's state (as AWS would move it: pending to running…).
func (s *Server) Set(id, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.instances[id]; ok {
		i.state = state
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		fail(w, http.StatusForbidden, "MissingAuthenticationToken", "the request is not signed (SigV4)")
		return
	}
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		fail(w, http.StatusBadRequest, "MalformedQueryString", "want a POST of a form")
		return
	}
	params := map[string]string{}
	for k, v := range r.PostForm {
		params[k] = v[0]
	}
	if params["Version"] != "2016-11-15" {
		fail(w, http.StatusBadRequest, "InvalidParameterValue", "Version "+params["Version"])
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Action: params["Action"], Params: params})
	switch params["Action"] {
	case "RunInstances":
		s.run(w, params)
	case "DescribeInstances":
		s.describe(w, params)
	case "TerminateInstances":
		s.terminate(w, params)
	default:
		fail(w, http.StatusBadRequest, "InvalidAction", "unknown action "+params["Action"])
	}
}

func (s *Server) run(w http.ResponseWriter, p map[string]string) {
	for _, k := range []string{"ImageId", "InstanceType", "MinCount", "MaxCount"} {
		if p[k] == "" {
			fail(w, http.StatusBadRequest, "MissingParameter", "RunInstances needs "+k)
			return
		}
	}
	if p["InstanceMarketOptions.MarketType"] != "spot" || p["InstanceInitiatedShutdownBehavior"] != "terminate" {
		fail(w, http.StatusBadRequest, "InvalidParameterCombination", "this fleet launches spot instances that terminate on shutdown")
		return
	}
	n, _ := strconv.Atoi(p["MaxCount"])
	if s.Capacity > 0 {
		n = min(n, s.Capacity)
	}
	tags := map[string]string{}
	for i := 1; p[fmt.Sprintf("TagSpecification.1.Tag.%d.Key", i)] != ""; i++ {
		tags[p[fmt.Sprintf("TagSpecification.1.Tag.%d.Key", i)]] = p[fmt.Sprintf("TagSpecification.1.Tag.%d.Value", i)]
	}
	var b strings.Builder
	b.WriteString(`<RunInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req</requestId><reservationId>r-1</reservationId><ownerId>123456789012</ownerId><instancesSet>`)
	for k := 0; k < n; k++ {
		s.next++
		i := &instance{id: fmt.Sprintf("i-%017x", s.next), typ: p["InstanceType"], image: p["ImageId"], state: "pending", tags: tags,
			ip:       fmt.Sprintf("10.0.%d.%d", s.next/250, s.next%250+1),
			launched: time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)}
		s.instances[i.id] = i
		b.WriteString(i.xml())
	}
	b.WriteString(`</instancesSet></RunInstancesResponse>`)
	ok(w, b.String())
}

func (s *Server) describe(w http.ResponseWriter, p map[string]string) {
	var ids []string
	for id, i := range s.instances {
		match := true
		for f := 1; p[fmt.Sprintf("Filter.%d.Name", f)] != ""; f++ {
			name, value := p[fmt.Sprintf("Filter.%d.Name", f)], p[fmt.Sprintf("Filter.%d.Value.1", f)]
			key, isTag := strings.CutPrefix(name, "tag:")
			if !isTag {
				fail(w, http.StatusBadRequest, "InvalidParameterValue", "this fake filters by tag only, not "+name)
				return
			}
			match = match && i.tags[key] == value
		}
		if match {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	start := 0
	if t := p["NextToken"]; t != "" {
		start, _ = strconv.Atoi(t)
	}
	end := len(ids)
	if s.PageSize > 0 {
		end = min(start+s.PageSize, len(ids))
	}
	var b strings.Builder
	b.WriteString(`<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req</requestId><reservationSet>`)
	for _, id := range ids[start:end] {
		b.WriteString(`<item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId><instancesSet>` + s.instances[id].xml() + `</instancesSet></item>`)
	}
	b.WriteString(`</reservationSet>`)
	if end < len(ids) {
		fmt.Fprintf(&b, `<nextToken>%d</nextToken>`, end)
	}
	b.WriteString(`</DescribeInstancesResponse>`)
	ok(w, b.String())
}

func (s *Server) terminate(w http.ResponseWriter, p map[string]string) {
	if p["InstanceId.1"] == "" {
		fail(w, http.StatusBadRequest, "MissingParameter", "TerminateInstances needs InstanceId.1")
		return
	}
	var b strings.Builder
	b.WriteString(`<TerminateInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req</requestId><instancesSet>`)
	for k := 1; p[fmt.Sprintf("InstanceId.%d", k)] != ""; k++ {
		id := p[fmt.Sprintf("InstanceId.%d", k)]
		i, found := s.instances[id]
		if !found {
			fail(w, http.StatusBadRequest, "InvalidInstanceID.NotFound", "The instance ID '"+id+"' does not exist")
			return
		}
		prev := i.state
		i.state = "shutting-down"
		fmt.Fprintf(&b, `<item><instanceId>%s</instanceId><currentState><code>32</code><name>shutting-down</name></currentState><previousState><code>%d</code><name>%s</name></previousState></item>`,
			id, stateCode(prev), prev)
	}
	b.WriteString(`</instancesSet></TerminateInstancesResponse>`)
	ok(w, b.String())
}

func (i *instance) xml() string {
	var tags strings.Builder
	keys := make([]string, 0, len(i.tags))
	for k := range i.tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&tags, `<item><key>%s</key><value>%s</value></item>`, k, i.tags[k])
	}
	return fmt.Sprintf(`<item><instanceId>%s</instanceId><imageId>%s</imageId><instanceState><code>%d</code><name>%s</name></instanceState>`+
		`<instanceType>%s</instanceType><launchTime>%s</launchTime><privateIpAddress>%s</privateIpAddress>`+
		`<instanceLifecycle>spot</instanceLifecycle><tagSet>%s</tagSet></item>`,
		i.id, i.image, stateCode(i.state), i.state, i.typ, i.launched.Format("2006-01-02T15:04:05.000Z"), i.ip, tags.String())
}

func stateCode(state string) int {
	return map[string]int{"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48, "stopping": 64, "stopped": 80}[state]
}

func ok(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + body))
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>req</RequestID></Response>`, code, msg)
}
