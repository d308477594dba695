package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// pollInterval is how often readiness endpoints are polled.
const pollInterval = 100 * time.Millisecond

// errStopped is returned by operations on a stopped cluster, and by waits
// that Stop interrupted.
var errStopped = errors.New("localcluster: cluster stopped")

// waitFor calls check every pollInterval until it returns nil. It gives up
// when ctx is done, when the cluster is stopped, or as soon as one of procs
// exits. what names the thing awaited, for error messages; a timeout error
// quotes the output of the last of procs.
func (c *Cluster) waitFor(ctx context.Context, what string, check func(context.Context) error, procs ...*process) error {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	lastCheck := ""
	for {
		for _, p := range procs {
			if !p.running() {
				return p.exitedError()
			}
		}
		checkCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := check(checkCtx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() == nil {
			lastCheck = " (last check: " + err.Error() + ")"
		}
		select {
		case <-ticker.C:
		case <-c.stopped:
			return errStopped
		case <-ctx.Done():
			hint := ""
			if len(procs) > 0 {
				hint = procs[len(procs)-1].logHint()
			}
			return fmt.Errorf("localcluster: waiting for %s: %w%s%s", what, context.Cause(ctx), lastCheck, hint)
		}
	}
}

// getOK asks a health endpoint: GET url (with a bearer token unless empty)
// must answer 200 OK; otherwise the error quotes the start of the body.
func getOK(ctx context.Context, client *http.Client, url, bearerToken string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if bearerToken != "" {
		req.Header.Set("Authorization", "Bearer "+bearerToken)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", url, resp.Status, body)
	}
	return nil
}
