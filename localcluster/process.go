package localcluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

const (
	// stopGrace is how long a server gets to exit after SIGTERM before it
	// is killed.
	stopGrace = 5 * time.Second
	// tailBytes is how much of a process's recent output is kept in memory
	// for error messages.
	tailBytes = 32 << 10
	// tailLines is how many lines of output an error message quotes.
	tailLines = 20
)

// errPortInUse marks a process that exited because a port it was told to
// listen on was taken.
var errPortInUse = errors.New("address already in use")

// ErrUnsupportedPlatform is wrapped by the error [Start] returns on an
// operating system where local clusters cannot run (Windows): they need a
// unix-like OS, whose process groups let [Cluster.Stop] end a server
// together with whatever it started.
var ErrUnsupportedPlatform = errors.New("localcluster: local clusters need a unix-like OS (linux, darwin)")

// process is one run of a server binary.
type process struct {
	name    string
	logPath string // "" when the output goes to Options.Output
	cmd     *exec.Cmd
	tail    *tailBuffer
	done    chan struct{} // closed once the process has exited and been reaped
	waitErr error         // how it exited; read only after done is closed
}

// startProcess starts binary name from binDir with args. Its output goes to
// out if non-nil, else to the file name.log in logDir (appended to, so
// restarts keep the earlier output). The process gets its own process group
// and, where the OS has one, a parent-death signal (see setProcessAttrs).
func startProcess(binDir, logDir, name string, args []string, out io.Writer) (*process, error) {
	if err := checkPlatform(); err != nil {
		return nil, err
	}
	p := &process{
		name: name,
		tail: newTailBuffer(tailBytes),
		done: make(chan struct{}),
	}
	var (
		dest    io.Writer
		logFile *os.File
		prefix  *prefixWriter
	)
	if out != nil {
		prefix = newPrefixWriter(out, name+": ")
		dest = prefix
	} else {
		p.logPath = filepath.Join(logDir, name+".log")
		f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("localcluster: opening the %s log: %w", name, err)
		}
		logFile = f
		dest = f
	}
	w := io.MultiWriter(dest, p.tail)

	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Dir = logDir
	cmd.Stdout = w
	cmd.Stderr = w
	cmd.WaitDelay = time.Second
	setProcessAttrs(cmd)
	if err := cmd.Start(); err != nil {
		if logFile != nil {
			_ = logFile.Close()
		}
		return nil, fmt.Errorf("localcluster: starting %s: %w", name, err)
	}
	p.cmd = cmd
	go func() {
		p.waitErr = cmd.Wait()
		if prefix != nil {
			_ = prefix.Flush()
		}
		if logFile != nil {
			_ = logFile.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// pid returns the process id.
func (p *process) pid() int {
	return p.cmd.Process.Pid
}

// running reports whether the process has not exited yet.
func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the process group (see signalGroup).
func (p *process) signal(sig syscall.Signal) error {
	if !p.running() {
		return nil
	}
	if err := signalGroup(p, sig); err != nil {
		return fmt.Errorf("localcluster: sending %v to %s (pid %d): %w", sig, p.name, p.pid(), err)
	}
	return nil
}

// stop sends SIGTERM, then SIGKILL if the process is still there after
// grace, and waits for it to exit.
func (p *process) stop(grace time.Duration) error {
	if err := p.signal(syscall.SIGTERM); err != nil {
		return err
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return nil
	case <-timer.C:
	}
	return p.kill()
}

// kill sends SIGKILL and waits for the process to exit.
func (p *process) kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return nil
}

// exitedError describes a process that exited while it should be running.
// Call it only once done is closed.
func (p *process) exitedError() error {
	if p.tail.contains(errPortInUse.Error()) {
		return fmt.Errorf("localcluster: %s exited (%v): %w%s", p.name, p.waitErr, errPortInUse, p.logHint())
	}
	return fmt.Errorf("localcluster: %s exited (%v)%s", p.name, p.waitErr, p.logHint())
}

// logHint points at the process's output, for error messages: the log file
// if there is one, and the last lines written.
func (p *process) logHint() string {
	where := "; output went to Options.Output"
	if p.logPath != "" {
		where = "; log: " + p.logPath
	}
	last := p.tail.lastLines(tailLines)
	if last == "" {
		return where + " (empty)"
	}
	return where + "; last lines:\n" + last
}
