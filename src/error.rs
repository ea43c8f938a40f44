//! Errors users see. Each names the file, the key path and the line where they are known, says
//! what was expected, and gives a hint where one helps.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// A problem with an experiment file (or a file it points to). Exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    /// The file the problem is in.
    pub file: PathBuf,
    /// The dotted key path, e.g. `workload.arrival.rate`.
    pub key: Option<String>,
    /// 1-based line, where known.
    pub line: Option<u32>,
    /// 1-based column, where known.
    pub column: Option<u32>,
    /// What is wrong and what was expected.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl ConfigError {
    /// An error about `file` as a whole.
    pub fn new(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_path_buf(),
            key: None,
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Sets the key path.
    pub fn at_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the line and column.
    pub fn at_line(mut self, line: usize, column: Option<usize>) -> Self {
        // u32 keeps the error small enough to return by value; no experiment file has 4 billion
        // lines, and if one did the location would saturate rather than wrap.
        let narrow = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.line = Some(narrow(line));
        self.column = column.map(narrow);
        self
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Renders as `file:line:column: key: message`, then `  hint: ...` on its own line.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A failure while running or writing results. Exit code 1.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunError {
    /// A results file or folder could not be written.
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        /// What was being written.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A result could not be encoded.
    #[error("cannot encode the results as {format}: {message}")]
    Encode {
        /// "JSON" or "CSV".
        format: &'static str,
        /// The encoder's message.
        message: String,
    },
    /// Ctrl-C (SIGINT) stopped a sweep before all its runs had finished; the finished runs are
    /// saved in the results folder's `partial.jsonl`. Exit code 130, as a shell reports a
    /// process ended by SIGINT.
    #[error("interrupted after {finished} of {total} runs")]
    Interrupted {
        /// Runs finished (and saved), including those of earlier, resumed invocations.
        finished: usize,
        /// Runs of the plan (of the shard, with `--shard`).
        total: usize,
    },
    /// A search (`capsim plan`) used its simulation budget before it was decided; what it
    /// found so far is written.
    #[error("{message}")]
    Unfinished {
        /// What stopped and how to let it finish.
        message: String,
    },
    /// A run broke one of the model's invariants; this is a bug in capsim.
    #[error(
        "run {run} broke an invariant: {message} (this is a bug in capsim; please report it with the experiment file)"
    )]
    Invariant {
        /// Index of the run.
        run: usize,
        /// What went wrong.
        message: String,
    },
}
