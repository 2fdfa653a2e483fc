//! Compiled-once scripts and the syntax check.
//!
//! An operator's script is a function body, not a program, as in GenieACS: it may
//! `return` at top level (virtual parameters return their value that way), and it runs in
//! strict mode (GenieACS compiles `"use strict";(function(){` + script + `})()`, and its
//! documentation says so; scripts written for it are therefore strict-mode code). The
//! sandbox compiles `(function () {` + source + `\n})` in strict mode. The opening is on
//! the source's first line so that line numbers in errors and in `e.stack` are the
//! operator's; the closing is on a line of its own so that a trailing `// comment` cannot
//! swallow it. In strict mode the function cannot reach itself (no `arguments.callee`, no
//! name), so a run cannot store data on the compiled function that all runs share.
//!
//! Wrapping text can be escaped: a source such as `}); let leak = 1; (function () {`
//! would close the function and run code at global scope, where a `let` outlives the run.
//! So [`Script::new`] proves the source is one body before anything runs it. It compiles
//! `throw (function () {` + source + `\n})` in a checking context: the whole text is
//! parsed before any of it runs, and the first statement throws, so no code of the source
//! ever executes there (a source that escapes only gets its declarations instantiated,
//! and that context is then thrown away). The thrown value must be a function whose
//! source text is exactly the wrapper's: if the source escaped, the thrown function ends
//! early.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use rquickjs::context::{EvalOptions, intrinsic};
use rquickjs::function::This;
use rquickjs::{CatchResultExt, CaughtError, Context, Ctx, Function, Persistent, Runtime};

use crate::error::{ErrorKind, Location, ScriptError, find_frame};

/// The text before the source when it runs (see the module documentation).
pub(crate) const RUN_PREFIX: &str = "(function () {";
/// The text before the source when it is checked.
const CHECK_PREFIX: &str = "throw (function () {";
/// The text after the source.
pub(crate) const SUFFIX: &str = "\n})";

/// Memory for the checking runtime: parsing takes some ten times the source's size, and
/// scripts are small; this only stops a pathological upload.
const CHECK_MEMORY: usize = 64 << 20;

/// A provision or virtual-parameter script, syntax-checked.
///
/// Cheap to clone and `Send + Sync`: keep one per script version and share it. A
/// [`crate::Sandbox`] caches the compiled form per script (by name and source), so
/// running the same script in many sessions parses it once per sandbox.
#[derive(Clone)]
pub struct Script {
    pub(crate) inner: Arc<ScriptInner>,
}

pub(crate) struct ScriptInner {
    pub name: String,
    pub source: String,
    /// The name QuickJS is given: the name without characters that would break a stack
    /// trace line (`\n`) or a C string (`\0`).
    pub file: String,
    /// The number of lines of the source, to tell its positions from the wrapper's.
    pub lines: u32,
    /// A hash of the name and source, the cache key's hash.
    pub hash: u64,
}

impl Script {
    /// Checks the source and keeps it. Costs a parse (tens of microseconds for a
    /// provision-sized script), so build a `Script` when the script is saved or loaded,
    /// not per session.
    pub fn new(name: impl Into<String>, source: impl Into<String>) -> Result<Script, ScriptError> {
        let inner = ScriptInner::new(name.into(), source.into());
        check(&inner)?;
        Ok(Script {
            inner: Arc::new(inner),
        })
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn source(&self) -> &str {
        &self.inner.source
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Script")
            .field("name", &self.inner.name)
            .field("source_len", &self.inner.source.len())
            .finish_non_exhaustive()
    }
}

impl ScriptInner {
    fn new(name: String, source: String) -> Self {
        let mut file: String = name
            .chars()
            .map(|c| {
                if c == '\0' || c == '\n' || c == '\r' {
                    '?'
                } else {
                    c
                }
            })
            .collect();
        if file.is_empty() {
            file.push_str("script");
        }
        let lines = u32::try_from(source.split('\n').count()).unwrap_or(u32::MAX);
        let mut hasher = DefaultHasher::new();
        name.hash(&mut hasher);
        source.hash(&mut hasher);
        ScriptInner {
            hash: hasher.finish(),
            name,
            source,
            file,
            lines,
        }
    }

    /// The text the sandbox compiles.
    pub(crate) fn run_text(&self) -> String {
        wrap(RUN_PREFIX, &self.source)
    }

    pub(crate) fn eval_options(&self) -> EvalOptions {
        eval_options(&self.file)
    }

    /// Builds the error of an exception whose stack trace QuickJS wrote, placed in this
    /// script's source when a frame of it is found.
    pub(crate) fn error_from_stack(
        &self,
        kind: ErrorKind,
        message: String,
        stack: Option<&str>,
        prefix: &str,
        origin: Origin,
    ) -> ScriptError {
        let location = stack
            .and_then(|s| find_frame(s, &self.file))
            .and_then(|(line, column)| self.locate(line, column, prefix, origin));
        ScriptError::new(kind, &self.name, message).at(location)
    }

    /// Maps a QuickJS position in the compiled text (`prefix` + source + [`SUFFIX`]) to a
    /// 1-based line and column of the source, the column counted in characters (QuickJS
    /// counts bytes). `None` for positions in the wrapper: QuickJS gives the function's
    /// start when it recorded nothing closer (it records positions at calls, property
    /// accesses and identifiers, not at every operation).
    ///
    /// On the text's first line, QuickJS 0.10's runtime positions are of two kinds:
    /// identifiers are 1-based, other tokens (a call, a property access on a literal)
    /// 0-based, because its tokenizer measures them from the buffer's start there and
    /// from the last newline elsewhere. Both name a token's start, so the kind is told
    /// from the source: a 1-based position lands on the start of an identifier; a 0-based
    /// one lands one character before its token. At worst (a one-letter identifier
    /// written right against the token that failed) the column is one off, on line 1.
    fn locate(&self, line: u32, column: u32, prefix: &str, origin: Origin) -> Option<Location> {
        if line == 0 || line > self.lines {
            return None;
        }
        let text = self
            .source
            .split('\n')
            .nth(usize::try_from(line - 1).ok()?)?;
        let byte_column = if line == 1 {
            let prefix_len = u32::try_from(prefix.len()).ok()?;
            match origin {
                Origin::Parser => column.checked_sub(prefix_len).filter(|c| *c >= 1)?,
                Origin::Runtime => {
                    let as_one_based = column.checked_sub(prefix_len)?;
                    if as_one_based >= 1 && starts_identifier(text, as_one_based) {
                        as_one_based
                    } else {
                        as_one_based + 1
                    }
                }
            }
        } else {
            column.max(1)
        };
        let byte = usize::try_from(byte_column - 1).ok()?;
        let column = text
            .get(..byte.min(text.len()))
            .map(|before| before.chars().count() + 1)
            .and_then(|c| u32::try_from(c).ok());
        Some(Location { line, column })
    }
}

/// Where a position came from: QuickJS's parser (syntax errors, 1-based everywhere) or
/// its bytecode's position table (runtime errors, see [`ScriptInner::locate`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Parser,
    Runtime,
}

/// Whether the 1-based byte `column` of `line` starts an identifier (or keyword).
fn starts_identifier(line: &str, column: u32) -> bool {
    let Some(index) = usize::try_from(column).ok().and_then(|c| c.checked_sub(1)) else {
        return false;
    };
    let Some(rest) = line.get(index..) else {
        return false;
    };
    let is_part = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let starts = rest
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$');
    let after_part = line
        .get(..index)
        .and_then(|before| before.chars().next_back())
        .is_some_and(is_part);
    starts && !after_part
}

fn wrap(prefix: &str, source: &str) -> String {
    let mut text = String::with_capacity(prefix.len() + source.len() + SUFFIX.len());
    text.push_str(prefix);
    text.push_str(source);
    text.push_str(SUFFIX);
    text
}

/// Strict mode, as GenieACS runs scripts (see the module documentation).
pub(crate) fn eval_options(file: &str) -> EvalOptions {
    let mut options = EvalOptions::default();
    options.global = true;
    options.strict = true;
    options.filename = Some(file.to_owned());
    options
}

/// Checks that `source` is a valid script body, as [`Script::new`] does, for the API
/// (which answers a bad upload with the error's line and column).
pub fn check_syntax(name: &str, source: &str) -> Result<(), ScriptError> {
    check(&ScriptInner::new(name.to_owned(), source.to_owned()))
}

/// The checking runtime of this thread. A runtime and context cost a few hundred
/// microseconds to make, a check a few tens: kept per thread and reused, since no code
/// of a checked source ever runs in it (see the module documentation).
struct Checker {
    /// `Function.prototype.toString`, saved before any source was compiled. Declared
    /// first: a persistent value must be dropped before its runtime.
    to_string: Persistent<Function<'static>>,
    context: Context,
}

thread_local! {
    static CHECKER: RefCell<Option<Checker>> = const { RefCell::new(None) };
}

impl Checker {
    fn new() -> Result<Checker, rquickjs::Error> {
        let runtime = Runtime::new()?;
        runtime.set_memory_limit(CHECK_MEMORY);
        // Only what parsing needs: the base objects, the compiler and the regular
        // expression compiler (literals are compiled with the script).
        let context = Context::custom::<(intrinsic::Eval, intrinsic::RegExpCompiler)>(&runtime)?;
        let to_string = context.with(|ctx| -> rquickjs::Result<_> {
            let f: Function = ctx.eval("Function.prototype.toString")?;
            Ok(Persistent::save(&ctx, f))
        })?;
        Ok(Checker { to_string, context })
    }
}

/// What a check found, and whether the checking context is still clean.
struct Checked {
    result: Result<(), ScriptError>,
    /// False once a source escaped its wrapper: its declarations were instantiated in
    /// the checking context, which is then dropped.
    clean: bool,
}

fn check(script: &ScriptInner) -> Result<(), ScriptError> {
    CHECKER.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            // A check from inside a check cannot happen (no host code runs during one);
            // answer rather than panic if it ever does.
            return Err(engine_error(
                script,
                "the syntax checker is busy on this thread",
            ));
        };
        if slot.is_none() {
            *slot =
                Some(Checker::new().map_err(|e| engine_error(script, &format!("checker: {e}")))?);
        }
        let Some(checker) = slot.as_ref() else {
            return Err(engine_error(script, "the syntax checker could not be made"));
        };
        let checked = checker
            .context
            .with(|ctx| check_in(&ctx, &checker.to_string, script));
        if !checked.clean {
            *slot = None;
        }
        checked.result
    })
}

fn engine_error(script: &ScriptInner, message: &str) -> ScriptError {
    ScriptError::new(ErrorKind::Engine, &script.name, message)
}

fn check_in<'js>(
    ctx: &Ctx<'js>,
    to_string: &Persistent<Function<'static>>,
    script: &ScriptInner,
) -> Checked {
    let text = wrap(CHECK_PREFIX, &script.source);
    let evaluated = ctx
        .eval_with_options::<rquickjs::Value, _>(text, script.eval_options())
        .catch(ctx);
    let thrown = match evaluated {
        Err(CaughtError::Value(v)) => v,
        Err(CaughtError::Exception(e)) => {
            let name = e
                .get::<_, String>("name")
                .unwrap_or_else(|_| "Error".into());
            let message = e.message().unwrap_or_default();
            let kind = if name == "InternalError" && message == "out of memory" {
                ErrorKind::OutOfMemory
            } else {
                ErrorKind::Syntax
            };
            return Checked {
                result: Err(script.error_from_stack(
                    kind,
                    format!("{name}: {message}"),
                    e.stack().as_deref(),
                    CHECK_PREFIX,
                    Origin::Parser,
                )),
                clean: true,
            };
        }
        Err(CaughtError::Error(e)) => {
            let message = match e {
                rquickjs::Error::InvalidString(_) => {
                    "SyntaxError: the source contains a NUL character".to_owned()
                }
                e => format!("SyntaxError: {e}"),
            };
            return Checked {
                result: Err(ScriptError::new(ErrorKind::Syntax, &script.name, message)),
                clean: true,
            };
        }
        Ok(v) => v,
    };
    let expected = {
        let body = &wrap(RUN_PREFIX, &script.source);
        // The function's own text: the wrapper without its outer parentheses.
        body[1..body.len() - 1].to_owned()
    };
    let single_body = thrown.as_function().is_some_and(|f| {
        to_string
            .clone()
            .restore(ctx)
            .and_then(|to_string| to_string.call::<_, String>((This(f.clone()),)))
            .is_ok_and(|text| text == expected)
    });
    if single_body {
        Checked {
            result: Ok(()),
            clean: true,
        }
    } else {
        Checked {
            result: Err(ScriptError::new(
                ErrorKind::Syntax,
                &script.name,
                "SyntaxError: unbalanced braces: the script closes the function it runs in \
                 (a script is a function body; remove the extra '}')",
            )),
            clean: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_bodies_pass() {
        check_syntax("a.js", "let x = 1;\nreturn {value: [x, 'xsd:int']};").unwrap();
        check_syntax("a.js", "// ends in a comment").unwrap();
        check_syntax("a.js", "").unwrap();
        // Strict mode, as in GenieACS.
        check_syntax("a.js", "with (Math) { x = floor(1.5) }").unwrap_err();
        check_syntax("a.js", "let x = 010;").unwrap_err();
        check_syntax("a.js", "\"use strict\";\nlet a = 1;").unwrap();
    }

    #[test]
    fn syntax_error_on_line_three() {
        let e = check_syntax("bad.js", "let a = 1;\nlet b = 2;\nlet c = ;\nlog(c);").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax);
        assert_eq!((e.line, e.column), (Some(3), Some(9)), "{e}");
        assert!(e.message.starts_with("SyntaxError: "), "{e}");
        assert_eq!(e.to_string(), format!("bad.js:3:9: {}", e.message));
    }

    #[test]
    fn syntax_error_on_line_one_is_in_source_columns() {
        let e = check_syntax("bad.js", "let a = 1 2;").unwrap_err();
        assert_eq!((e.line, e.column), (Some(1), Some(11)), "{e}");
    }

    #[test]
    fn escaping_the_wrapper_is_refused() {
        for source in [
            "}); let leak = 1; (function () {",
            "}); globalThis.x = 1; (function () {",
            "})\n(function () {",
        ] {
            let e = check_syntax("escape.js", source).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Syntax, "{source}: {e}");
        }
        // The checker is still usable, and the escaped declaration did not stick.
        check_syntax("ok.js", "let leak = 2; return leak;").unwrap();
        check_syntax("escape.js", "}); let leak = 1; (function () {").unwrap_err();
    }

    #[test]
    fn nul_in_source() {
        let e = check_syntax("nul.js", "let a = 1;\0").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax);
    }

    #[test]
    fn names_are_sanitized_for_the_engine() {
        let e = check_syntax("odd\nname", "let = ;").unwrap_err();
        assert_eq!(e.script, "odd\nname");
        assert_eq!(e.line, Some(1));
    }
}
