//! Route list files: one route a line, `PREFIX [NEXTHOP]`, `#` comments, gzip
//! accepted (detected by its magic bytes). A bare CIDR list is valid. A
//! prefix with host bits set is an error naming the file and line.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use ipnet::IpNet;
use thiserror::Error;

/// One route of a route file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteLine {
    /// The prefix (host bits clear).
    pub prefix: IpNet,
    /// Index into [`RouteFile::next_hops`], or `None` when the line had none.
    pub next_hop: Option<u32>,
    /// 1-based line number.
    pub line: u32,
}

/// A parsed route file.
#[derive(Debug, Clone, Default)]
pub struct RouteFile {
    /// Routes in file order, duplicates included.
    pub routes: Vec<RouteLine>,
    /// Distinct next-hop tokens, in order of first appearance.
    pub next_hops: Vec<String>,
    /// Prefixes given more than once: (first line, repeated line, prefix).
    /// A later line replaces an earlier one.
    pub duplicates: Vec<(u32, u32, IpNet)>,
}

/// Why a route file could not be read.
#[derive(Debug, Error)]
pub enum RouteFileError {
    /// The file could not be opened or read (or is corrupt gzip).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A line is not `PREFIX [NEXTHOP]`.
    #[error("{path}:{line}: {reason}: {text:?}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u32,
        /// The offending line (trimmed).
        text: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The prefix has host bits set.
    #[error("{path}:{line}: prefix {prefix} has host bits set (did you mean {network}?)")]
    HostBits {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: u32,
        /// The prefix as written.
        prefix: IpNet,
        /// The prefix with its host bits cleared.
        network: IpNet,
    },
}

/// Opens a possibly gzip-compressed file for buffered reading.
pub(crate) fn open_maybe_gzip(path: &Path) -> io::Result<Box<dyn BufRead>> {
    let mut file = BufReader::with_capacity(1 << 16, File::open(path)?);
    let gzip = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzip {
        Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(file)))
    } else {
        Box::new(file)
    })
}

impl RouteFile {
    /// Reads and parses a route file (plain or gzip).
    pub fn load(path: &Path) -> Result<Self, RouteFileError> {
        let io_error = |source| RouteFileError::Io {
            path: path.to_owned(),
            source,
        };
        let reader = open_maybe_gzip(path).map_err(io_error)?;
        Self::parse(reader, path)
    }

    /// Parses route lines from `reader`; `path` names the source in errors.
    pub fn parse(reader: impl Read, path: &Path) -> Result<Self, RouteFileError> {
        let mut reader = BufReader::new(reader);
        let mut file = RouteFile::default();
        let mut hop_index: HashMap<String, u32> = HashMap::new();
        let mut first_line: HashMap<IpNet, u32> = HashMap::new();
        let mut text = String::new();
        let mut line = 0u32;
        loop {
            text.clear();
            let read = reader
                .read_line(&mut text)
                .map_err(|source| RouteFileError::Io {
                    path: path.to_owned(),
                    source,
                })?;
            if read == 0 {
                return Ok(file);
            }
            line = line.saturating_add(1);
            let content = text.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let malformed = |reason| RouteFileError::Malformed {
                path: path.to_owned(),
                line,
                text: content.to_owned(),
                reason,
            };
            let mut fields = content.split_whitespace();
            let (Some(prefix), hop) = (fields.next(), fields.next()) else {
                continue;
            };
            if fields.next().is_some() {
                return Err(malformed("expected `PREFIX [NEXTHOP]`, found more fields"));
            }
            let prefix: IpNet = prefix
                .parse()
                .map_err(|_| malformed("not a prefix (expected CIDR such as 10.1.0.0/16)"))?;
            if prefix.trunc() != prefix {
                return Err(RouteFileError::HostBits {
                    path: path.to_owned(),
                    line,
                    prefix,
                    network: prefix.trunc(),
                });
            }
            let next_hop = hop.map(|hop| {
                let next = file.next_hops.len() as u32;
                *hop_index.entry(hop.to_owned()).or_insert_with(|| {
                    file.next_hops.push(hop.to_owned());
                    next
                })
            });
            match first_line.entry(prefix) {
                Entry::Occupied(first) => file.duplicates.push((*first.get(), line, prefix)),
                Entry::Vacant(slot) => {
                    slot.insert(line);
                }
            }
            file.routes.push(RouteLine {
                prefix,
                next_hop,
                line,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn parse(text: &str) -> Result<RouteFile, RouteFileError> {
        RouteFile::parse(text.as_bytes(), Path::new("routes.txt"))
    }

    #[test]
    fn parses_routes_comments_and_bare_prefixes() {
        let file = parse(
            "# on-prem routes\n10.0.0.0/8 er0\n\n10.1.0.0/16 10.255.0.1 # via VPN\n2001:db8::/32\n10.2.0.0/16 er0\n",
        )
        .unwrap();
        assert_eq!(file.routes.len(), 4);
        assert_eq!(file.next_hops, ["er0", "10.255.0.1"]);
        assert_eq!(file.routes[0].next_hop, Some(0));
        assert_eq!(file.routes[1].next_hop, Some(1));
        assert_eq!(file.routes[2].next_hop, None);
        assert_eq!(file.routes[2].line, 5);
        assert_eq!(file.routes[3].next_hop, Some(0));
        assert!(file.duplicates.is_empty());
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let err = parse("10.0.0.0/8\n10.0.0.0/33 x\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "routes.txt:2: not a prefix (expected CIDR such as 10.1.0.0/16): \"10.0.0.0/33 x\""
        );
        let err = parse("10.0.0.0/8 a b\n").unwrap_err();
        assert!(
            err.to_string().starts_with("routes.txt:1: expected"),
            "{err}"
        );
        let err = parse("10.0.0.1\n").unwrap_err();
        assert!(err.to_string().contains("not a prefix"), "{err}");
    }

    #[test]
    fn host_bits_are_rejected_with_the_network_suggested() {
        let err = parse("10.1.2.3/24 er0\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "routes.txt:1: prefix 10.1.2.3/24 has host bits set (did you mean 10.1.2.0/24?)"
        );
    }

    #[test]
    fn duplicates_are_reported() {
        let file = parse("10.0.0.0/8 a\n10.0.0.0/8 b\n").unwrap();
        assert_eq!(
            file.duplicates,
            [(1, 2, "10.0.0.0/8".parse::<IpNet>().unwrap())]
        );
    }

    #[test]
    fn gzip_files_are_detected_by_magic() {
        let dir = std::env::temp_dir().join(format!("erdp-route-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("table.txt");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"192.0.2.0/24\n").unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let file = RouteFile::load(&path).unwrap();
        assert_eq!(file.routes[0].prefix, "192.0.2.0/24".parse().unwrap());
        let missing = RouteFile::load(&dir.join("missing")).unwrap_err();
        assert!(missing.to_string().contains("missing"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
