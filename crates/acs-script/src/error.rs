//! Script errors, with their place in the operator's source.
//!
//! QuickJS reports positions for the text it compiled, which is the operator's source
//! inside a wrapper (see `script.rs`): the wrapper's opening sits on the source's first
//! line, so lines are unchanged and only columns on line 1 are shifted by its length.
//! [`Location`] undoes that shift and drops positions that fall inside the wrapper.

use std::fmt;

/// What kind of failure ended a script, so that callers can count and react to them
/// differently (a timeout is the operator's loop, an engine error is ours).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The source does not parse (or is not a single script body, see [`crate::Script`]).
    Syntax,
    /// An exception the script did not catch: its own `throw`, a `TypeError`, or a host
    /// refusal (`declare` of an invalid path) it let through.
    Exception,
    /// The run used up its CPU-time limit ([`crate::Limits::cpu`]).
    Timeout,
    /// The runtime reached its memory limit ([`crate::Limits::memory_bytes`]).
    OutOfMemory,
    /// The script recursed past the stack limit ([`crate::Limits::stack_bytes`]).
    StackOverflow,
    /// The script returned a value that has no JSON form (a cycle, a BigInt too large
    /// for a number).
    InvalidReturn,
    /// The engine could not be set up or failed outside the script's control.
    Engine,
}

impl ErrorKind {
    /// A short stable name, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax",
            ErrorKind::Exception => "exception",
            ErrorKind::Timeout => "timeout",
            ErrorKind::OutOfMemory => "out_of_memory",
            ErrorKind::StackOverflow => "stack_overflow",
            ErrorKind::InvalidReturn => "invalid_return",
            ErrorKind::Engine => "engine",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A script that could not be compiled or did not finish.
///
/// `line` and `column` are 1-based positions in the operator's source, when the engine
/// knows one. Displayed as `name:line:column: message` (`set-wifi.js:3:7: TypeError:
/// cannot read property 'x' of undefined`), the form editors and the API's 400 answers
/// use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScriptError {
    pub kind: ErrorKind,
    /// The script's name as given to [`crate::Script::new`].
    pub script: String,
    /// The JavaScript error's name and message (`TypeError: not a function`), or what
    /// the sandbox stopped.
    pub message: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl ScriptError {
    pub(crate) fn new(kind: ErrorKind, script: &str, message: impl Into<String>) -> Self {
        ScriptError {
            kind,
            script: script.to_owned(),
            message: message.into(),
            line: None,
            column: None,
        }
    }

    pub(crate) fn at(mut self, location: Option<Location>) -> Self {
        if let Some(l) = location {
            self.line = Some(l.line);
            self.column = l.column;
        }
        self
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => {
                write!(f, "{}:{line}:{column}: {}", self.script, self.message)
            }
            (Some(line), None) => write!(f, "{}:{line}: {}", self.script, self.message),
            _ => write!(f, "{}: {}", self.script, self.message),
        }
    }
}

/// A position in the operator's source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    pub line: u32,
    pub column: Option<u32>,
}

/// Finds the innermost frame of `file` in a QuickJS stack trace and maps it to the
/// operator's source.
///
/// QuickJS writes frames as `    at fn (file:line:col)` and, for syntax errors,
/// `    at file:line:col`. The first frame may be the prelude's (an exception thrown by
/// `declare`), so frames of other files are skipped. `prefix_len` is the length of the
/// wrapper text before the source on line 1; `source_lines` bounds the line so that the
/// wrapper's closing line is not reported.
pub(crate) fn locate(
    stack: &str,
    file: &str,
    prefix_len: u32,
    source_lines: u32,
) -> Option<Location> {
    for frame in stack.lines() {
        let Some(frame) = frame.trim_start().strip_prefix("at ") else {
            continue;
        };
        let frame = frame.strip_suffix(')').unwrap_or(frame);
        let mut parts = frame.rsplitn(3, ':');
        let (Some(col), Some(line), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if rest != file && !rest.ends_with(&format!("({file}")) {
            continue;
        }
        let (Ok(line), Ok(col)) = (line.parse::<u32>(), col.parse::<u32>()) else {
            continue;
        };
        if line == 0 || line > source_lines {
            return None;
        }
        let column = if line == 1 {
            col.checked_sub(prefix_len).filter(|c| *c >= 1)
        } else {
            Some(col)
        };
        if line == 1 && column.is_none() {
            // A position inside the wrapper: QuickJS had no better one (it records
            // positions at calls and property accesses, not at every operation).
            return None;
        }
        return Some(Location { line, column });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_skips_other_files_and_maps_line_one() {
        let stack = "    at declare (<acs-script prelude>:120:12)\n    at <anonymous> (my script.js:1:20)\n";
        assert_eq!(
            locate(stack, "my script.js", 8, 5),
            Some(Location {
                line: 1,
                column: Some(12)
            })
        );
        assert_eq!(
            locate("    at s.js:3:9\n", "s.js", 8, 5),
            Some(Location {
                line: 3,
                column: Some(9)
            })
        );
    }

    #[test]
    fn locate_drops_wrapper_positions() {
        assert_eq!(
            locate("    at <anonymous> (s.js:1:1)\n", "s.js", 8, 5),
            None
        );
        assert_eq!(
            locate("    at <anonymous> (s.js:6:1)\n", "s.js", 8, 5),
            None
        );
        assert_eq!(
            locate("    at <anonymous> (t.js:2:1)\n", "s.js", 8, 5),
            None
        );
    }

    #[test]
    fn display_forms() {
        let mut e = ScriptError::new(ErrorKind::Exception, "a.js", "TypeError: x");
        assert_eq!(e.to_string(), "a.js: TypeError: x");
        e.line = Some(3);
        assert_eq!(e.to_string(), "a.js:3: TypeError: x");
        e.column = Some(7);
        assert_eq!(e.to_string(), "a.js:3:7: TypeError: x");
    }
}
