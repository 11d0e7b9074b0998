//! Throwaway network namespaces for tests, benchmarks and examples: a
//! guard that creates a uniquely named namespace with `ip netns add` and
//! deletes it (and every device in it) on drop, veth pairs between
//! namespaces, and running code inside a namespace (setns(2) on a thread).
//! Needs root and iproute2's `ip`.

use std::fs::File;
use std::io;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use nix::sched::{CloneFlags, setns};
use thiserror::Error;

/// What went wrong setting up a namespace.
#[derive(Debug, Error)]
pub enum NetnsError {
    #[error("`{command}` could not start: {source}")]
    Spawn { command: String, source: io::Error },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("cannot enter network namespace {name}: {source}")]
    Enter { name: String, source: io::Error },
    #[error("the thread running inside network namespace {name} panicked")]
    Panicked { name: String },
}

/// True when running as root (namespaces, veths and AF_PACKET need it).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// True when `program` runs (`program --version`, else `program -V`,
/// exits 0). `--version` goes first: `tshark -V` starts a capture that
/// never ends.
pub fn tool_available(program: &str) -> bool {
    ["--version", "-V"].iter().any(|flag| {
        Command::new(program)
            .arg(flag)
            .output()
            .is_ok_and(|output| output.status.success())
    })
}

/// Runs `program args` and returns its stdout, or why it failed.
pub fn run_command(program: &str, args: &[&str]) -> Result<String, NetnsError> {
    let command = format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|source| NetnsError::Spawn {
            command: command.clone(),
            source,
        })?;
    checked(command, output)
}

fn checked(command: String, output: Output) -> Result<String, NetnsError> {
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(NetnsError::Failed {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// Makes namespace names unique within the process (the pid makes them
/// unique across processes).
static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// A network namespace that exists while this guard does.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `erdp-TAG-PID-N`.
    pub fn create(tag: &str) -> Result<Self, NetnsError> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let name = format!("erdp-{tag}-{}-{id}", std::process::id());
        run_command("ip", &["netns", "add", &name])?;
        let netns = Self { name };
        // Loopback up, as a fresh host has it.
        netns.ip(&["link", "set", "lo", "up"])?;
        Ok(netns)
    }

    /// The namespace's name (for `ip netns exec NAME`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME args...`.
    pub fn ip(&self, args: &[&str]) -> Result<String, NetnsError> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_command("ip", &full)
    }

    /// Runs `program args...` inside the namespace (`ip netns exec`).
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<String, NetnsError> {
        let mut full = vec!["netns", "exec", self.name.as_str(), program];
        full.extend_from_slice(args);
        run_command("ip", &full)
    }

    /// Runs `work` on a thread inside the namespace and returns its result.
    /// Sockets and devices it opens belong to the namespace, and keep
    /// working from any thread afterwards.
    pub fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
        let path = format!("/run/netns/{}", self.name);
        let enter_error = |source| NetnsError::Enter {
            name: self.name.clone(),
            source,
        };
        let handle = File::open(&path).map_err(enter_error)?;
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    setns(&handle, CloneFlags::CLONE_NEWNET)
                        .map_err(|errno| enter_error(io::Error::from(errno)))?;
                    Ok(work())
                })
                .join()
                .map_err(|_| NetnsError::Panicked {
                    name: self.name.clone(),
                })?
        })
    }

    /// Writes `value` to /proc/sys/KEY inside the namespace (KEY like
    /// `net/ipv6/conf/all/disable_ipv6`).
    pub(crate) fn set_sysctl(&self, key: &str, value: &str) -> Result<(), NetnsError> {
        let path = format!("/proc/sys/{key}");
        self.run(|| std::fs::write(&path, value))?
            .map_err(|source| NetnsError::Enter {
                name: format!("{} (writing {path})", self.name),
                source,
            })
    }

    /// Turns IPv6 off for every device made in the namespace from now on,
    /// so the kernel sends no router solicitations, DAD or MLD reports:
    /// tests then see only the frames they expect.
    pub fn quiet_ipv6(&self) -> Result<(), NetnsError> {
        if !std::path::Path::new("/proc/sys/net/ipv6").exists() {
            return Ok(());
        }
        self.set_sysctl("net/ipv6/conf/default/disable_ipv6", "1")?;
        self.set_sysctl("net/ipv6/conf/all/disable_ipv6", "1")
    }

    /// The MAC address of `device` in this namespace.
    pub fn mac_of(&self, device: &str) -> Result<crate::wire::MacAddr, NetnsError> {
        let output = self.ip(&["-o", "link", "show", "dev", device])?;
        let mac = output
            .split_whitespace()
            .skip_while(|word| *word != "link/ether")
            .nth(1)
            .and_then(|text| text.parse().ok());
        mac.ok_or_else(|| NetnsError::Failed {
            command: format!("ip -n {} -o link show dev {device}", self.name),
            status: "no link/ether address in the output".to_owned(),
            stderr: output.trim().to_owned(),
        })
    }

    /// Turns off checksum offload, TSO, GSO and GRO on `device` (needs
    /// `ethtool`), so the kernel sends whole, checksummed frames no larger
    /// than MTU + 14 through it. On a veth the kernel otherwise leaves TCP
    /// and UDP checksums for "hardware" that never computes them: a frame
    /// read with AF_PACKET and sent on elsewhere then arrives corrupt.
    pub fn disable_offloads(&self, device: &str) -> Result<(), NetnsError> {
        self.exec(
            "ethtool",
            &[
                "-K", device, "tx", "off", "tso", "off", "gso", "off", "gro", "off",
            ],
        )
        .map(drop)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace deletes the veths, TAPs and addresses in
        // it once the last socket inside is closed.
        if let Err(error) = run_command("ip", &["netns", "del", &self.name]) {
            eprintln!(
                "erdp: could not delete network namespace {}: {error}",
                self.name
            );
        }
    }
}

/// Creates a veth pair, `a_device` in `a` and `b_device` in `b`, and
/// brings both ends up. The pair goes away with either namespace.
pub fn veth_pair(a: &Netns, a_device: &str, b: &Netns, b_device: &str) -> Result<(), NetnsError> {
    run_command(
        "ip",
        &[
            "link", "add", "name", a_device, "netns", &a.name, "type", "veth", "peer", "name",
            b_device, "netns", &b.name,
        ],
    )?;
    a.ip(&["link", "set", a_device, "up"])?;
    b.ip(&["link", "set", b_device, "up"])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_failures_carry_the_command_and_stderr() {
        let error = run_command("sh", &["-c", "echo oops >&2; exit 3"]).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("sh -c"), "{text}");
        assert!(text.contains("oops"), "{text}");
        let missing = run_command("erdp-no-such-tool", &[]).unwrap_err();
        assert!(matches!(missing, NetnsError::Spawn { .. }), "{missing}");
        assert!(!tool_available("erdp-no-such-tool"));
    }
}
