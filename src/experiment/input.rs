//! Reading a file a user named, safely: it must be a regular file and no larger than what capsim
//! reads for its kind, checked before a byte is read, so `/dev/zero` as a trace or a 40 GB file
//! given by mistake is refused at once instead of filling memory.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// What a file is for; it sets the largest size capsim reads.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// An experiment or plan file.
    Experiment,
    /// A catalog file (`--catalog` folder).
    Catalog,
    /// A trace, a file of values, a step profile or a summary written by capsim.
    Data,
}

impl InputKind {
    /// The largest file of this kind capsim reads, bytes. Experiment and catalog files are
    /// written by hand (the largest shipped is a few kB); data files hold up to tens of millions
    /// of rows (a week of the Azure 2024 traces is under 1 GiB).
    pub fn limit(self) -> u64 {
        match self {
            InputKind::Experiment => 4 << 20,
            InputKind::Catalog => 1 << 20,
            InputKind::Data => 1 << 30,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            InputKind::Experiment => "an experiment file",
            InputKind::Catalog => "a catalog file",
            InputKind::Data => "a data file",
        }
    }
}

/// Why a file was not read.
#[derive(Debug)]
pub enum InputError {
    /// The operating system refused (not found, permission, not UTF-8).
    Io(std::io::Error),
    /// A directory, a device, a pipe or a socket.
    NotAFile(&'static str),
    /// Larger than [`InputKind::limit`].
    TooLarge {
        /// Bytes seen (at least; a file that grows while read is cut at the limit).
        size: u64,
        /// What was read.
        kind: InputKind,
    },
}

impl InputError {
    /// Whether the file does not exist, for callers that add a hint about paths.
    pub fn not_found(&self) -> bool {
        matches!(self, InputError::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io(e) => write!(f, "{e}"),
            InputError::NotAFile(what) => write!(f, "it is {what}, not a regular file"),
            InputError::TooLarge { size, kind } => write!(
                f,
                "it is {} MiB, more than the {} MiB capsim reads as {}",
                mib(*size),
                mib(kind.limit()),
                kind.noun()
            ),
        }
    }
}

fn mib(bytes: u64) -> String {
    let m = bytes as f64 / 1_048_576.0;
    if m >= 10.0 {
        format!("{m:.0}")
    } else {
        format!("{m:.1}")
    }
}

/// Reads `path` as UTF-8 text after checking that it is a regular file within `kind`'s limit.
pub fn read_text(path: &Path, kind: InputKind) -> Result<String, InputError> {
    let meta = std::fs::metadata(path).map_err(InputError::Io)?;
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(InputError::NotAFile("a folder"));
    }
    if !ft.is_file() {
        return Err(InputError::NotAFile("a device, pipe or socket"));
    }
    let limit = kind.limit();
    if meta.len() > limit {
        return Err(InputError::TooLarge {
            size: meta.len(),
            kind,
        });
    }
    // The size on disk can lie (files under /proc say 0, a log may grow): read at most one
    // byte past the limit and refuse if it is there.
    let file = std::fs::File::open(path).map_err(InputError::Io)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(InputError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            size: bytes.len() as u64,
            kind,
        });
    }
    String::from_utf8(bytes).map_err(|_| {
        InputError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_refused_before_it_is_read() {
        let e = read_text(Path::new("/dev/zero"), InputKind::Data).unwrap_err();
        assert_eq!(
            e.to_string(),
            "it is a device, pipe or socket, not a regular file"
        );
    }

    #[test]
    fn a_folder_is_refused() {
        let e = read_text(Path::new("/"), InputKind::Experiment).unwrap_err();
        assert_eq!(e.to_string(), "it is a folder, not a regular file");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_with_its_size() {
        let dir = std::env::temp_dir().join(format!("capsim-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.toml");
        std::fs::write(&path, vec![b'#'; (2 * InputKind::Catalog.limit()) as usize]).unwrap();
        let e = read_text(&path, InputKind::Catalog).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            e.to_string(),
            "it is 2.0 MiB, more than the 1.0 MiB capsim reads as a catalog file"
        );
    }
}
