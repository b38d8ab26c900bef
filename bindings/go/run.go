package zeekagent

/*
#include "zeek_mgmt_agent.h"
*/
import "C"

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// wakers are the Run loops of an agent, woken when it closes.
type wakers struct {
	mu     sync.Mutex
	closed bool
	pipes  map[*os.File]struct{}
}

// add registers a loop's wake pipe; false once the agent is closed.
func (w *wakers) add(f *os.File) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	if w.pipes == nil {
		w.pipes = map[*os.File]struct{}{}
	}
	w.pipes[f] = struct{}{}
	return true
}

func (w *wakers) remove(f *os.File) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pipes, f)
}

func (w *wakers) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for f := range w.pipes {
		wake(f)
	}
}

// wake writes one byte; a full pipe is already awake.
func wake(f *os.File) { _, _ = f.Write([]byte{1}) }

// Run drives a polled agent until ctx is done (returning ctx.Err()) or the
// agent is closed (returning ErrClosed): it waits on FD, the next deadline
// and ctx, and calls Poll with Now. Several Run loops may run at once. In
// threaded mode Run just waits for ctx or Close.
func (a *Agent) Run(ctx context.Context) error {
	wakeRead, wakeWrite, err := os.Pipe()
	if err != nil {
		return newError(statusIO, "Run: pipe: "+err.Error())
	}
	defer wakeRead.Close()
	defer wakeWrite.Close()
	if !a.wakers.add(wakeWrite) {
		return ErrClosed
	}
	defer a.wakers.remove(wakeWrite)
	stop := context.AfterFunc(ctx, func() { wake(wakeWrite) })
	defer stop()

	if a.mode != Polled {
		var one [1]byte
		_, _ = wakeRead.Read(one[:])
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return ErrClosed
	}

	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return newError(statusIO, "Run: epoll_create1: "+err.Error())
	}
	defer syscall.Close(epfd)
	wakeFD := int(wakeRead.Fd())
	if err := watch(epfd, wakeFD); err != nil {
		return err
	}
	// The agent's descriptor is registered under the agent's lock, so
	// that Close cannot close it in between.
	if err := a.with(func(ptr *C.zma_agent) error { return watch(epfd, int(C.zma_agent_fd(ptr))) }); err != nil {
		return err
	}
	ready := make([]syscall.EpollEvent, 2)
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := a.Poll(a.Now()); err != nil {
			return err
		}
		timeout := -1
		if next, ok := a.NextTimeout(); ok {
			timeout = int(((next - a.Now()) + time.Millisecond - 1) / time.Millisecond)
			if timeout < 0 {
				timeout = 0
			}
		}
		n, err := syscall.EpollWait(epfd, ready, timeout)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return newError(statusIO, "Run: epoll_wait: "+err.Error())
		}
		for _, event := range ready[:max(n, 0)] {
			if int(event.Fd) == wakeFD {
				var drain [64]byte
				_, _ = syscall.Read(wakeFD, drain[:])
			}
		}
	}
}

// watch adds fd to the epoll set epfd, for reading.
func watch(epfd, fd int) error {
	if fd < 0 {
		return newError(statusState, "Run: the agent has no descriptor")
	}
	event := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fd, &event); err != nil {
		return newError(statusIO, "Run: epoll_ctl: "+err.Error())
	}
	return nil
}
