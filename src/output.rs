//! An output directory written all or nothing, for `erdp run` and
//! `erdp replay`: every file is written under a temporary name
//! (`.NAME.partial`) and renamed only when the whole run succeeded; a
//! manifest (`.erdp-outputs`) lists what erdp wrote, so the next run into
//! the same directory removes exactly those files and never leaves a mix of
//! two runs. A non-empty directory without a manifest is refused; files
//! the manifest does not name are never touched.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The manifest: the names of the files the last complete run wrote, one
/// per line.
pub(crate) const MANIFEST: &str = ".erdp-outputs";
/// Suffix of a file being written (`.report.json.partial`).
const PARTIAL: &str = ".partial";
/// Longest manifest read (a manifest lists a few dozen names).
const MANIFEST_MAX_BYTES: u64 = 1 << 20;

/// Why an output directory cannot be used or completed.
#[derive(Debug, Error)]
#[error("output {}: {reason}", path.display())]
pub struct OutputError {
    /// The directory or file.
    pub path: PathBuf,
    /// Why.
    pub reason: String,
}

impl OutputError {
    fn new(path: &Path, reason: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            reason: reason.into(),
        }
    }

    fn io(path: &Path, doing: &str, error: &io::Error) -> Self {
        Self::new(path, format!("{doing}: {error}"))
    }
}

/// A run's output directory. Files come from [`OutputDir::create`];
/// [`OutputDir::commit`] publishes them; dropped without a commit, it
/// removes what it wrote (and the directory, if it created it).
#[derive(Debug)]
pub(crate) struct OutputDir {
    dir: PathBuf,
    created: bool,
    previous: Vec<String>,
    staged: Vec<String>,
    committed: bool,
}

fn partial_name(name: &str) -> String {
    format!(".{name}{PARTIAL}")
}

/// A plain file name: no separators, not hidden, not `.`/`..`.
fn is_plain(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', '\0'])
}

impl OutputDir {
    /// Opens `dir` for a new run: creates it when missing; an existing
    /// directory must be empty or hold a manifest (a previous run's
    /// outputs). Stale `.NAME.partial` files of an interrupted run are
    /// removed.
    pub(crate) fn prepare(dir: &Path) -> Result<Self, OutputError> {
        let mut created = false;
        if !dir.exists() {
            std::fs::create_dir_all(dir)
                .map_err(|e| OutputError::io(dir, "cannot create the directory", &e))?;
            created = true;
        } else if !dir.is_dir() {
            return Err(OutputError::new(dir, "is not a directory"));
        }
        let manifest = dir.join(MANIFEST);
        let previous = match std::fs::metadata(&manifest) {
            Ok(meta) if meta.len() > MANIFEST_MAX_BYTES => {
                return Err(OutputError::new(&manifest, "is too large to be erdp's"));
            }
            Ok(_) => std::fs::read_to_string(&manifest)
                .map_err(|e| OutputError::io(&manifest, "cannot read", &e))?
                .lines()
                .filter(|name| is_plain(name))
                .map(str::to_owned)
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(OutputError::io(&manifest, "cannot read", &e)),
        };
        let entries =
            std::fs::read_dir(dir).map_err(|e| OutputError::io(dir, "cannot list", &e))?;
        let mut foreign = None;
        for entry in entries {
            let entry = entry.map_err(|e| OutputError::io(dir, "cannot list", &e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(PARTIAL) {
                let _ = std::fs::remove_file(entry.path());
            } else if name != MANIFEST && foreign.is_none() {
                foreign = Some(name);
            }
        }
        let has_manifest = manifest.exists();
        if let (Some(name), false) = (foreign, has_manifest) {
            return Err(OutputError::new(
                dir,
                format!(
                    "is not empty ({name:?}, ...) and holds no earlier erdp outputs ({MANIFEST}): give a new or empty directory"
                ),
            ));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            created,
            previous,
            staged: Vec::new(),
            committed: false,
        })
    }

    /// Where `name` will be once committed.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// A new file `name`, written under its temporary name until
    /// [`commit`](Self::commit).
    pub(crate) fn create(&mut self, name: &str) -> Result<File, OutputError> {
        let path = self.path(name);
        if !is_plain(name) || name == MANIFEST {
            return Err(OutputError::new(&path, "is not a plain file name"));
        }
        if self.staged.iter().any(|n| n == name) {
            return Err(OutputError::new(&path, "is written twice"));
        }
        let partial = self.dir.join(partial_name(name));
        let file =
            File::create(&partial).map_err(|e| OutputError::io(&partial, "cannot create", &e))?;
        self.staged.push(name.to_owned());
        Ok(file)
    }

    /// Writes the whole file `name` at once.
    pub(crate) fn write(&mut self, name: &str, bytes: &[u8]) -> Result<PathBuf, OutputError> {
        let mut file = self.create(name)?;
        let path = self.path(name);
        file.write_all(bytes)
            .map_err(|e| OutputError::io(&path, "cannot write", &e))?;
        Ok(path)
    }

    /// Publishes the run: renames every file to its name, removes the
    /// previous run's other files and writes the manifest. The files'
    /// writers must have been flushed and closed. The manifest names the
    /// files of both runs until the renames are done, so even an
    /// interrupted commit leaves nothing untracked.
    pub(crate) fn commit(mut self) -> Result<(), OutputError> {
        let mut both = self.staged.clone();
        both.extend(
            self.previous
                .iter()
                .filter(|n| !self.staged.contains(n))
                .cloned(),
        );
        self.write_manifest(&both)?;
        for name in &self.staged {
            let path = self.dir.join(name);
            std::fs::rename(self.dir.join(partial_name(name)), &path)
                .map_err(|e| OutputError::io(&path, "cannot rename into place", &e))?;
        }
        self.committed = true;
        for old in &self.previous {
            if !self.staged.contains(old) {
                let path = self.dir.join(old);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => {
                        return Err(OutputError::io(
                            &path,
                            "cannot remove the earlier run's",
                            &e,
                        ));
                    }
                    _ => {}
                }
            }
        }
        self.write_manifest(&self.staged)
    }

    fn write_manifest(&self, names: &[String]) -> Result<(), OutputError> {
        let mut text = String::new();
        for name in names {
            text.push_str(name);
            text.push('\n');
        }
        let partial = self.dir.join(partial_name(MANIFEST));
        std::fs::write(&partial, text)
            .map_err(|e| OutputError::io(&partial, "cannot write", &e))?;
        let path = self.dir.join(MANIFEST);
        std::fs::rename(&partial, &path)
            .map_err(|e| OutputError::io(&path, "cannot rename into place", &e))
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for name in &self.staged {
            let _ = std::fs::remove_file(self.dir.join(partial_name(name)));
        }
        let _ = std::fs::remove_file(self.dir.join(partial_name(MANIFEST)));
        if self.created {
            let _ = std::fs::remove_dir(&self.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("erdp-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn listing(dir: &Path) -> Vec<String> {
        let entries = std::fs::read_dir(dir).unwrap().flatten();
        let names: std::collections::BTreeSet<String> = entries
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.into_iter().collect()
    }

    #[test]
    fn files_appear_only_on_commit_and_replace_the_last_run() {
        let dir = scratch("commit");
        let mut out = OutputDir::prepare(&dir).unwrap();
        out.write("a.pcap", b"one").unwrap();
        out.write("b.pcap", b"one").unwrap();
        assert_eq!(listing(&dir), [".a.pcap.partial", ".b.pcap.partial"]);
        out.commit().unwrap();
        assert_eq!(listing(&dir), [MANIFEST, "a.pcap", "b.pcap"]);
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();

        let mut out = OutputDir::prepare(&dir).unwrap();
        out.write("b.pcap", b"two").unwrap();
        out.write("c.pcap", b"two").unwrap();
        out.commit().unwrap();
        // a.pcap was the last run's and is gone; notes.txt is the user's.
        assert_eq!(listing(&dir), [MANIFEST, "b.pcap", "c.pcap", "notes.txt"]);
        assert_eq!(std::fs::read(dir.join("b.pcap")).unwrap(), b"two");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_run_leaves_the_last_run_untouched() {
        let dir = scratch("fail");
        let mut out = OutputDir::prepare(&dir).unwrap();
        out.write("a.pcap", b"one").unwrap();
        out.commit().unwrap();
        let mut out = OutputDir::prepare(&dir).unwrap();
        out.write("a.pcap", b"two").unwrap();
        out.write("b.pcap", b"two").unwrap();
        drop(out);
        assert_eq!(listing(&dir), [MANIFEST, "a.pcap"]);
        assert_eq!(std::fs::read(dir.join("a.pcap")).unwrap(), b"one");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_first_run_removes_the_directory_it_created() {
        let dir = scratch("created");
        let mut out = OutputDir::prepare(&dir).unwrap();
        out.write("a.pcap", b"one").unwrap();
        drop(out);
        assert!(!dir.exists());
    }

    #[test]
    fn a_foreign_directory_is_refused_and_left_alone() {
        let dir = scratch("foreign");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("thesis.tex"), "mine").unwrap();
        let error = OutputDir::prepare(&dir).unwrap_err().to_string();
        assert!(
            error.contains("not empty") && error.contains(MANIFEST),
            "{error}"
        );
        assert_eq!(listing(&dir), ["thesis.tex"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn names_are_plain_and_written_once() {
        let dir = scratch("names");
        let mut out = OutputDir::prepare(&dir).unwrap();
        for bad in ["", "../x", "a/b", ".hidden", MANIFEST] {
            assert!(out.create(bad).is_err(), "{bad:?}");
        }
        out.create("a").unwrap();
        assert!(out.create("a").is_err());
    }
}
