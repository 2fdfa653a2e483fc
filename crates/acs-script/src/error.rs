//! Script errors, with their place in the operator's source.
//!
//! QuickJS reports positions in the text it compiled, which is the operator's source
//! inside a wrapper (see `script.rs`): the wrapper's opening sits on the source's first
//! line, so lines are the operator's and only columns on line 1 need mapping
//! (`Script::locate`). This module finds the frame in QuickJS's stack trace.

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

/// Finds the innermost frame of `file` in a QuickJS stack trace: its line and column in
/// the compiled text, as QuickJS reports them.
///
/// QuickJS writes frames as `    at fn (file:line:col)` and, for syntax errors,
/// `    at file:line:col`. The first frame may be the prelude's (an exception thrown by
/// `declare`) or a native's (`at exec (native)`), so frames of other files are skipped.
pub(crate) fn find_frame(stack: &str, file: &str) -> Option<(u32, u32)> {
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
        if let (Ok(line), Ok(col)) = (line.parse::<u32>(), col.parse::<u32>()) {
            return Some((line, col));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_frame_skips_other_files() {
        let stack = "    at exec (native)\n    at declare (<acs-script prelude>:120:12)\n    at <anonymous> (my script.js:1:20)\n";
        assert_eq!(find_frame(stack, "my script.js"), Some((1, 20)));
        assert_eq!(find_frame("    at s.js:3:9\n", "s.js"), Some((3, 9)));
        assert_eq!(
            find_frame("    at f (a:b.js:3:9)\n", "a:b.js"),
            Some((3, 9))
        );
        assert_eq!(find_frame("    at <anonymous> (t.js:2:1)\n", "s.js"), None);
        assert_eq!(find_frame("garbage", "s.js"), None);
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
