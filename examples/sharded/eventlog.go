package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Kinds of records in a replica's event log.
const (
	kindAdd     = "add"
	kindUpdate  = "update"
	kindDelete  = "delete"
	kindStatus  = "status"  // the replica's Status().Sharding, every second
	kindStarted = "started" // the replica's first line
	kindStopped = "stopped" // Run returned (absent when the replica was killed)
)

// record is one line of a replica's event log, a JSON object. Callback
// records (add, update, delete) carry the object and the times the callback
// began and ended; status records carry the replica's view of its shard
// group. Times are the wall clock in Unix nanoseconds, so the logs of
// several processes on one machine can be merged.
type record struct {
	Replica string `json:"replica"`
	Event   string `json:"event"`

	// Callbacks.
	Object          string `json:"object,omitempty"` // namespace/name
	UID             string `json:"uid,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	Start           int64  `json:"start,omitempty"`
	End             int64  `json:"end,omitempty"`
	// Initial is IsInitialList: the add of an object the replica already
	// had in its cache when its handler started, or when the object's range
	// arrived at this replica.
	Initial bool `json:"initial,omitempty"`

	// Status, started and stopped records.
	Time       int64  `json:"time,omitempty"`
	Ranges     int    `json:"ranges,omitempty"`
	Owned      []int  `json:"owned,omitempty"`
	Warming    []int  `json:"warming,omitempty"`
	ServerSide *bool  `json:"serverSide,omitempty"`
	Cached     int    `json:"cached,omitempty"`
	HeapBytes  uint64 `json:"heapBytes,omitempty"`
	Error      string `json:"error,omitempty"`
}

func (r record) isCallback() bool {
	return r.Event == kindAdd || r.Event == kindUpdate || r.Event == kindDelete
}

// eventLog writes records as JSON lines, one write per line, so that a
// replica killed with SIGKILL leaves whole lines behind. It is safe for
// concurrent use.
type eventLog struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

func (l *eventLog) write(r record) {
	line, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("sharded: encoding a log record: %v", err)) // plain fields: cannot fail
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		_, l.err = l.w.Write(line)
	}
}

// failed returns the first write error, if any.
func (l *eventLog) failed() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// logTail reads a growing event log: each read returns the whole lines
// written since the last one. A partial last line (a writer killed while
// writing, or a line still being written) is left for the next read.
type logTail struct {
	path    string
	offset  int64
	partial []byte
}

func (t *logTail) read() ([]record, error) {
	f, err := os.Open(t.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // not created yet
	}
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	if _, err := f.Seek(t.offset, io.SeekStart); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	t.offset += int64(len(data))
	data = append(t.partial, data...)
	var records []record
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		var r record
		if err := json.Unmarshal(data[:i], &r); err != nil {
			return records, fmt.Errorf("%s: %w", t.path, err)
		}
		records = append(records, r)
		data = data[i+1:]
	}
	t.partial = append([]byte(nil), data...)
	return records, nil
}

// readLog reads a whole event log.
func readLog(path string) ([]record, error) {
	t := &logTail{path: path}
	return t.read()
}
