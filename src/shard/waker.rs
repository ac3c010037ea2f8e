//! Cross-thread wake-ups for a shard's event loop, over an `eventfd`.
//!
//! Another thread puts a message in a shard's inbox and then calls
//! [`Waker::wake`]; the shard's backend keeps a read of the eventfd in flight
//! (io_uring) or registered (epoll), so the loop returns and drains the inbox.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The write side of a shard's eventfd; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Waker {
    fd: OwnedFd,
}

impl Waker {
    /// A new non-blocking eventfd.
    pub fn new() -> io::Result<Waker> {
        // SAFETY: plain syscall; the returned fd is owned below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(Waker {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// Wakes the shard; never blocks. An overflowing counter still wakes it.
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64.
        unsafe {
            libc::write(
                self.fd.as_raw_fd(),
                &one as *const u64 as *const libc::c_void,
                8,
            );
        }
    }

    /// Resets the counter after a wake-up has been seen (epoll backend).
    pub fn drain(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads at most 8 bytes into a valid u64; non-blocking fd.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                &mut value as *mut u64 as *mut libc::c_void,
                8,
            );
        }
    }

    /// The descriptor the backend waits on.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
