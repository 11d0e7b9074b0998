//! Waiting for descriptors to become readable, with a timeout, through
//! poll(2). A signal (SIGINT, SIGTERM) ends the wait early so the caller
//! can look at its shutdown flag.

use std::io;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// poll(2) counts in milliseconds: round up so a short timeout still
/// waits, and cap at the largest value poll accepts.
fn poll_timeout(timeout: Duration) -> PollTimeout {
    let millis = timeout.as_micros().div_ceil(1000);
    i32::try_from(millis).map_or(PollTimeout::MAX, |ms| {
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
    })
}

/// Waits until `fd` is readable (true) or `timeout` passes or a signal
/// arrives (false). Hang-up and error conditions count as readable: the
/// read that follows reports them.
pub fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    poll_many(&mut fds, timeout).map(|ready| ready > 0)
}

/// Polls `fds` for their events; the number ready, 0 on timeout or signal.
pub(crate) fn poll_many(fds: &mut [PollFd<'_>], timeout: Duration) -> io::Result<usize> {
    match poll(fds, poll_timeout(timeout)) {
        Ok(ready) => Ok(usize::try_from(ready).unwrap_or(0)),
        Err(Errno::EINTR) => Ok(0),
        Err(errno) => Err(io::Error::from(errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;
    use std::time::Instant;

    #[test]
    fn timeouts_round_up_to_a_millisecond() {
        assert_eq!(poll_timeout(Duration::ZERO), PollTimeout::ZERO);
        assert_eq!(
            poll_timeout(Duration::from_micros(1)),
            PollTimeout::from(1u8)
        );
        assert_eq!(
            poll_timeout(Duration::from_millis(250)),
            PollTimeout::from(250u16)
        );
        assert_eq!(poll_timeout(Duration::MAX), PollTimeout::MAX);
    }

    #[test]
    fn waits_for_data_or_the_timeout() {
        let (mut writer, reader) = UnixStream::pair().unwrap();
        let started = Instant::now();
        assert!(!wait_readable(reader.as_fd(), Duration::from_millis(20)).unwrap());
        assert!(started.elapsed() >= Duration::from_millis(20));
        writer.write_all(b"x").unwrap();
        assert!(wait_readable(reader.as_fd(), Duration::from_secs(5)).unwrap());
    }
}
