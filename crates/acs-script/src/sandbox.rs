//! The sandbox: one QuickJS runtime and context, reused run after run.
//!
//! # Why one reused context
//!
//! A fresh context per run would isolate runs for free, but a QuickJS context with the
//! standard library costs 120–220 µs to make on this project's machines (measured by
//! `benches/run.rs`), while the product budget is under 100 µs of script CPU for a whole
//! session (three presets and a provision). So the context is made once, hardened by the
//! prelude (`prelude.js`): every built-in object is frozen, and so is the global object
//! but for `args`; scripts run in strict mode inside a function, so what they declare is
//! local to the run. A run therefore starts from the same realm as the one before it, and
//! costs a function call on a cached compiled script. What freezing cannot reach is
//! handled here: promise jobs a failed or yielded run leaves queued are discarded (run
//! with every host call refused, each interrupted at once); if some are left anyway, or
//! the run ran out of memory, the sandbox drops the runtime and builds a new one (some
//! milliseconds, see the `isolation` benchmark) before the next run.
//!
//! # Yielding
//!
//! `commit()` and `ext()` may answer that RPCs are needed first. The native function then
//! sets the run's `yielded` flag and throws. A script's `try`/`catch` can catch that
//! exception but not undo the flag: every later host call throws again, the interrupt
//! handler ends the run (uncatchably) at its next check, and the outcome is
//! [`Outcome::Yielded`] whatever the script did after.
//!
//! # Limits
//!
//! CPU: QuickJS calls the interrupt handler every few thousand operations; it ends the
//! run with an uncatchable error once the deadline has passed. Time spent in the host is
//! added back to the deadline: it is the session's, not the script's. Memory and stack:
//! QuickJS's own runtime limits, which throw `out of memory` and `RangeError`.
//!
//! # Threads
//!
//! A QuickJS runtime is not `Send` (rquickjs without its `parallel` feature), so neither
//! is a [`Sandbox`]: keep one per thread, for which [`Sandbox::with_thread_local`] is
//! there.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rquickjs::context::intrinsic;
use rquickjs::function::Opt;
use rquickjs::{
    Array, CatchResultExt, CaughtError, Context, Ctx, Exception, Function, Object, Persistent,
    Runtime, Type,
};
use scoped_tls_hkt::{ReborrowMut, scoped_thread_local};
use serde_json::Value;

use crate::convert::{to_js, to_json};
use crate::error::{ErrorKind, ScriptError};
use crate::host::{ExtAnswer, Flow, Host, Instance};
use crate::script::{Origin, RUN_PREFIX, Script, ScriptInner, eval_options};

const PRELUDE: &str = include_str!("prelude.js");
/// The prelude's file name in stack traces; angle brackets keep it apart from scripts'.
const PRELUDE_FILE: &str = "<acs-script prelude>";

/// The message of the exception `commit()` and `ext()` throw to stop a run. A script
/// that catches it and logs it should tell the operator what happened.
const YIELD_MESSAGE: &str = "the session must perform RPCs before this script can go on; \
                             it will run again from the top";

/// What one run may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time the script may run, host calls excepted (GenieACS allows 50 ms too). Measured
    /// on the monotonic clock, not the thread's CPU clock (which Linux updates only at
    /// scheduler ticks): on an overloaded machine a script can be stopped having had
    /// less CPU than this.
    pub cpu: Duration,
    /// Memory of the whole runtime: the prelude and built-ins (about 0.25 MiB), the
    /// compiled scripts cached, and the run's objects.
    pub memory_bytes: usize,
    /// Native stack the interpreter may use. Keep well under the thread's stack (2 MiB
    /// for Rust and Tokio threads by default).
    pub stack_bytes: usize,
    /// Compiled scripts kept. Past it, one is dropped for each new one.
    pub cached_scripts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu: Duration::from_millis(50),
            memory_bytes: 16 << 20,
            stack_bytes: 256 << 10,
            cached_scripts: 256,
        }
    }
}

/// What a run is given besides the script and its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunEnv {
    /// What `Date.now()` and `new Date()` answer: the session's time, in milliseconds
    /// since the epoch, so that re-runs of a script within a session agree.
    pub now_ms: i64,
    /// Seeds `Math.random()`, and its low 32 bits are the device's number for the offset
    /// of `Date.now(interval)`. The caller seeds per device, so that re-runs agree; to
    /// stagger refreshes exactly as GenieACS does, pass its device hash (the XOR of the
    /// four little-endian 32-bit words of the MD5 of the device id).
    pub random_seed: u64,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The script ran to its end; its return value (`Null` if none) as JSON.
    Finished(Value),
    /// `commit()` or `ext()` needed the session first: perform the RPCs (or the
    /// extension call) and run the script again.
    Yielded,
    Failed(ScriptError),
}

scoped_thread_local!(
    /// The host of the run in progress on this thread. The native functions are stored
    /// in the JavaScript context, which outlives any one run, so they cannot borrow the
    /// caller's host; the host is placed here for the duration of [`Sandbox::run`].
    static mut HOST: for<'a> HostRef<'a>
);

struct HostRef<'a>(&'a mut (dyn Host + 'a));

impl<'a, 'b> ReborrowMut<'a> for HostRef<'b> {
    type Result = HostRef<'a>;
    fn reborrow_mut(&'a mut self) -> HostRef<'a> {
        HostRef(&mut *self.0)
    }
}

/// The state of the run in progress, shared by the native functions and the interrupt
/// handler (which live in the runtime and must be `'static`).
struct RunState {
    /// Between the start of a run and the end of its result's conversion. Outside a run
    /// the interrupt handler never fires (the prelude is ours), and host functions
    /// throw.
    active: Cell<bool>,
    deadline: Cell<Instant>,
    timed_out: Cell<bool>,
    yielded: Cell<bool>,
    /// The run's outcome is decided; promise jobs still queued are being discarded: they
    /// are interrupted at once and may not call the host.
    stopped: Cell<bool>,
    now_ms: Cell<f64>,
    /// The run's seed ([`RunEnv::random_seed`]).
    seed: Cell<u64>,
    /// The state of `Math.random()`.
    random: Cell<u64>,
    /// A `declare` or `clear` since the last commit: reading a declare result commits.
    uncommitted: Cell<bool>,
}

impl RunState {
    fn new() -> Self {
        RunState {
            active: Cell::new(false),
            deadline: Cell::new(Instant::now()),
            timed_out: Cell::new(false),
            yielded: Cell::new(false),
            stopped: Cell::new(false),
            now_ms: Cell::new(0.0),
            seed: Cell::new(0),
            random: Cell::new(0),
            uncommitted: Cell::new(false),
        }
    }

    fn begin(&self, env: &RunEnv, cpu: Duration) {
        self.timed_out.set(false);
        self.yielded.set(false);
        self.stopped.set(false);
        #[allow(clippy::cast_precision_loss)]
        self.now_ms.set(env.now_ms as f64);
        self.seed.set(env.random_seed);
        self.random.set(env.random_seed);
        self.uncommitted.set(false);
        self.deadline.set(Instant::now() + cpu);
        self.active.set(true);
    }

    /// The interrupt handler: true stops the script with an uncatchable error.
    fn interrupt(&self) -> bool {
        if !self.active.get() {
            return false;
        }
        if self.yielded.get() || self.stopped.get() {
            return true;
        }
        if Instant::now() >= self.deadline.get() {
            self.timed_out.set(true);
            return true;
        }
        false
    }

    /// Throws unless a host call may be made now.
    fn admit(&self, ctx: &Ctx<'_>) -> rquickjs::Result<()> {
        if self.yielded.get() {
            return Err(Exception::throw_message(ctx, YIELD_MESSAGE));
        }
        if !self.active.get() || self.stopped.get() || !HOST.is_set() {
            return Err(Exception::throw_internal(
                ctx,
                "host functions are available only while the script runs",
            ));
        }
        Ok(())
    }

    /// Calls the host, and gives the time it took back to the script's deadline.
    fn host<R>(&self, f: impl FnOnce(&mut dyn Host) -> R) -> R {
        let started = Instant::now();
        let result = HOST.with(|host| f(host.0));
        self.deadline.set(self.deadline.get() + started.elapsed());
        result
    }

    /// `commit()`, explicit or implied by reading a declare result.
    fn commit(&self, ctx: &Ctx<'_>) -> rquickjs::Result<()> {
        match self.host(|h| h.commit()) {
            Flow::Continue => {
                self.uncommitted.set(false);
                Ok(())
            }
            Flow::Yield => Err(self.yield_run(ctx)),
        }
    }

    /// `Math.random.seed(value)` (from the value alone) and `Math.random.seedCombine(extra)`
    /// (from the run's seed and the value).
    fn reseed(&self, text: &str, combine: bool) {
        // FNV-1a: stable across Rust versions and platforms, unlike the std hasher.
        let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
        }
        if combine {
            hash ^= self
                .seed
                .get()
                .rotate_left(29)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
        self.random.set(hash);
    }

    fn yield_run(&self, ctx: &Ctx<'_>) -> rquickjs::Error {
        self.yielded.set(true);
        Exception::throw_message(ctx, YIELD_MESSAGE)
    }

    /// SplitMix64: tiny, fast, and good enough for scripts picking a random minute; a
    /// seed gives one sequence, different seeds differ from the first draw.
    fn next_random(&self) -> f64 {
        let mut z = self.random.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.random.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits, as a float in [0, 1).
        #[allow(clippy::cast_precision_loss)]
        let f = (z >> 11) as f64 / (1_u64 << 53) as f64;
        f
    }
}

/// A compiled script in the cache, keyed by its name and source. The hash is computed
/// once, in [`Script::new`]; equality tries the pointer first, so a lookup with the
/// `Script` that filled the entry compares no text.
struct CacheKey(Arc<ScriptInner>);

impl Hash for CacheKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.hash);
    }
}

impl PartialEq for CacheKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
            || (self.0.hash == other.0.hash
                && self.0.name == other.0.name
                && self.0.source == other.0.source)
    }
}

impl Eq for CacheKey {}

/// A runtime, its hardened context and what was compiled in it. Fields drop in
/// declaration order: the compiled scripts (persistent values, which must not outlive
/// their runtime: QuickJS aborts on leaked objects), then the context, then the runtime.
struct Engine {
    cache: HashMap<CacheKey, Persistent<Function<'static>>>,
    context: Context,
    runtime: Runtime,
}

/// The JavaScript sandbox for provision and virtual-parameter scripts.
///
/// ```
/// use acs_script::{ExtAnswer, Flow, Host, Instance, Outcome, RunEnv, Sandbox, Script};
///
/// struct Quiet;
/// impl Host for Quiet {
///     fn declare(&mut self, path: &str, _: &serde_json::Value, _: &serde_json::Value)
///         -> Result<Vec<Instance>, String> { Ok(vec![Instance::new(path)]) }
///     fn clear(&mut self, _: &str, _: f64, _: &serde_json::Value) -> Result<(), String> { Ok(()) }
///     fn commit(&mut self) -> Flow { Flow::Continue }
///     fn ext(&mut self, _: &str, _: &str, _: &[serde_json::Value]) -> ExtAnswer { ExtAnswer::Yield }
///     fn log(&mut self, _: &str) {}
/// }
///
/// let script = Script::new("vp.js", "return {writable: false, value: [args[0] * 2, 'xsd:int']};").unwrap();
/// let env = RunEnv { now_ms: 1_700_000_000_000, random_seed: 7 };
/// let outcome = Sandbox::with_thread_local(Default::default(), |sandbox| {
///     sandbox.run(&script, &[serde_json::json!(21)], &env, &mut Quiet)
/// });
/// assert_eq!(outcome, Outcome::Finished(serde_json::json!({"writable": false, "value": [42, "xsd:int"]})));
/// ```
pub struct Sandbox {
    limits: Limits,
    state: Rc<RunState>,
    /// Made on first use, and again after a run left it unusable.
    engine: Option<Engine>,
    /// Engines made so far: one, unless runs had to be isolated by a rebuild.
    builds: u64,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("limits", &self.limits)
            .field("ready", &self.engine.is_some())
            .field("builds", &self.builds)
            .finish_non_exhaustive()
    }
}

thread_local! {
    static THREAD_SANDBOX: RefCell<Option<Sandbox>> = const { RefCell::new(None) };
}

impl Sandbox {
    /// A sandbox with these limits. The runtime is made on the first run, or by
    /// [`Sandbox::prepare`]: some milliseconds, most of it the prelude freezing every
    /// built-in object, paid once per thread.
    pub fn new(limits: Limits) -> Self {
        Sandbox {
            limits,
            state: Rc::new(RunState::new()),
            engine: None,
            builds: 0,
        }
    }

    /// Runs `f` with this thread's sandbox, made on first use. The limits apply from this
    /// call on. Called again from inside `f` (a host that runs a script while answering
    /// one), it uses a sandbox of its own rather than failing.
    pub fn with_thread_local<R>(limits: Limits, f: impl FnOnce(&mut Sandbox) -> R) -> R {
        THREAD_SANDBOX.with(|cell| match cell.try_borrow_mut() {
            Ok(mut slot) => {
                let sandbox = slot.get_or_insert_with(|| Sandbox::new(limits));
                sandbox.set_limits(limits);
                f(sandbox)
            }
            Err(_) => f(&mut Sandbox::new(limits)),
        })
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Changes the limits; the CPU, stack and cache limits apply to the current runtime
    /// too, a new memory limit from a new runtime (the prelude's array guard derives
    /// from it).
    pub fn set_limits(&mut self, limits: Limits) {
        if limits == self.limits {
            return;
        }
        if limits.memory_bytes != self.limits.memory_bytes {
            self.engine = None;
        }
        self.limits = limits;
        if let Some(engine) = &mut self.engine {
            engine.runtime.set_memory_limit(limits.memory_bytes);
            engine.runtime.set_max_stack_size(limits.stack_bytes);
            while engine.cache.len() > limits.cached_scripts {
                engine.evict_one();
            }
        }
    }

    /// Makes the runtime now rather than on the first run.
    pub fn prepare(&mut self) -> Result<(), ScriptError> {
        self.engine().map(|_| ())
    }

    /// Memory the runtime holds now (built-ins, prelude, cached scripts; between runs,
    /// little else), in bytes; 0 before the first run. For metrics.
    pub fn memory_used(&self) -> usize {
        self.engine.as_ref().map_or(0, |engine| {
            usize::try_from(engine.runtime.memory_usage().memory_used_size).unwrap_or(0)
        })
    }

    /// How many runtimes this sandbox has made: 1 in normal operation; each rebuild
    /// after a run that could not be cleaned up adds one.
    pub fn builds(&self) -> u64 {
        self.builds
    }

    fn engine(&mut self) -> Result<&mut Engine, ScriptError> {
        if self.engine.is_none() {
            let engine = Engine::new(&self.limits, &self.state)
                .map_err(|e| ScriptError::new(ErrorKind::Engine, PRELUDE_FILE, e))?;
            self.builds += 1;
            self.engine = Some(engine);
        }
        self.engine
            .as_mut()
            .ok_or_else(|| ScriptError::new(ErrorKind::Engine, PRELUDE_FILE, "no engine"))
    }

    /// Runs `script` with `args` as its `args` array.
    ///
    /// The host is called synchronously from inside the script; a host that panics
    /// panics out of `run`.
    pub fn run(
        &mut self,
        script: &Script,
        args: &[Value],
        env: &RunEnv,
        host: &mut dyn Host,
    ) -> Outcome {
        let limits = self.limits;
        let state = Rc::clone(&self.state);
        if state.active.get() {
            // The previous run never ended: its host panicked out of it. What it left in
            // the runtime (queued jobs) is unknown, so the runtime goes.
            state.active.set(false);
            self.engine = None;
        }
        let engine = match self.engine() {
            Ok(engine) => engine,
            Err(mut e) => {
                e.script = script.name().to_owned();
                return Outcome::Failed(e);
            }
        };
        state.begin(env, limits.cpu);
        let executed = HOST.set(HostRef(host), || {
            engine.execute(&script.inner, args, &limits, &state)
        });
        state.active.set(false);
        let mut keep = executed.clean;
        let outcome = if state.yielded.get() {
            Outcome::Yielded
        } else {
            match executed.result {
                Ok(value) => Outcome::Finished(value),
                Err(e) => {
                    if e.kind == ErrorKind::OutOfMemory {
                        // QuickJS recovers from allocation failures, but a fresh runtime
                        // is the certain way to hand the next run all of its memory.
                        keep = false;
                    }
                    Outcome::Failed(e)
                }
            }
        };
        if !keep {
            self.engine = None;
        }
        outcome
    }
}

/// What [`Engine::execute`] found.
struct Executed {
    result: Result<Value, ScriptError>,
    /// The runtime may serve the next run (no job left pending).
    clean: bool,
}

impl Engine {
    fn new(limits: &Limits, state: &Rc<RunState>) -> Result<Engine, String> {
        let runtime = Runtime::new().map_err(|e| format!("runtime: {e}"))?;
        runtime.set_memory_limit(limits.memory_bytes);
        runtime.set_max_stack_size(limits.stack_bytes);
        let handler_state = Rc::clone(state);
        runtime.set_interrupt_handler(Some(Box::new(move || handler_state.interrupt())));
        // No module loader is set: `import()` cannot resolve anything. The intrinsics
        // leave out WeakRef/FinalizationRegistry (finalizers would run one script's code
        // during a later run), performance.now (a clock that is not the session's),
        // Proxy (objects whose every read runs script code: the prelude's array guard
        // must be able to read a length that stays read) and DOMException; the prelude
        // removes the rest.
        let context = Context::custom::<(
            intrinsic::Date,
            intrinsic::Eval,
            intrinsic::RegExpCompiler,
            intrinsic::RegExp,
            intrinsic::Json,
            intrinsic::MapSet,
            intrinsic::TypedArrays,
            intrinsic::Promise,
        )>(&runtime)
        .map_err(|e| format!("context: {e}"))?;
        context.with(|ctx| install(&ctx, state, limits))?;
        Ok(Engine {
            cache: HashMap::new(),
            context,
            runtime,
        })
    }

    fn evict_one(&mut self) {
        // Any entry: scripts are few and similar in cost, and an LRU would cost every run
        // a write for the rare deployment with more scripts than the cache holds.
        let victim = self.cache.keys().next().map(|k| CacheKey(Arc::clone(&k.0)));
        if let Some(victim) = victim {
            self.cache.remove(&victim);
        }
    }

    fn execute(
        &mut self,
        script: &Arc<ScriptInner>,
        args: &[Value],
        limits: &Limits,
        state: &RunState,
    ) -> Executed {
        let key = CacheKey(Arc::clone(script));
        let cached = self.cache.get(&key).cloned();
        let (result, compiled) = self.context.with(|ctx| {
            let (function, compiled) = match cached {
                Some(f) => match f.restore(&ctx) {
                    Ok(f) => (f, None),
                    Err(e) => return (Err(engine_failure(script, &e)), None),
                },
                None => match compile(&ctx, script, state) {
                    Ok(f) => {
                        let saved = Persistent::save(&ctx, f.clone());
                        (f, Some(saved))
                    }
                    Err(e) => return (Err(e), None),
                },
            };
            (call(&ctx, script, &function, args, state), compiled)
        });
        state.active.set(false);
        let clean = !self.runtime.is_job_pending();
        if let Some(compiled) = compiled {
            while !self.cache.is_empty() && self.cache.len() >= limits.cached_scripts {
                self.evict_one();
            }
            if limits.cached_scripts > 0 {
                self.cache.insert(key, compiled);
            }
        }
        Executed { result, clean }
    }
}

fn engine_failure(script: &ScriptInner, e: &rquickjs::Error) -> ScriptError {
    ScriptError::new(ErrorKind::Engine, &script.name, e.to_string())
}

fn compile<'js>(
    ctx: &Ctx<'js>,
    script: &ScriptInner,
    state: &RunState,
) -> Result<Function<'js>, ScriptError> {
    let compiled = ctx
        .eval_with_options::<Function, _>(script.run_text(), script.eval_options())
        .catch(ctx);
    compiled.map_err(|e| failure(ctx, script, e, state))
}

/// Calls the compiled script, runs the promise jobs it queued, and converts its result.
fn call<'js>(
    ctx: &Ctx<'js>,
    script: &ScriptInner,
    function: &Function<'js>,
    args: &[Value],
    state: &RunState,
) -> Result<Value, ScriptError> {
    // A new `args` array every run: the script may mutate its own.
    let set_args = (|| -> rquickjs::Result<()> {
        let array = Array::new(ctx.clone())?;
        for (i, arg) in args.iter().enumerate() {
            array.set(i, to_js(ctx, arg)?)?;
        }
        ctx.globals().set("args", array)
    })();
    if let Err(e) = set_args.catch(ctx) {
        return Err(failure(ctx, script, e, state));
    }
    let result = function
        .call::<_, rquickjs::Value>(())
        .catch(ctx)
        .map_err(|e| failure(ctx, script, e, state))
        .and_then(|returned| finish(ctx, script, &returned, state));
    if result.is_err() || state.yielded.get() {
        discard_jobs(ctx, state);
    }
    result
}

/// After the script returned: runs the promise jobs it queued (promise reactions,
/// `queueMicrotask`) within the run's limits, then converts its return value.
fn finish<'js>(
    ctx: &Ctx<'js>,
    script: &ScriptInner,
    returned: &rquickjs::Value<'js>,
    state: &RunState,
) -> Result<Value, ScriptError> {
    while !state.yielded.get()
        && !state.timed_out.get()
        && Instant::now() < state.deadline.get()
        && ctx.execute_pending_job()
    {}
    if state.yielded.get() {
        return Ok(Value::Null);
    }
    if state.timed_out.get() {
        // A job was stopped (its exception went nowhere: jobs have no caller).
        return Err(script.error_from_stack(
            ErrorKind::Timeout,
            TIMEOUT_MESSAGE.to_owned(),
            None,
            RUN_PREFIX,
            Origin::Runtime,
        ));
    }
    to_json(ctx, returned).map_err(|e| {
        if let crate::convert::ToJsonError::Js(e) = e {
            // A getter or proxy trap of the returned object threw, or time ran out.
            return failure(ctx, script, CaughtError::from_error(ctx, e), state);
        }
        ScriptError::new(
            ErrorKind::InvalidReturn,
            &script.name,
            format!("the returned {}", e.describe()),
        )
    })
}

/// Jobs still queued when a run failed or yielded must not run during the next run
/// (another script's, perhaps). They are run out now with the run stopped: every host
/// call throws and the interrupt handler ends each job at its first check, so this takes
/// microseconds. Jobs that keep queueing jobs past [`DISCARD_BUDGET`] are left, and the
/// sandbox then drops the runtime.
fn discard_jobs(ctx: &Ctx<'_>, state: &RunState) {
    state.stopped.set(true);
    let until = Instant::now() + DISCARD_BUDGET;
    while Instant::now() < until && ctx.execute_pending_job() {}
}

const DISCARD_BUDGET: Duration = Duration::from_millis(5);

const TIMEOUT_MESSAGE: &str = "the script ran past its CPU time limit and was stopped";
const OOM_MESSAGE: &str = "the script ran out of memory (the sandbox's memory limit)";

/// Classifies what ended a run, and places it in the operator's source.
fn failure<'js>(
    ctx: &Ctx<'js>,
    script: &ScriptInner,
    caught: CaughtError<'js>,
    state: &RunState,
) -> ScriptError {
    if state.timed_out.get() {
        // Where it was stopped, when the engine knows: inside a native call (a regular
        // expression, a callback) it does; in a loop of bytecode QuickJS has not saved
        // the position and reports the function's start, which gives no location.
        let stack = match &caught {
            CaughtError::Exception(ex) => ex.stack(),
            _ => None,
        };
        return script.error_from_stack(
            ErrorKind::Timeout,
            TIMEOUT_MESSAGE.to_owned(),
            stack.as_deref(),
            RUN_PREFIX,
            Origin::Runtime,
        );
    }
    match caught {
        CaughtError::Exception(ex) => {
            let name = ex
                .get::<_, String>("name")
                .unwrap_or_else(|_| "Error".into());
            let message = ex.message().unwrap_or_default();
            let kind = match (name.as_str(), message.as_str()) {
                ("InternalError", "out of memory") => ErrorKind::OutOfMemory,
                ("RangeError", "Maximum call stack size exceeded")
                | ("InternalError", "stack overflow") => ErrorKind::StackOverflow,
                ("SyntaxError", _) if ex.stack().is_some_and(|s| !s.contains('(')) => {
                    ErrorKind::Syntax
                }
                _ => ErrorKind::Exception,
            };
            let message = match kind {
                ErrorKind::OutOfMemory => OOM_MESSAGE.to_owned(),
                ErrorKind::StackOverflow => {
                    "the script overflowed the stack (recursion too deep)".to_owned()
                }
                _ => format!("{name}: {message}"),
            };
            let origin = if kind == ErrorKind::Syntax {
                Origin::Parser
            } else {
                Origin::Runtime
            };
            script.error_from_stack(kind, message, ex.stack().as_deref(), RUN_PREFIX, origin)
        }
        // QuickJS throws `null` when it cannot even allocate the error object of an
        // allocation failure, the usual end of a memory bomb, and some of its allocation
        // failures leave no exception at all (`undefined` here). A script's own `throw
        // null` or `throw undefined` looks the same and is reported the same way; no
        // script has a reason to.
        CaughtError::Value(v)
            if matches!(
                v.type_of(),
                Type::Null | Type::Undefined | Type::Uninitialized
            ) =>
        {
            ScriptError::new(ErrorKind::OutOfMemory, &script.name, OOM_MESSAGE)
        }
        CaughtError::Value(v) => {
            let described = match v.type_of() {
                Type::String => v.get::<String>().unwrap_or_default(),
                _ => to_json(ctx, &v)
                    .map(|j| j.to_string())
                    .unwrap_or_else(|_| v.type_name().to_owned()),
            };
            ScriptError::new(
                ErrorKind::Exception,
                &script.name,
                format!("uncaught exception: {described}"),
            )
        }
        CaughtError::Error(rquickjs::Error::Allocation) => {
            ScriptError::new(ErrorKind::OutOfMemory, &script.name, OOM_MESSAGE)
        }
        CaughtError::Error(e) => engine_failure(script, &e),
    }
}

/// The longest array the prelude's guarded array methods accept: no dense array can be
/// longer within the memory limit (8 bytes a slot), and a native loop over that many
/// holes or array-like indices takes some tens of milliseconds, about the CPU limit.
fn max_array_length(limits: &Limits) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let slots = (limits.memory_bytes / 8) as f64;
    slots.max(1024.0)
}

/// Evaluates the prelude and hands it the native functions.
fn install<'js>(ctx: &Ctx<'js>, state: &Rc<RunState>, limits: &Limits) -> Result<(), String> {
    let built = (|| -> rquickjs::Result<()> {
        let s = Rc::clone(state);
        let declare = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  path: rquickjs::Value<'js>,
                  timestamps: Opt<rquickjs::Value<'js>>,
                  values: Opt<rquickjs::Value<'js>>|
                  -> rquickjs::Result<Array<'js>> {
                s.admit(&ctx)?;
                let path = string_arg(&ctx, &path, "declare", "path")?;
                let timestamps = json_arg(&ctx, timestamps.0, "declare", "timestamps")?;
                let values = json_arg(&ctx, values.0, "declare", "values")?;
                let instances = s.host(|h| h.declare(&path, &timestamps, &values));
                let instances = instances.map_err(|m| Exception::throw_message(&ctx, &m))?;
                s.uncommitted.set(true);
                let flat = Array::new(ctx.clone())?;
                for (i, instance) in instances.iter().enumerate() {
                    push_instance(&ctx, &flat, i * 6, instance)?;
                }
                Ok(flat)
            },
        )?;
        let s = Rc::clone(state);
        let clear = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  path: rquickjs::Value<'js>,
                  timestamp: Opt<rquickjs::Value<'js>>,
                  attributes: Opt<rquickjs::Value<'js>>|
                  -> rquickjs::Result<()> {
                s.admit(&ctx)?;
                let path = string_arg(&ctx, &path, "clear", "path")?;
                let timestamp = json_arg(&ctx, timestamp.0, "clear", "timestamp")?;
                let Some(timestamp) = timestamp.as_f64() else {
                    return Err(Exception::throw_type(
                        &ctx,
                        "clear: timestamp must be a number (milliseconds) or a Date",
                    ));
                };
                let attributes = json_arg(&ctx, attributes.0, "clear", "attributes")?;
                s.host(|h| h.clear(&path, timestamp, &attributes))
                    .map_err(|m| Exception::throw_message(&ctx, &m))?;
                s.uncommitted.set(true);
                Ok(())
            },
        )?;
        let s = Rc::clone(state);
        let commit = Function::new(ctx.clone(), move |ctx: Ctx<'js>| -> rquickjs::Result<()> {
            s.admit(&ctx)?;
            s.commit(&ctx)
        })?;
        let s = Rc::clone(state);
        let sync = Function::new(ctx.clone(), move |ctx: Ctx<'js>| -> rquickjs::Result<()> {
            if !s.uncommitted.get() && !s.yielded.get() {
                return Ok(());
            }
            s.admit(&ctx)?;
            s.commit(&ctx)
        })?;
        let s = Rc::clone(state);
        let ext = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  name: rquickjs::Value<'js>,
                  function: rquickjs::Value<'js>,
                  args: Array<'js>|
                  -> rquickjs::Result<rquickjs::Value<'js>> {
                s.admit(&ctx)?;
                let name = string_arg(&ctx, &name, "ext", "name")?;
                let function = string_arg(&ctx, &function, "ext", "functionName")?;
                let mut json_args = Vec::with_capacity(args.len());
                for arg in args.iter::<rquickjs::Value>() {
                    json_args.push(json_arg(&ctx, Some(arg?), "ext", "argument")?);
                }
                match s.host(|h| h.ext(&name, &function, &json_args)) {
                    ExtAnswer::Value(v) => to_js(&ctx, &v),
                    ExtAnswer::Yield => Err(s.yield_run(&ctx)),
                }
            },
        )?;
        let s = Rc::clone(state);
        let log = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, message: String| -> rquickjs::Result<()> {
                s.admit(&ctx)?;
                s.host(|h| h.log(&message));
                Ok(())
            },
        )?;
        let s = Rc::clone(state);
        let now = Function::new(ctx.clone(), move || s.now_ms.get())?;
        let s = Rc::clone(state);
        // The seed's low 32 bits: GenieACS's device hash is a u32.
        #[allow(clippy::cast_precision_loss)]
        let device_number =
            Function::new(ctx.clone(), move || (s.seed.get() & 0xFFFF_FFFF) as f64)?;
        let s = Rc::clone(state);
        let random = Function::new(ctx.clone(), move || s.next_random())?;
        let s = Rc::clone(state);
        let reseed = Function::new(ctx.clone(), move |text: String, combine: bool| {
            s.reseed(&text, combine);
        })?;
        let s = Rc::clone(state);
        let hash_credential = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, parts: Vec<String>| -> rquickjs::Result<String> {
                s.admit(&ctx)?;
                s.host(|h| h.hash_credential(&parts))
                    .map_err(|m| Exception::throw_message(&ctx, &m))
            },
        )?;

        let prelude: Function = ctx.eval_with_options(PRELUDE, eval_options(PRELUDE_FILE))?;
        let natives = Object::new(ctx.clone())?;
        natives.set("declare", declare)?;
        natives.set("clear", clear)?;
        natives.set("commit", commit)?;
        natives.set("ext", ext)?;
        natives.set("log", log)?;
        natives.set("now", now)?;
        natives.set("deviceNumber", device_number)?;
        natives.set("random", random)?;
        natives.set("reseed", reseed)?;
        natives.set("sync", sync)?;
        natives.set("hashCredential", hash_credential)?;
        prelude.call::<_, ()>((natives, max_array_length(limits)))
    })();
    built.catch(ctx).map_err(|e| format!("prelude: {e}"))
}

fn string_arg<'js>(
    ctx: &Ctx<'js>,
    value: &rquickjs::Value<'js>,
    function: &str,
    argument: &str,
) -> rquickjs::Result<String> {
    match value.as_string() {
        Some(s) => s.to_string(),
        None => Err(Exception::throw_type(
            ctx,
            &format!(
                "{function}: {argument} must be a string, not {}",
                value.type_name()
            ),
        )),
    }
}

/// A script's argument as JSON; omitted and `undefined` give `Null`.
fn json_arg<'js>(
    ctx: &Ctx<'js>,
    value: Option<rquickjs::Value<'js>>,
    function: &str,
    argument: &str,
) -> rquickjs::Result<Value> {
    let Some(value) = value else {
        return Ok(Value::Null);
    };
    to_json(ctx, &value).map_err(|e| match e {
        crate::convert::ToJsonError::Js(e) => e,
        e => Exception::throw_type(ctx, &format!("{function}: {argument}: {}", e.describe())),
    })
}

/// Appends an instance's six slots to the flat array `declare` hands the prelude (see
/// `DeclareResult` in `prelude.js`): index-keyed stores into a fast array, where an
/// object per instance would cost a property-name lookup per attribute.
fn push_instance<'js>(
    ctx: &Ctx<'js>,
    flat: &Array<'js>,
    at: usize,
    instance: &Instance,
) -> rquickjs::Result<()> {
    flat.set(at, instance.path.as_str())?;
    if let Some((value, kind)) = &instance.value {
        let pair = Array::new(ctx.clone())?;
        pair.set(0, to_js(ctx, value)?)?;
        pair.set(1, kind.as_str())?;
        flat.set(at + 1, pair)?;
    } else {
        flat.set(at + 1, rquickjs::Undefined)?;
    }
    flat.set(at + 2, instance.writable)?;
    flat.set(at + 3, instance.object)?;
    flat.set(at + 4, instance.notification)?;
    match &instance.access_list {
        Some(list) => flat.set(at + 5, list.clone())?,
        None => flat.set(at + 5, rquickjs::Undefined)?,
    }
    Ok(())
}
