package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// promAPI is a minimal client of Prometheus' HTTP API.
type promAPI struct {
	base string // http://host:port
}

type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

func (p promAPI) get(ctx context.Context, path string, params url.Values, data any) error {
	u := p.base + path
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("GET %s: %s: %.200s", path, resp.Status, body)
	}
	if r.Status != "success" {
		return fmt.Errorf("GET %s: %s: %s", path, r.ErrorType, r.Error)
	}
	return json.Unmarshal(r.Data, data)
}

type queryData struct {
	ResultType string            `json:"resultType"`
	Result     []json.RawMessage `json:"result"`
}

// query runs an instant query and returns how many series (or 1 for a
// scalar or string) it returned.
func (p promAPI) query(ctx context.Context, expr string, at time.Time) (int, error) {
	var d queryData
	err := p.get(ctx, "/api/v1/query", url.Values{"query": {expr}, "time": {formatTime(at)}}, &d)
	if err != nil {
		return 0, err
	}
	return resultLen(d), nil
}

// queryRange runs a range query and returns how many series it returned.
func (p promAPI) queryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) (int, error) {
	var d queryData
	err := p.get(ctx, "/api/v1/query_range", url.Values{
		"query": {expr},
		"start": {formatTime(start)},
		"end":   {formatTime(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}, &d)
	if err != nil {
		return 0, err
	}
	return resultLen(d), nil
}

func resultLen(d queryData) int {
	switch d.ResultType {
	case "scalar", "string":
		return 1
	}
	return len(d.Result)
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

type promTarget struct {
	ScrapePool string            `json:"scrapePool"`
	ScrapeURL  string            `json:"scrapeUrl"`
	Labels     map[string]string `json:"labels"`
	Health     string            `json:"health"`
	LastError  string            `json:"lastError"`
}

func (p promAPI) targets(ctx context.Context) ([]promTarget, error) {
	var d struct {
		ActiveTargets []promTarget `json:"activeTargets"`
	}
	err := p.get(ctx, "/api/v1/targets", url.Values{"state": {"active"}}, &d)
	return d.ActiveTargets, err
}

func (p promAPI) alertmanagers(ctx context.Context) ([]string, error) {
	var d struct {
		Active []struct {
			URL string `json:"url"`
		} `json:"activeAlertmanagers"`
	}
	if err := p.get(ctx, "/api/v1/alertmanagers", nil, &d); err != nil {
		return nil, err
	}
	var urls []string
	for _, a := range d.Active {
		urls = append(urls, a.URL)
	}
	return urls, nil
}

// notification is one webhook call from Alertmanager.
type notification struct {
	Path     string    `json:"-"`
	Received time.Time `json:"-"`
	Receiver string    `json:"receiver"`
	Status   string    `json:"status"`
	Alerts   []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
	GroupLabels map[string]string `json:"groupLabels"`
}

// webhook records Alertmanager's webhook notifications.
type webhook struct {
	mu    sync.Mutex
	notes []notification
	errs  []error
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var n notification
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err == nil {
		err = json.Unmarshal(body, &n)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil || r.Method != http.MethodPost {
		w.errs = append(w.errs, fmt.Errorf("%s %s: %v: %.300s", r.Method, r.URL.Path, err, body))
		http.Error(rw, "bad notification", http.StatusBadRequest)
		return
	}
	n.Path, n.Received = r.URL.Path, time.Now()
	w.notes = append(w.notes, n)
}

func (w *webhook) snapshot() ([]notification, []error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]notification(nil), w.notes...), append([]error(nil), w.errs...)
}
