//! `erdp fib lookup` and `erdp fib stats` as a user runs them: addresses from
//! arguments and from stdin (mixed families, many lines), gzip route files,
//! and errors that name the file and line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn erdp(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_erdp"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let text = stdin.to_owned();
    let feeder = std::thread::spawn(move || input.write_all(text.as_bytes()));
    let output = child.wait_with_output().unwrap();
    // The child may exit (an error) before reading all input.
    let _ = feeder.join();
    output
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("erdp-fib-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str, contents: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const ROUTES: &str = "# demo routes\n\
    0.0.0.0/0 isp\n\
    10.0.0.0/8 er0\n\
    10.1.0.0/16 ipsec0  # the VPN\n\
    10.1.2.3/32\n\
    2001:db8::/32 er0\n\
    ::ffff:0:0/96 mapped\n";

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn lookup_addresses_from_arguments() {
    let scratch = Scratch::new("args");
    let routes = scratch.file("routes.txt", ROUTES.as_bytes());
    let output = erdp(
        &[
            "fib",
            "lookup",
            "--routes",
            &routes,
            "10.1.9.9",
            "10.1.2.3",
            "192.0.2.1",
            "2001:db8::5",
            "2001:db9::1",
            "::ffff:10.0.0.1",
        ],
        "",
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        stdout,
        "10.1.9.9 10.1.0.0/16 ipsec0\n\
         10.1.2.3 10.1.2.3/32 -\n\
         192.0.2.1 0.0.0.0/0 isp\n\
         2001:db8::5 2001:db8::/32 er0\n\
         2001:db9::1 - -\n\
         ::ffff:10.0.0.1 ::ffff:0.0.0.0/96 mapped\n"
    );
}

#[test]
fn lookup_many_addresses_from_stdin_gzip_routes() {
    let scratch = Scratch::new("stdin");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(ROUTES.as_bytes()).unwrap();
    let routes = scratch.file("routes.txt.gz", &gz.finish().unwrap());
    let mut input = String::new();
    for i in 0..100_000u32 {
        if i % 2 == 0 {
            let n = i / 2;
            input.push_str(&format!("10.1.{}.{}\n", (n >> 8) & 255, n & 255));
        } else {
            input.push_str(&format!("2001:db8::{:x}:{:x}\n", i >> 16, i & 0xffff));
        }
    }
    let output = erdp(&["fib", "lookup", "--routes", &routes], &input);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 100_000);
    assert_eq!(lines[0], "10.1.0.0 10.1.0.0/16 ipsec0");
    assert_eq!(lines[1], "2001:db8::1 2001:db8::/32 er0");
    assert_eq!(lines[99_999], "2001:db8::1:869f 2001:db8::/32 er0");
    // Line 2 * 0x0203: 10.1.2.3, the host route without a next hop.
    assert_eq!(lines[2 * 0x0203], "10.1.2.3 10.1.2.3/32 -");
}

#[test]
fn bad_input_is_an_error_naming_file_and_line() {
    let scratch = Scratch::new("errors");
    let host_bits = scratch.file("host-bits.txt", b"10.0.0.0/8\n10.1.2.3/24 er0\n");
    let output = erdp(&["fib", "lookup", "--routes", &host_bits, "10.0.0.1"], "");
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr.contains(&format!(
            "{host_bits}:2: prefix 10.1.2.3/24 has host bits set (did you mean 10.1.2.0/24?)"
        )),
        "{stderr}"
    );
    let malformed = scratch.file("malformed.txt", b"10.0.0.0/8 a b\n");
    let output = erdp(&["fib", "stats", "--routes", &malformed], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output)
            .1
            .contains("malformed.txt:1: expected `PREFIX [NEXTHOP]`")
    );
    let missing = Path::new(&scratch.0).join("missing.txt");
    let output = erdp(&["fib", "stats", "--routes", missing.to_str().unwrap()], "");
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("missing.txt"));
    // A bad address on stdin names the line; earlier results are still out.
    let routes = scratch.file("routes.txt", ROUTES.as_bytes());
    let output = erdp(
        &["fib", "lookup", "--routes", &routes],
        "10.0.0.1\nnot-an-address\n",
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(stdout, "10.0.0.1 10.0.0.0/8 er0\n");
    assert!(
        stderr.contains("stdin:2: not an IPv4 or IPv6 address: \"not-an-address\""),
        "{stderr}"
    );
    // Duplicates are a warning; the later line wins.
    let duplicate = scratch.file("dup.txt", b"10.0.0.0/8 a\n10.0.0.0/8 b\n");
    let output = erdp(&["fib", "lookup", "--routes", &duplicate, "10.0.0.1"], "");
    let (stdout, stderr) = text(&output);
    assert!(output.status.success());
    assert_eq!(stdout, "10.0.0.1 10.0.0.0/8 b\n");
    assert!(
        stderr.contains("dup.txt:2: 10.0.0.0/8 repeats line 1"),
        "{stderr}"
    );
}

#[test]
fn stats_report_families_bytes_and_levels() {
    let scratch = Scratch::new("stats");
    let routes = scratch.file("routes.txt", ROUTES.as_bytes());
    let output = erdp(&["fib", "stats", "--routes", &routes], "");
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("(6 routes, 0 duplicate prefixes, 4 next hops)"),
        "{stdout}"
    );
    assert!(stdout.contains("IPv4       4 prefixes"), "{stdout}");
    assert!(stdout.contains("IPv6       2 prefixes"), "{stdout}");
    assert!(stdout.contains("bytes/prefix"), "{stdout}");
    assert!(
        stdout.contains(", nodes ") && stdout.contains(", leaves "),
        "{stdout}"
    );
    assert!(stdout.contains("build      "), "{stdout}");
    // The IPv4 /32 needs nodes at bits 18-24, 24-30 and 30-36; IPv6's
    // /32 and /96 an expanded table for bits 18-30 (not labelled 18-24).
    assert!(stdout.contains("30-36"), "{stdout}");
    let v6 = stdout.split("IPv6").nth(1).unwrap_or_default();
    assert!(v6.contains(" 18-30 "), "{stdout}");
    assert!(!v6.contains(" 18-24 "), "{stdout}");
}
