package e2e

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// proxyDialTimeout bounds the proxy's dial to its target, so that Cut and
// Close never wait long for a connection being opened.
const proxyDialTimeout = 5 * time.Second

// tcpProxy is a loopback TCP proxy that lets a test break the connections of
// one client, an informer, while every other client keeps talking to the
// server directly. TLS passes through untouched: the client still verifies
// the server's certificate, which names 127.0.0.1 whatever the port.
//
// Cut closes every open connection and closes the listener, so that new
// connections are refused (ECONNREFUSED, as when a server is down); Restore
// listens again on the same address. Close cuts and waits for every
// goroutine of the proxy. Cut, Restore and Close are meant to be called from
// one goroutine; Addr and Accepted are safe from any.
type tcpProxy struct {
	target   string
	addr     string
	accepted atomic.Int64

	mu     sync.Mutex
	ln     net.Listener // nil while cut
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// startProxy starts a proxy on 127.0.0.1:0 that forwards to target
// ("127.0.0.1:PORT"). The test's cleanup closes it.
func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listening: %v", err)
	}
	p := &tcpProxy{target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.mu.Lock()
	p.serveLocked(ln)
	p.mu.Unlock()
	t.Cleanup(p.Close)
	return p
}

// Addr returns the proxy's address, "127.0.0.1:PORT"; it stays the same
// across Cut and Restore.
func (p *tcpProxy) Addr() string { return p.addr }

// Accepted returns how many connections the proxy has accepted so far.
func (p *tcpProxy) Accepted() int64 { return p.accepted.Load() }

// Cut closes every connection through the proxy and stops listening, so
// that new connections are refused, and waits until every forwarding
// goroutine has ended.
func (p *tcpProxy) Cut() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for conn := range p.conns {
		_ = conn.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
	p.wg.Wait()
}

// Restore listens again on the proxy's address. It does nothing if the
// proxy is not cut.
func (p *tcpProxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("proxy: restore after close")
	}
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.serveLocked(ln)
	return nil
}

// Close cuts the proxy for good.
func (p *tcpProxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Cut()
}

// serveLocked accepts connections on ln until it is closed. Call with p.mu held.
func (p *tcpProxy) serveLocked(ln net.Listener) {
	p.ln = ln
	p.wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return // closed by Cut
			}
			p.accepted.Add(1)
			if !p.track(client, ln) {
				_ = client.Close()
				continue
			}
			p.wg.Go(func() { p.forward(client, ln) })
		}
	})
}

// track records conn as open, unless the listener it belongs to was cut.
func (p *tcpProxy) track(conn net.Conn, ln net.Listener) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != ln {
		return false
	}
	p.conns[conn] = struct{}{}
	return true
}

func (p *tcpProxy) untrack(conn net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, conn)
	_ = conn.Close()
}

// forward copies bytes both ways between client and a new connection to the
// target until either side closes or Cut closes both.
func (p *tcpProxy) forward(client net.Conn, ln net.Listener) {
	defer p.untrack(client)
	server, err := net.DialTimeout("tcp", p.target, proxyDialTimeout)
	if err != nil {
		return
	}
	if !p.track(server, ln) {
		_ = server.Close()
		return
	}
	defer p.untrack(server)
	var copies sync.WaitGroup
	copies.Go(func() {
		_, _ = io.Copy(server, client)
		_ = server.Close()
		_ = client.Close()
	})
	copies.Go(func() {
		_, _ = io.Copy(client, server)
		_ = client.Close()
		_ = server.Close()
	})
	copies.Wait()
}

// TestFaultProxy checks the proxy itself against an echo server: bytes go
// through, Cut breaks the open connection and refuses new ones, Restore
// serves again on the same address.
func TestFaultProxy(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	var echoes sync.WaitGroup
	t.Cleanup(func() {
		_ = echo.Close()
		echoes.Wait()
	})
	echoes.Go(func() {
		for {
			conn, err := echo.Accept()
			if err != nil {
				return
			}
			echoes.Go(func() {
				defer func() { _ = conn.Close() }()
				_, _ = io.Copy(conn, conn)
			})
		}
	})

	p := startProxy(t, echo.Addr().String())
	roundTrip := func(conn net.Conn, msg string) error {
		_ = conn.SetDeadline(time.Now().Add(waitBound))
		if _, err := conn.Write([]byte(msg)); err != nil {
			return err
		}
		buf := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, buf); err != nil {
			return err
		}
		if string(buf) != msg {
			return errors.New("got " + string(buf) + ", want " + msg)
		}
		return nil
	}

	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dialing the proxy: %v", err)
	}
	defer func() { _ = conn.Close() }()
	if err := roundTrip(conn, "hello"); err != nil {
		t.Fatalf("round trip through the proxy: %v", err)
	}

	p.Cut()
	if err := roundTrip(conn, "again"); err == nil {
		t.Errorf("round trip on a connection open before Cut: got nil error, want the connection closed")
	}
	if _, err := net.Dial("tcp", p.Addr()); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dialing a cut proxy: got %v, want ECONNREFUSED", err)
	}

	if err := p.Restore(); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	restored, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatalf("dialing the restored proxy: %v", err)
	}
	defer func() { _ = restored.Close() }()
	if err := roundTrip(restored, "back"); err != nil {
		t.Errorf("round trip through the restored proxy: %v", err)
	}
	if got, want := p.Accepted(), int64(2); got != want {
		t.Errorf("connections accepted: got %d, want %d", got, want)
	}
}
