//! What the sandbox refuses, its limits, isolation between runs, and error positions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use acs_script::{ErrorKind, Limits, Outcome, Sandbox, Script, ScriptError, check_syntax};
use serde_json::json;
use support::*;

fn failed(outcome: Outcome) -> ScriptError {
    match outcome {
        Outcome::Failed(e) => e,
        other => panic!("expected Failed, got {other:?}"),
    }
}

/// The sandbox still runs an ordinary script, and the realm is the prelude's.
fn still_works(sandbox: &mut Sandbox) {
    let (outcome, host) = run_in(
        sandbox,
        "log('ok'); return [typeof leaked, [].length, typeof declare, Date.now(), Object.isFrozen(Array.prototype)];",
        &[],
    );
    assert_eq!(
        finished(outcome),
        json!(["undefined", 0, "function", 1_700_000_000_000_i64, true])
    );
    assert_eq!(host.logs(), ["ok"]);
}

#[test]
fn the_prepared_runtime_leaves_the_memory_limit_to_scripts() {
    let mut sandbox = Sandbox::new(Limits::default());
    assert_eq!(sandbox.memory_used(), 0);
    sandbox.prepare().unwrap();
    let used = sandbox.memory_used();
    assert!(used > 0 && used < 2 << 20, "{used} bytes");
}

#[test]
fn host_capabilities_do_not_exist() {
    let mut sandbox = Sandbox::new(Limits::default());
    for (source, expected) in [
        (
            "require('fs').readFileSync('/etc/passwd')",
            "ReferenceError: require is not defined",
        ),
        (
            "fetch('http://127.0.0.1/')",
            "ReferenceError: fetch is not defined",
        ),
        (
            "new XMLHttpRequest()",
            "ReferenceError: XMLHttpRequest is not defined",
        ),
        ("process.exit(1)", "ReferenceError: process is not defined"),
        (
            "std.loadFile('/etc/passwd')",
            "ReferenceError: std is not defined",
        ),
        ("os.exec(['/bin/sh'])", "ReferenceError: os is not defined"),
        (
            "Deno.readTextFile('/etc/passwd')",
            "ReferenceError: Deno is not defined",
        ),
        (
            "scriptArgs.length",
            "ReferenceError: scriptArgs is not defined",
        ),
        (
            "globalThis.std.open('/etc/passwd')",
            "TypeError: cannot read property 'open' of undefined",
        ),
        ("eval('1 + 1')", "ReferenceError: eval is not defined"),
        (
            "Function('return 1')()",
            "EvalError: code generation from strings is not allowed in scripts",
        ),
        (
            "(function () {}).constructor('return this')()",
            "EvalError: code generation from strings is not allowed in scripts",
        ),
        (
            "(async function () {}).constructor('return 1')",
            "EvalError: code generation from strings is not allowed in scripts",
        ),
        (
            "(function* () {}).constructor('yield 1')",
            "EvalError: code generation from strings is not allowed in scripts",
        ),
        (
            "new SharedArrayBuffer(8)",
            "ReferenceError: SharedArrayBuffer is not defined",
        ),
        (
            "Atomics.wait(new Int32Array(4), 0, 0, 1e9)",
            "ReferenceError: Atomics is not defined",
        ),
        (
            "performance.now()",
            "ReferenceError: performance is not defined",
        ),
        ("new WeakRef({})", "ReferenceError: WeakRef is not defined"),
        (
            "new FinalizationRegistry(() => {})",
            "ReferenceError: FinalizationRegistry is not defined",
        ),
    ] {
        let e = failed(run_in(&mut sandbox, source, &[]).0);
        assert_eq!(e.kind, ErrorKind::Exception, "{source}: {e}");
        assert_eq!(e.message, expected, "{source}");
        assert_eq!(e.line, Some(1), "{source}: {e}");
        still_works(&mut sandbox);
    }
}

#[test]
fn modules_cannot_be_loaded() {
    let mut sandbox = Sandbox::new(Limits::default());
    // Dynamic import compiles, and is refused when it runs: the promise rejects.
    for module in [
        "std",
        "os",
        "fs",
        "./other.js",
        "/etc/passwd",
        "data:text/javascript,1",
    ] {
        let source = format!(
            "import({module:?}).then(() => log('loaded'), e => log('refused: ' + e.message));"
        );
        let (outcome, host) = run_in(&mut sandbox, &source, &[]);
        finished(outcome);
        assert_eq!(host.logs().len(), 1, "{module}");
        assert!(
            host.logs()[0].starts_with("refused: "),
            "{module}: {:?}",
            host.logs()
        );
        still_works(&mut sandbox);
    }
    // Static imports are not script syntax at all.
    let e = Script::new("m.js", "import * as std from 'std';").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert_eq!(e.line, Some(1));
}

#[test]
fn an_infinite_loop_times_out() {
    let mut sandbox = Sandbox::new(Limits {
        cpu: Duration::from_millis(30),
        ..Limits::default()
    });
    sandbox.prepare().unwrap();
    for source in [
        "let i = 0;\nwhile (true) { i++; }",
        // Catching does not help: the interrupt is uncatchable.
        "for (;;) { try { for (;;) {} } catch (e) { log('caught'); } }",
        "function f() { try { f(); } finally { f(); } }\nf();",
        // Catastrophic backtracking in the regular expression engine.
        "/^(a+)+$/.test('a'.repeat(40) + 'b');",
        // A getter of the returned value, run while converting it.
        "return { get x() { for (;;) {} } };",
        // A promise job.
        "Promise.resolve().then(() => { for (;;) {} });",
    ] {
        let started = Instant::now();
        let (outcome, host) = run_in(&mut sandbox, source, &[]);
        let elapsed = started.elapsed();
        let e = failed(outcome);
        assert_eq!(e.kind, ErrorKind::Timeout, "{source}: {e}");
        assert_eq!(
            e.message,
            "the script ran past its CPU time limit and was stopped"
        );
        assert!(
            elapsed < Duration::from_millis(500),
            "{source}: {elapsed:?}"
        );
        assert!(host.logs().iter().all(|l| *l == "caught"));
        still_works(&mut sandbox);
    }
}

#[test]
fn native_loops_over_huge_lengths_are_refused() {
    // QuickJS does not poll its interrupt handler inside these native loops: without the
    // prelude's guard each of these would run for hours.
    let mut sandbox = Sandbox::new(Limits::default());
    for source in [
        "new Array(2 ** 32 - 1).join('');",
        "String(new Array(2 ** 32 - 1));",
        "Array.prototype.reverse.call({length: 2 ** 40});",
        "Array.prototype.sort.call({length: 2 ** 40});",
        "Array.prototype.splice.call({length: 2 ** 40}, 0, 1);",
        "Array.prototype.copyWithin.call({length: 2 ** 40}, 0, 1);",
        "Array.prototype.unshift.call({length: 2 ** 40}, 1);",
        "[].concat(new Array(2 ** 32 - 1));",
        "Array.from({length: 2 ** 40});",
        // A length that would answer small to the guard and huge to the native.
        "let n = 0; Array.prototype.join.call({ get length() { return n++ ? 2 ** 40 : 1; } });",
        "let n = 0; Array.prototype.sort.call({ length: { valueOf() { return n++ ? 2 ** 40 : 1; } } });",
        "let n = 0; Array.prototype.reverse.call(Object.create({ get length() { return n++ ? 2 ** 40 : 1; } }));",
    ] {
        let started = Instant::now();
        let e = failed(run_in(&mut sandbox, source, &[]).0);
        assert_eq!(e.kind, ErrorKind::Exception, "{source}: {e}");
        assert!(
            (e.message.starts_with("RangeError: ")
                && e.message.contains("more than scripts may process"))
                || (e.message.starts_with("TypeError: ")
                    && e.message.contains("must be a plain number")),
            "{source}: {e}"
        );
        assert_eq!(e.line, Some(1));
        assert!(started.elapsed() < Duration::from_secs(1), "{source}");
    }
    // The guarded methods still work, with their names and lengths.
    let (outcome, _) = run_in(
        &mut sandbox,
        r#"return [[1, 2, 3].join("-"), String([3, 1, 2].sort()), [1, [2, [3]]].flat(2),
                   [1].concat([2], 3), Array.from({length: 3}, (_, i) => i * 2), Array.from("ab"),
                   [1, 2, 3].reverse(), [1, 2, 3].splice(1, 1), Array.prototype.join.name,
                   Array.prototype.join.length, Array.prototype.concat.length,
                   Array.prototype.join.call({length: 2, 0: "a", 1: "b"}, "+"),
                   Array.prototype.join.call("abc", "."), Array.prototype.join.call(new Uint8Array([1, 2]), ""),
                   Array.prototype.slice.call((function () { return arguments; })(1, 2))];"#,
        &[],
    );
    assert_eq!(
        finished(outcome),
        json!([
            "1-2-3",
            "1,2,3",
            [1, 2, 3],
            [1, 2, 3],
            [0, 2, 4],
            ["a", "b"],
            [3, 2, 1],
            [2],
            "join",
            1,
            1,
            "a+b",
            "a.b.c",
            "12",
            [1, 2]
        ])
    );
}

#[test]
fn timeout_says_where_the_script_was() {
    let mut sandbox = Sandbox::new(Limits {
        cpu: Duration::from_millis(20),
        ..Limits::default()
    });
    // Stopped inside a native call (here the regular expression engine): QuickJS knows
    // the call's position.
    let e = failed(
        run_in(
            &mut sandbox,
            "let a = 1;\nlet b = 2;\nconst ok = /^(a+)+$/.test('a'.repeat(40) + 'b');\n",
            &[],
        )
        .0,
    );
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert_eq!(e.line, Some(3), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "test.js:3:{}: the script ran past its CPU time limit and was stopped",
            e.column.unwrap()
        )
    );
    // In a loop of bytecode QuickJS has not always saved the position (stopped in the
    // call, it has): no location rather than a wrong one.
    let e = failed(
        run_in(
            &mut sandbox,
            "let a = 1;\nlet b = 2;\nfor (;;) { a = Math.max(a, b); }\n",
            &[],
        )
        .0,
    );
    assert_eq!(e.kind, ErrorKind::Timeout);
    assert!(matches!(e.line, None | Some(3)), "{e}");
}

#[test]
fn host_time_does_not_count_against_the_script() {
    struct Slow(Recorder);
    impl acs_script::Host for Slow {
        fn declare(
            &mut self,
            p: &str,
            t: &serde_json::Value,
            v: &serde_json::Value,
        ) -> Result<Vec<acs_script::Instance>, String> {
            std::thread::sleep(Duration::from_millis(15));
            self.0.declare(p, t, v)
        }
        fn clear(&mut self, p: &str, t: f64, a: &serde_json::Value) -> Result<(), String> {
            self.0.clear(p, t, a)
        }
        fn commit(&mut self) -> acs_script::Flow {
            self.0.commit()
        }
        fn ext(&mut self, n: &str, f: &str, a: &[serde_json::Value]) -> acs_script::ExtAnswer {
            self.0.ext(n, f, a)
        }
        fn log(&mut self, m: &str) {
            self.0.log(m)
        }
    }
    let mut sandbox = Sandbox::new(Limits {
        cpu: Duration::from_millis(20),
        ..Limits::default()
    });
    let script = Script::new(
        "slow.js",
        "for (let i = 0; i < 4; i++) declare('Device.X', {value: 1}); return 1;",
    )
    .unwrap();
    let outcome = sandbox.run(&script, &[], &ENV, &mut Slow(Recorder::default()));
    assert_eq!(outcome, Outcome::Finished(json!(1)));
}

#[test]
fn a_memory_bomb_runs_out_of_memory() {
    // Filling 16 MiB takes QuickJS longer than the default 50 ms CPU limit (its cycle
    // collector runs more often as the heap grows), so with the defaults a bomb ends in
    // whichever limit comes first; here the CPU limit is out of the way.
    let mut sandbox = Sandbox::new(Limits {
        cpu: Duration::from_secs(5),
        ..Limits::default()
    });
    for source in [
        "let a = []; while (true) a.push(new Array(1e6));",
        "let a = []; while (true) a.push({});",
        "let a = []; while (true) a.push(new Array(1e5).fill(1));",
        "let s = 'x'; while (true) s = s + s;",
        "'x'.repeat(1 << 29);",
        "new ArrayBuffer(1 << 30);",
        "let o = {}; for (let i = 0; ; i++) o['k' + i] = i;",
        // An allocation failure that leaves QuickJS no exception to throw.
        "'a'.repeat(3e6).normalize('NFD');",
        // Catching it does not let the script keep the memory.
        "let a = []; try { while (true) a.push(new Array(1e5).fill(1)); } catch (e) { log(String(e)); }\nwhile (true) a.push(new Array(1e5).fill(1));",
    ] {
        let builds = sandbox.builds();
        let (outcome, _) = run_in(&mut sandbox, source, &[]);
        let e = failed(outcome);
        assert!(
            e.kind == ErrorKind::OutOfMemory
                || (e.kind == ErrorKind::Exception
                    && (e.message.starts_with("RangeError")
                        || e.message == "InternalError: string too long")),
            "{source}: {e}"
        );
        if source.contains("push") {
            assert_eq!(e.kind, ErrorKind::OutOfMemory, "{source}: {e}");
            assert_eq!(
                e.message,
                "the script ran out of memory (the sandbox's memory limit)"
            );
        }
        still_works(&mut sandbox);
        if e.kind == ErrorKind::OutOfMemory {
            assert!(
                sandbox.builds() > builds,
                "a fresh runtime after running out of memory"
            );
        }
    }
}

#[test]
fn deep_recursion_overflows_the_stack() {
    let mut sandbox = Sandbox::new(Limits::default());
    for source in [
        "function f(n) { return f(n + 1) + 1; }\nf(0);",
        "const g = () => [g()];\ng();",
        "const o = {}; o.toString = function () { return String(this); }; String(o);",
    ] {
        let e = failed(run_in(&mut sandbox, source, &[]).0);
        assert_eq!(e.kind, ErrorKind::StackOverflow, "{source}: {e}");
        assert_eq!(
            e.message,
            "the script overflowed the stack (recursion too deep)"
        );
        still_works(&mut sandbox);
    }
    // Caught, it is the script's business.
    let (outcome, _) = run_in(
        &mut sandbox,
        "function f() { f(); }\ntry { f(); } catch (e) { return e instanceof RangeError; }",
        &[],
    );
    assert_eq!(finished(outcome), json!(true));
    // Deeply nested source is refused when it is checked.
    let nested = format!("return {}1{};", "[".repeat(100_000), "]".repeat(100_000));
    assert!(Script::new("nested.js", nested).is_err());
}

#[test]
fn globals_do_not_leak_between_runs() {
    let mut sandbox = Sandbox::new(Limits::default());
    // What a script declares is local to its run; the global object takes nothing new.
    let (outcome, _) = run_in(
        &mut sandbox,
        r#"
        var local = 1;
        function helper() { return 2; }
        const attempts = [
            () => { globalThis.leaked = 1; },
            () => { globalThis["alsoLeaked"] = 2; },
            () => { Object.defineProperty(globalThis, "hidden", { value: 3, configurable: true }); },
            () => { globalThis[Symbol.for("x")] = 4; },
            () => { Object.setPrototypeOf(globalThis, {}); },
            () => { delete globalThis.declare; },
        ];
        const outcomes = attempts.map((f) => { try { f(); return "changed"; } catch (e) { return e.name; } });
        args.push("mutated");
        args = ["replaced"];
        return [local, helper(), outcomes, args];
    "#,
        &[json!("a")],
    );
    assert_eq!(
        finished(outcome),
        json!([
            1,
            2,
            [
                "TypeError",
                "TypeError",
                "TypeError",
                "TypeError",
                "TypeError",
                "TypeError"
            ],
            ["replaced"]
        ])
    );
    let (outcome, _) = run_in(
        &mut sandbox,
        r#"return [typeof local, typeof helper, typeof leaked, typeof hidden,
                   globalThis[Symbol.for("x")] === undefined, args.length, typeof declare];"#,
        &[],
    );
    assert_eq!(
        finished(outcome),
        json!([
            "undefined",
            "undefined",
            "undefined",
            "undefined",
            true,
            0,
            "function"
        ])
    );
    assert_eq!(sandbox.builds(), 1);
}

#[test]
fn builtins_cannot_be_changed() {
    let mut sandbox = Sandbox::new(Limits::default());
    let (outcome, _) = run_in(
        &mut sandbox,
        r#"
        const attempts = [
            () => { Array.prototype.evil = 1; },
            () => { Array.prototype.push = function () { return "hijacked"; }; },
            () => { Object.prototype.polluted = true; },
            () => { String.prototype.trim = () => "hijacked"; },
            () => { JSON.stringify = () => "hijacked"; },
            () => { Math.random = () => 4; },
            () => { Math.random.seed = () => 4; },
            () => { Date.now = () => 0; },
            () => { Date = function () {}; },
            () => { declare = function () { return "hijacked"; }; },
            () => { globalThis.log = null; },
            () => { Object.defineProperty(Array.prototype, "x", { value: 1 }); },
            () => { Object.setPrototypeOf(Array.prototype, null); },
            () => { Object.prototype.toString = () => "hijacked"; },
            () => { delete Array.prototype.map; },
            () => { Error.prepareStackTrace = () => "hijacked"; },
            () => { [].values().__proto__.next = () => ({ done: true }); },
            () => { Object.getPrototypeOf(function* () {}).prototype.next = null; },
            () => { declare("Device.X").constructor.prototype.extra = 1; },
        ];
        const outcomes = attempts.map((f) => { try { f(); return "changed"; } catch (e) { return e.name; } });
        return [outcomes.every((o) => o === "TypeError"), outcomes];
    "#,
        &[],
    );
    let result = finished(outcome);
    assert_eq!(result[0], json!(true), "{result}");
    let (outcome, host) = run_in(
        &mut sandbox,
        r#"log("still"); return [[].evil, [1].push(2), ({}).polluted, " a ".trim(), Math.random() < 1,
                  Date.now(), typeof declare("Device.X"), [...[1, 2].values()].length];"#,
        &[],
    );
    assert_eq!(
        finished(outcome),
        json!([null, 2, null, "a", true, 1_700_000_000_000_i64, "object", 2])
    );
    assert_eq!(host.logs(), ["still"]);
}

#[test]
fn the_only_setters_left_on_builtins_act_on_their_receiver() {
    // Freezing stops writes to data properties, not calls to accessors' setters: a setter
    // that stored state in the engine (as QuickJS's Error.prepareStackTrace did) would
    // carry it from run to run. The inventory of setters on everything reachable, tamed
    // ones (named "set") aside, is the spec's receiver-acting ones.
    let mut sandbox = Sandbox::new(Limits::default());
    let (outcome, _) = run_in(
        &mut sandbox,
        r#"
        const names = new Map([[Object.prototype, "Object.prototype"], [Function.prototype, "Function.prototype"],
                               [Error.prototype, "Error.prototype"], [Iterator.prototype, "Iterator.prototype"]]);
        const seen = new Set();
        const found = [];
        const pending = [globalThis, Object.getPrototypeOf(function* () {}), [][Symbol.iterator](),
                         Object.getPrototypeOf(async function () {}), Object.getPrototypeOf(async function* () {}),
                         declare("Device.X")];
        while (pending.length) {
            const o = pending.pop();
            if ((typeof o !== "object" && typeof o !== "function") || o === null || seen.has(o)) continue;
            seen.add(o);
            pending.push(Object.getPrototypeOf(o));
            for (const k of Reflect.ownKeys(o)) {
                const d = Object.getOwnPropertyDescriptor(o, k);
                if (d.set && d.set.name !== "set") found.push((names.get(o) || "?") + "." + String(k));
                pending.push(d.value, d.get, d.set);
            }
        }
        return found.sort();
    "#,
        &[],
    );
    assert_eq!(
        finished(outcome),
        json!([
            "Error.prototype.stack",
            "Function.prototype.arguments",
            "Function.prototype.caller",
            "Iterator.prototype.Symbol(Symbol.toStringTag)",
            "Iterator.prototype.constructor",
            "Object.prototype.__proto__",
        ])
    );
    // Each refuses the shared object and leaves the next run's realm alone.
    let (outcome, _) = run_in(
        &mut sandbox,
        r#"
        const attempts = [
            () => { Iterator.prototype.constructor = 1; },
            () => { Iterator.prototype[Symbol.toStringTag] = "x"; },
            () => { Error.prototype.stack = "x"; },
            () => { Object.prototype.__proto__ = {}; },
            () => { Error.prepareStackTrace = () => "hooked"; },
            () => { Error.stackTraceLimit = 0; },
        ];
        return attempts.map((f) => { try { f(); return "changed"; } catch (e) { return e.name; } });
    "#,
        &[],
    );
    let outcomes = finished(outcome);
    assert!(
        outcomes
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o == "TypeError"),
        "{outcomes}"
    );
    let (outcome, _) = run_in(
        &mut sandbox,
        "return [typeof new Error('x').stack, Error.stackTraceLimit, Iterator.prototype.constructor === Iterator];",
        &[],
    );
    assert_eq!(finished(outcome), json!(["string", 10, true]));
}

#[test]
fn shadowing_the_api_is_local_to_the_run() {
    let mut sandbox = Sandbox::new(Limits::default());
    let (outcome, host) = run_in(
        &mut sandbox,
        "function declare() { return 'mine'; }\nvar log = () => 'mine too';\nreturn [declare(), log()];",
        &[],
    );
    assert_eq!(finished(outcome), json!(["mine", "mine too"]));
    assert!(host.calls.is_empty());
    let (outcome, host) = run_in(
        &mut sandbox,
        "declare('Device.X', {value: 1}); log('real');",
        &[],
    );
    finished(outcome);
    assert_eq!(host.calls.len(), 2);
}

#[test]
fn ordinary_code_still_overrides_inherited_methods() {
    // Freezing prototypes would make these assignments fail silently (the "override
    // mistake"); the prelude tames the names ordinary code assigns.
    let (outcome, _) = run(r#"
        class MyError extends Error {
            constructor(message) { super(message); this.name = "MyError"; }
        }
        const o = {};
        o.toString = () => "custom";
        function Point(x) { this.x = x; }
        Point.prototype.toString = function () { return "P" + this.x; };
        Point.prototype.valueOf = function () { return this.x; };
        const e = new TypeError("m");
        e.message = "changed";
        let caught;
        try { throw new MyError("boom"); } catch (err) { caught = String(err); }
        return [String(o), String(new Point(2)), new Point(3) + 1, e.message, caught,
                ({}).hasOwnProperty("x"), Object.prototype.toString.call([])];
    "#);
    assert_eq!(
        finished(outcome),
        json!([
            "custom",
            "P2",
            4,
            "changed",
            "MyError: boom",
            false,
            "[object Array]"
        ])
    );
}

#[test]
fn jobs_left_by_a_run_never_reach_the_next_one() {
    // A promise job still queued when a run fails or yields would otherwise run during
    // the next run (another script's, perhaps). It is discarded: run with host calls
    // refused.
    let mut sandbox = Sandbox::new(Limits::default());
    sandbox.prepare().unwrap();
    let (outcome, host) = run_in(
        &mut sandbox,
        "Promise.resolve().then(() => log('late'));\nthrow new Error('x');",
        &[],
    );
    assert!(matches!(outcome, Outcome::Failed(_)));
    assert!(host.logs().is_empty());
    let (outcome, host) = run_in(&mut sandbox, "log('next'); return 1;", &[]);
    assert_eq!(finished(outcome), json!(1));
    assert_eq!(host.logs(), ["next"], "the job did not run in the next run");
    // After a yield too.
    let mut host = Recorder {
        commits: vec![acs_script::Flow::Yield],
        ..Recorder::default()
    };
    let outcome = run_with(
        &mut sandbox,
        "queueMicrotask(() => log('late'));\n(async () => { await null; log('later'); })();\ncommit();",
        &[],
        &mut host,
    );
    assert_eq!(outcome, Outcome::Yielded);
    assert_eq!(host.calls, [Call::Commit]);
    still_works(&mut sandbox);
    assert_eq!(sandbox.builds(), 1, "discarded in place");

    // Jobs that keep queueing jobs (QuickJS checks its interrupt only every few thousand
    // operations, so each is not stopped at once): past the discard budget the runtime is
    // replaced.
    let mut sandbox = Sandbox::new(Limits {
        cpu: Duration::from_millis(20),
        ..Limits::default()
    });
    sandbox.prepare().unwrap();
    let e = failed(
        run_in(&mut sandbox, "Promise.resolve().then(function again() { Promise.resolve().then(again); for (;;) {} });", &[]).0,
    );
    assert_eq!(e.kind, ErrorKind::Timeout);
    still_works(&mut sandbox);
    assert_eq!(sandbox.builds(), 2);
}

#[test]
fn runtime_error_position_is_in_the_operators_source() {
    let source = "\
const v = declare(\"Device.DeviceInfo.SoftwareVersion\", {value: 1});
let count = 0;
// the value is unknown: v.value is undefined
count++;
const version = v.value[0];
return version;
";
    let (outcome, _) = run(source);
    let e = failed(outcome);
    assert_eq!(e.kind, ErrorKind::Exception);
    assert_eq!(
        e.message,
        "TypeError: cannot read property '0' of undefined"
    );
    // QuickJS places a failed property read at the start of the expression.
    assert_eq!((e.line, e.column), (Some(5), Some(17)), "{e}");
    assert_eq!(
        e.to_string(),
        "test.js:5:17: TypeError: cannot read property '0' of undefined"
    );
    assert_eq!(e.script, "test.js");

    // On line 1, columns are the source's, not the wrapper's.
    let e = failed(run("let a; a.b.c = 1;").0);
    assert_eq!((e.line, e.column), (Some(1), Some(8)), "{e}");
    // Thrown by the script itself.
    let e = failed(run("\n\n  throw new RangeError('custom');").0);
    assert_eq!(e.message, "RangeError: custom");
    assert_eq!(e.line, Some(3), "{e}");
    // Not an Error: no position.
    let e = failed(run("throw {code: 5};").0);
    assert_eq!(e.message, "uncaught exception: {\"code\":5}");
    assert_eq!(e.line, None);
    let e = failed(run("throw 'plain';").0);
    assert_eq!(e.message, "uncaught exception: plain");
}

#[test]
fn syntax_error_position_is_in_the_operators_source() {
    let source = "const a = 1;\nconst b = 2;\nconst c = a +* b;\nreturn c;\n";
    let e = check_syntax("provision.js", source).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Syntax);
    assert_eq!((e.line, e.column), (Some(3), Some(14)), "{e}");
    assert_eq!(e.to_string(), format!("provision.js:3:14: {}", e.message));
    assert_eq!(Script::new("provision.js", source).unwrap_err(), e);
    // An unterminated block is reported at the end of the source, not in the wrapper.
    let e = check_syntax("open.js", "if (true) {\n  log('x');\n").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Syntax);
}
