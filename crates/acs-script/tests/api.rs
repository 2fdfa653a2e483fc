//! The script API as scripts see it, against a recording host.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use acs_script::{ErrorKind, Flow, Instance, Outcome, RunEnv, Sandbox, Script};
use serde_json::{Value, json};
use support::*;

fn ssid(i: u32, name: &str) -> Instance {
    Instance {
        path: format!("Device.WiFi.SSID.{i}.SSID"),
        object: Some(false),
        writable: Some(true),
        value: Some((json!(name), "xsd:string".into())),
        notification: Some(2),
        access_list: Some(vec!["Subscriber".into()]),
    }
}

fn wifi_host() -> Recorder {
    let mut host = Recorder::default();
    host.instances.insert(
        "Device.WiFi.SSID.*.SSID".into(),
        vec![ssid(1, "home"), ssid(2, "guest")],
    );
    host.instances.insert(
        "Device.DeviceInfo.SoftwareVersion".into(),
        vec![Instance {
            path: "Device.DeviceInfo.SoftwareVersion".into(),
            value: Some((json!("1.2.3"), "xsd:string".into())),
            ..Instance::default()
        }],
    );
    host
}

fn run_host(source: &str, host: &mut Recorder) -> Outcome {
    run_with(&mut Sandbox::new(Default::default()), source, &[], host)
}

#[test]
fn declare_arguments_reach_the_host_as_json() {
    let (outcome, host) = run(r#"
        declare("Device.WiFi.SSID.[SSID:guest].Enable", {value: Date.now()}, {value: true});
        declare("Tags.x", null, {value: ["x", "xsd:string"]});
        declare("Device.WiFi.SSID.*", {path: Date.now(), value: 1}, {path: [1, 3]});
        declare("InternetGatewayDevice.LANDevice.*", undefined, {path: 2});
        declare("Reboot");
        declare("VirtualParameters.x", {value: 1.5}, {value: [{nested: [1, [2, null]]}, "xsd:string"]});
        declare("DeviceID.SerialNumber", {value: new Date(1000)});
    "#);
    finished(outcome);
    let now = json!(1_700_000_000_000_i64);
    let expected = vec![
        (
            "Device.WiFi.SSID.[SSID:guest].Enable",
            json!({"value": now}),
            json!({"value": true}),
        ),
        ("Tags.x", Value::Null, json!({"value": ["x", "xsd:string"]})),
        (
            "Device.WiFi.SSID.*",
            json!({"path": now, "value": 1}),
            json!({"path": [1, 3]}),
        ),
        (
            "InternetGatewayDevice.LANDevice.*",
            Value::Null,
            json!({"path": 2}),
        ),
        ("Reboot", Value::Null, Value::Null),
        (
            "VirtualParameters.x",
            json!({"value": 1.5}),
            json!({"value": [{"nested": [1, [2, null]]}, "xsd:string"]}),
        ),
        ("DeviceID.SerialNumber", json!({"value": 1000}), Value::Null),
    ];
    let got: Vec<_> = host
        .calls
        .iter()
        .map(|c| match c {
            Call::Declare {
                path,
                timestamps,
                values,
            } => (path.as_str(), timestamps.clone(), values.clone()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn declare_result_carries_the_first_instance_and_size() {
    let mut host = wifi_host();
    let outcome = run_host(
        r#"
        const r = declare("Device.WiFi.SSID.*.SSID", {value: 1});
        const v = declare("Device.DeviceInfo.SoftwareVersion", {value: 1});
        const none = declare("Device.Nothing.*", {value: 1});
        return {
            path: r.path, value: r.value, writable: r.writable, object: r.object,
            notification: r.notification, accessList: r.accessList, size: r.size,
            first: r.value[0],
            version: v.value[0], versionType: v.value[1], versionWritable: v.writable === undefined,
            noneSize: none.size === undefined, noneValue: none.value === undefined,
            nonePath: none.path === undefined,
        };
    "#,
        &mut host,
    );
    assert_eq!(
        finished(outcome),
        json!({
            "path": "Device.WiFi.SSID.1.SSID", "value": ["home", "xsd:string"], "writable": true,
            "object": false, "notification": 2, "accessList": ["Subscriber"], "size": 2,
            "first": "home",
            "version": "1.2.3", "versionType": "xsd:string", "versionWritable": true,
            "noneSize": true, "noneValue": true, "nonePath": true,
        })
    );
}

#[test]
fn declare_result_iterates_over_instances() {
    let mut host = wifi_host();
    let outcome = run_host(
        r#"
        const seen = [];
        for (const p of declare("Device.WiFi.SSID.*.SSID", {value: 1})) {
            seen.push([p.path, p.value[0], p.size, p.writable]);
        }
        const spread = [...declare("Device.WiFi.SSID.*.SSID", {value: 1})].map(p => p.value[0]);
        for (const p of declare("Device.Nothing.*", {value: 1})) seen.push("never");
        return {seen, spread};
    "#,
        &mut host,
    );
    assert_eq!(
        finished(outcome),
        json!({
            "seen": [["Device.WiFi.SSID.1.SSID", "home", 1, true], ["Device.WiFi.SSID.2.SSID", "guest", 1, true]],
            "spread": ["home", "guest"],
        })
    );
}

#[test]
fn declare_refused_by_the_host_throws_into_the_script() {
    let mut host = Recorder::default();
    host.refuse
        .insert("Device.[".into(), "invalid path 'Device.['".into());
    let outcome = run_host(
        r#"
        let caught;
        try { declare("Device.[", {value: 1}); } catch (e) { caught = e.message; }
        return caught;
    "#,
        &mut host,
    );
    assert_eq!(finished(outcome), json!("invalid path 'Device.['"));

    // Uncaught, it fails the run at the declare's line.
    let outcome = run_host(
        "let a = 1;\n\ndeclare(\"Device.[\", {value: 1});\n",
        &mut host,
    );
    let Outcome::Failed(e) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(e.kind, ErrorKind::Exception);
    assert_eq!(e.message, "Error: invalid path 'Device.['");
    assert_eq!(e.line, Some(3), "{e}");
}

#[test]
fn declare_checks_its_path_argument() {
    let (outcome, host) = run("declare(5, {value: 1});");
    let Outcome::Failed(e) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        e.message
            .starts_with("TypeError: declare: path must be a string"),
        "{e}"
    );
    assert!(host.calls.is_empty());
    let (outcome, _) = run("const a = {}; a.a = a; declare('x', {value: a});");
    let Outcome::Failed(e) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(e.message.contains("nested too deeply"), "{e}");
}

#[test]
fn clear_reaches_the_host() {
    let (outcome, host) = run(r#"
        clear("Device.WiFi.SSID.*", Date.now());
        clear("Device.X", 5, {value: 1});
        clear("Device.Y", new Date(7));
    "#);
    finished(outcome);
    assert_eq!(
        host.calls,
        [
            Call::Clear {
                path: "Device.WiFi.SSID.*".into(),
                timestamp: 1.7e12,
                attributes: Value::Null
            },
            Call::Clear {
                path: "Device.X".into(),
                timestamp: 5.0,
                attributes: json!({"value": 1})
            },
            Call::Clear {
                path: "Device.Y".into(),
                timestamp: 7.0,
                attributes: Value::Null
            },
        ]
    );
    let (outcome, _) = run("clear('Device.X', 'soon');");
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if e.message.contains("timestamp must be a number")),
        "{outcome:?}"
    );
}

#[test]
fn commit_that_continues_goes_on() {
    let (outcome, host) = run("log('a'); commit(); log('b'); return 1;");
    assert_eq!(finished(outcome), json!(1));
    assert_eq!(
        host.calls,
        [Call::Log("a".into()), Call::Commit, Call::Log("b".into())]
    );
}

#[test]
fn commit_that_yields_stops_the_run() {
    let mut host = Recorder {
        commits: vec![Flow::Yield],
        ..Recorder::default()
    };
    let outcome = run_host(
        "log('a'); declare('Device.X', {value: 1}); commit(); log('b'); return 1;",
        &mut host,
    );
    assert_eq!(outcome, Outcome::Yielded);
    assert_eq!(host.logs(), ["a"]);
    assert_eq!(host.calls.last(), Some(&Call::Commit));
}

#[test]
fn a_yield_cannot_be_swallowed_by_try_catch() {
    // The script catches the yield, carries on and finishes: still Yielded, and the
    // host calls after the yield never reach the host.
    let mut host = Recorder {
        commits: vec![Flow::Yield],
        ..Recorder::default()
    };
    let outcome = run_host(
        r#"
        try { commit(); } catch (e) { }
        try { log("after"); } catch (e) { }
        try { declare("Device.Y", {value: 1}); } catch (e) { }
        return "finished anyway";
    "#,
        &mut host,
    );
    assert_eq!(outcome, Outcome::Yielded);
    assert_eq!(host.calls, [Call::Commit]);

    // A script that catches it and then loops is stopped by the interrupt handler, which
    // sees the yield, not by the CPU limit (here far away).
    let mut host = Recorder {
        commits: vec![Flow::Yield],
        ..Recorder::default()
    };
    let mut sandbox = Sandbox::new(acs_script::Limits {
        cpu: std::time::Duration::from_secs(30),
        ..Default::default()
    });
    sandbox.prepare().unwrap();
    let script = Script::new("loop.js", "try { commit(); } catch (e) { } while (true) {}").unwrap();
    let started = std::time::Instant::now();
    let outcome = sandbox.run(&script, &[], &ENV, &mut host);
    assert_eq!(outcome, Outcome::Yielded);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // Or throws something else: still Yielded.
    let mut host = Recorder {
        commits: vec![Flow::Yield],
        ..Recorder::default()
    };
    let outcome = run_host("try { commit(); } catch (e) { } null.x;", &mut host);
    assert_eq!(outcome, Outcome::Yielded);
}

#[test]
fn ext_returns_cached_values_and_yields_when_unknown() {
    let mut host = Recorder::default();
    host.ext_results.insert(
        "geo.lookup".into(),
        json!({"country": "FR", "codes": [33, 1]}),
    );
    let outcome = run_host(
        r#"
        const r = ext("geo", "lookup", "1.2.3.4", 5, {a: [true]});
        return r.country + r.codes[0];
    "#,
        &mut host,
    );
    assert_eq!(finished(outcome), json!("FR33"));
    assert_eq!(
        host.calls,
        // Every argument as a string, as GenieACS passes them.
        [Call::Ext {
            name: "geo".into(),
            function: "lookup".into(),
            args: vec![json!("1.2.3.4"), json!("5"), json!("[object Object]")]
        }]
    );

    let mut host = Recorder::default();
    let outcome = run_host(
        "log('before'); let v; try { v = ext('slow', 'fn'); } catch (e) {} log('after'); return v;",
        &mut host,
    );
    assert_eq!(outcome, Outcome::Yielded);
    assert_eq!(host.logs(), ["before"]);
}

#[test]
fn args_are_the_provision_arguments() {
    let (outcome, _) = run_in(
        &mut Sandbox::new(Default::default()),
        "return [args.length, args[0], args[1].x, Array.isArray(args), typeof args[2]];",
        &[json!("first"), json!({"x": [1, 2]}), json!(3)],
    );
    assert_eq!(
        finished(outcome),
        json!([3, "first", [1, 2], true, "number"])
    );
    let (outcome, _) = run("return args.length;");
    assert_eq!(finished(outcome), json!(0));
}

#[test]
fn date_is_the_session_time() {
    let (outcome, _) = run(r#"
        return [Date.now(), new Date().getTime(), +new Date(), new Date(5).getTime(),
                new Date(2020, 0, 1) instanceof Date, new Date().toISOString(),
                typeof Date(), Date.UTC(2000, 0, 1), Date.parse("2000-01-01T00:00:00Z"),
                new Date() instanceof Date, Object.getPrototypeOf(new Date()) === Date.prototype,
                new Date().constructor === Date];
    "#);
    assert_eq!(
        finished(outcome),
        json!([
            1_700_000_000_000_i64,
            1_700_000_000_000_i64,
            1_700_000_000_000_i64,
            5,
            true,
            "2023-11-14T22:13:20.000Z",
            "string",
            946_684_800_000_i64,
            946_684_800_000_i64,
            true,
            true,
            true
        ])
    );
    // Another run, another time.
    let script = Script::new("t.js", "return Date.now();").unwrap();
    let mut sandbox = Sandbox::new(Default::default());
    let env = RunEnv {
        now_ms: 42,
        random_seed: 0,
    };
    assert_eq!(
        sandbox.run(&script, &[], &env, &mut Recorder::default()),
        Outcome::Finished(json!(42))
    );
}

#[test]
fn math_random_is_deterministic_per_seed() {
    let script = Script::new(
        "r.js",
        "return [Math.random(), Math.random(), Math.random()];",
    )
    .unwrap();
    let mut sandbox = Sandbox::new(Default::default());
    let draw = |sandbox: &mut Sandbox, seed| {
        let env = RunEnv {
            now_ms: 0,
            random_seed: seed,
        };
        finished(sandbox.run(&script, &[], &env, &mut Recorder::default()))
    };
    let a = draw(&mut sandbox, 1);
    assert_eq!(a, draw(&mut sandbox, 1));
    assert_eq!(a, draw(&mut Sandbox::new(Default::default()), 1));
    let b = draw(&mut sandbox, 2);
    assert_ne!(a[0], b[0]);
    let values: Vec<f64> = a
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(values.iter().all(|v| (0.0..1.0).contains(v)), "{values:?}");
    assert!(values[0] != values[1] && values[1] != values[2]);
}

#[test]
fn top_level_return_is_the_result() {
    let (outcome, _) = run(
        "const v = declare('Device.X', {value: 1});\nreturn {writable: true, value: ['x', 'xsd:string']};",
    );
    assert_eq!(
        finished(outcome),
        json!({"writable": true, "value": ["x", "xsd:string"]})
    );
    let (outcome, _) = run("let a = 1;");
    assert_eq!(finished(outcome), Value::Null);
    let (outcome, _) = run("return undefined;");
    assert_eq!(finished(outcome), Value::Null);
    let (outcome, _) = run("return [1.5, 'x', null, true, {a: undefined, f() {}}];");
    assert_eq!(finished(outcome), json!([1.5, "x", null, true, {}]));
    // A value with no JSON form.
    let (outcome, _) = run("const a = {}; a.self = a; return a;");
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if e.kind == ErrorKind::InvalidReturn),
        "{outcome:?}"
    );
    let (outcome, _) = run("return 10n;");
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if e.kind == ErrorKind::InvalidReturn),
        "{outcome:?}"
    );
}

#[test]
fn log_joins_its_arguments() {
    let (outcome, host) = run(r#"
        log("plain");
        log("with", 1, "two", {a: [1]}, null, undefined);
        log(42);
        log({toString() { return "custom"; }});
    "#);
    finished(outcome);
    assert_eq!(
        host.logs(),
        [
            "plain",
            "with 1 two {\"a\":[1]} null undefined",
            "42",
            "custom"
        ]
    );
}

#[test]
fn scripts_run_in_strict_mode_as_in_genieacs() {
    let (outcome, _) = run(r#"
        function double(x) { return x * 2; }
        let total = 0;
        for (let i = 0; i < 3; i++) total += double(i);
        let undeclared;
        try { notDeclared = 1; } catch (e) { undeclared = e.name; }
        return [total, typeof this, undeclared, typeof arguments];
    "#);
    assert_eq!(
        finished(outcome),
        json!([6, "undefined", "ReferenceError", "object"])
    );
    let e = Script::new("with.js", "with (Math) { floor(1.5); }").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Syntax);
}

#[test]
fn a_provision_script_end_to_end() {
    let mut host = wifi_host();
    let outcome = run_host(
        r#"
        const now = Date.now();
        const version = declare("Device.DeviceInfo.SoftwareVersion", {value: now}).value[0];
        if (version.startsWith("1.")) {
            for (const p of declare("Device.WiFi.SSID.*.SSID", {value: now})) {
                if (p.value[0] === "guest") declare(p.path.replace(/SSID$/, "Enable"), {value: now}, {value: false});
            }
        }
        declare("Tags.provisioned", null, {value: true});
        commit();
        log("done " + version);
    "#,
        &mut host,
    );
    assert_eq!(finished(outcome), Value::Null);
    assert!(host.calls.contains(&Call::Declare {
        path: "Device.WiFi.SSID.2.Enable".into(),
        timestamps: json!({"value": 1_700_000_000_000_i64}),
        values: json!({"value": false}),
    }));
    assert_eq!(host.logs(), ["done 1.2.3"]);
}

#[test]
fn promise_jobs_run_within_the_run() {
    let (outcome, host) = run(r#"
        Promise.resolve(1).then(v => log("job " + v));
        queueMicrotask(() => log("microtask"));
        (async () => { await null; log("async"); })();
        log("sync");
    "#);
    finished(outcome);
    assert_eq!(host.logs(), ["sync", "job 1", "microtask", "async"]);
}

#[test]
fn thread_local_sandbox() {
    let script = Script::new("tl.js", "return args[0] + 1;").unwrap();
    for i in 0..3 {
        let (outcome, builds) = Sandbox::with_thread_local(Default::default(), |sandbox| {
            (
                sandbox.run(&script, &[json!(i)], &ENV, &mut Recorder::default()),
                sandbox.builds(),
            )
        });
        assert_eq!(outcome, Outcome::Finished(json!(i + 1)));
        assert_eq!(builds, 1, "one sandbox for the thread");
    }
    // Re-entered (a host running a script while answering one): a sandbox of its own.
    let nested = Sandbox::with_thread_local(Default::default(), |_| {
        Sandbox::with_thread_local(Default::default(), |inner| {
            inner.run(&script, &[json!(10)], &ENV, &mut Recorder::default())
        })
    });
    assert_eq!(nested, Outcome::Finished(json!(11)));
}

#[test]
fn reading_a_declare_result_commits_first() {
    // GenieACS commits when a declare result is read: the value is waited for, not read
    // stale. Here the session needs RPCs, so the run stops at the read.
    let mut host = Recorder {
        commits: vec![Flow::Yield],
        ..Recorder::default()
    };
    let outcome = run_host(
        r#"
        const serial = declare("DeviceID.SerialNumber", {value: 1});
        log("declared");
        declare("Device.WiFi.SSID.1.SSID", null, {value: serial.value[0]});
        log("never");
    "#,
        &mut host,
    );
    assert_eq!(outcome, Outcome::Yielded);
    assert_eq!(host.logs(), ["declared"]);
    assert_eq!(host.calls.last(), Some(&Call::Commit));

    // Once satisfied, one commit for the reads that follow a declare, none after that.
    let mut host = wifi_host();
    let outcome = run_host(
        r#"
        const r = declare("Device.WiFi.SSID.*.SSID", {value: 1});
        const a = [r.value[0], r.size, r.path, [...r].length];
        commit();
        const b = r.value[0];
        clear("Device.X", 1);
        const c = r.size;
        return [a, b, c];
    "#,
        &mut host,
    );
    assert_eq!(
        finished(outcome),
        json!([["home", 2, "Device.WiFi.SSID.1.SSID", 2], "home", 2])
    );
    let commits = host.calls.iter().filter(|c| **c == Call::Commit).count();
    assert_eq!(commits, 3, "{:?}", host.calls);
}

#[test]
fn date_now_with_an_interval_is_staggered_per_device() {
    let t: i64 = 1_700_000_000_000;
    let hour: i64 = 3_600_000;
    let day: i64 = 86_400_000;
    let script = Script::new(
        "interval.js",
        "return [Date.now(3600000), Date.now(3600000, 0), Date.now(86400000, 600000), Date.now(0 || undefined)];",
    )
    .unwrap();
    let mut sandbox = Sandbox::new(Default::default());
    for seed in [0_u64, 42, 1_234_567, 0xFFFF_FFFF_0000_0007] {
        let env = RunEnv {
            now_ms: t,
            random_seed: seed,
        };
        let number = i64::try_from(seed & 0xFFFF_FFFF).unwrap();
        let staggered = |interval: i64, variance: i64| {
            let offset = if variance == 0 { 0 } else { number % variance };
            (t + offset) / interval * interval - offset
        };
        let got = finished(sandbox.run(&script, &[], &env, &mut Recorder::default()));
        assert_eq!(
            got,
            json!([
                staggered(hour, hour),
                staggered(hour, 0),
                staggered(day, 600_000),
                t
            ]),
            "seed {seed}"
        );
        // Never in the future, and within one interval of now.
        let hourly = got[0].as_i64().unwrap();
        assert!(hourly <= t && t - hourly < hour);
    }
    let (outcome, _) = run("Date.now({});");
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if e.message == "Error: Invalid Date.now() argument"),
        "{outcome:?}"
    );
    let (outcome, _) = run("Date.now('0 3 * * *');");
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if e.message.contains("cron expressions are not supported")),
        "{outcome:?}"
    );
}

#[test]
fn math_random_can_be_reseeded() {
    let (outcome, _) = run(r#"
        const first = Math.random();
        Math.random.seed("abc");
        const a = [Math.random(), Math.random()];
        Math.random.seed("abc");
        const b = [Math.random(), Math.random()];
        Math.random.seedCombine("x");
        const c = Math.random();
        Math.random.seed("other");
        const d = Math.random();
        return [a[0] === b[0] && a[1] === b[1], a[0] !== first, c !== a[0], d !== a[0]];
    "#);
    assert_eq!(finished(outcome), json!([true, true, true, true]));
    // seedCombine depends on the run's seed; seed does not.
    let script = Script::new("s.js", "Math.random.seedCombine('x'); const c = Math.random(); Math.random.seed('x'); return [c, Math.random()];").unwrap();
    let mut sandbox = Sandbox::new(Default::default());
    let draw = |sandbox: &mut Sandbox, seed| {
        finished(sandbox.run(
            &script,
            &[],
            &RunEnv {
                now_ms: 0,
                random_seed: seed,
            },
            &mut Recorder::default(),
        ))
    };
    let (one, two) = (draw(&mut sandbox, 1), draw(&mut sandbox, 2));
    assert_ne!(one[0], two[0]);
    assert_eq!(one[1], two[1]);
}

#[test]
fn hash_credential_asks_the_host() {
    let (outcome, _) = run("return HASH_CREDENTIAL('user');");
    assert!(
        matches!(outcome, Outcome::Failed(ref e) if e.message == "Error: HASH_CREDENTIAL: no credentials secret is configured"),
        "{outcome:?}"
    );

    struct Secret;
    impl acs_script::Host for Secret {
        fn declare(&mut self, _: &str, _: &Value, _: &Value) -> Result<Vec<Instance>, String> {
            Ok(vec![])
        }
        fn clear(&mut self, _: &str, _: f64, _: &Value) -> Result<(), String> {
            Ok(())
        }
        fn commit(&mut self) -> Flow {
            Flow::Continue
        }
        fn ext(&mut self, _: &str, _: &str, _: &[Value]) -> acs_script::ExtAnswer {
            acs_script::ExtAnswer::Yield
        }
        fn log(&mut self, _: &str) {}
        fn hash_credential(&mut self, parts: &[String]) -> Result<String, String> {
            Ok(format!("h({})", parts.join("|")))
        }
    }
    let script = Script::new("h.js", "return HASH_CREDENTIAL('user', 5, null);").unwrap();
    let outcome = Sandbox::new(Default::default()).run(&script, &[], &ENV, &mut Secret);
    assert_eq!(outcome, Outcome::Finished(json!("h(user|5|null)")));
}

#[test]
fn scripts_and_outcomes_cross_threads() {
    // A Sandbox stays on its thread; what it is given and answers may travel.
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Script>();
    send_sync::<Outcome>();
    send_sync::<acs_script::ScriptError>();
    let script = Script::new("t.js", "return 1;").unwrap();
    let outcome = std::thread::spawn(move || {
        Sandbox::with_thread_local(Default::default(), |sandbox| {
            sandbox.run(&script, &[], &ENV, &mut Recorder::default())
        })
    })
    .join()
    .unwrap();
    assert_eq!(outcome, Outcome::Finished(json!(1)));
}

#[test]
fn a_host_that_panics_leaves_a_usable_sandbox() {
    struct Panicky;
    impl acs_script::Host for Panicky {
        fn declare(&mut self, _: &str, _: &Value, _: &Value) -> Result<Vec<Instance>, String> {
            panic!("host bug");
        }
        fn clear(&mut self, _: &str, _: f64, _: &Value) -> Result<(), String> {
            Ok(())
        }
        fn commit(&mut self) -> Flow {
            Flow::Continue
        }
        fn ext(&mut self, _: &str, _: &str, _: &[Value]) -> acs_script::ExtAnswer {
            acs_script::ExtAnswer::Yield
        }
        fn log(&mut self, _: &str) {}
    }
    let mut sandbox = Sandbox::new(Default::default());
    let script = Script::new(
        "p.js",
        "Promise.resolve().then(() => log('late'));\ndeclare('Device.X');",
    )
    .unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sandbox.run(&script, &[], &ENV, &mut Panicky)
    }));
    assert!(panicked.is_err(), "the host's panic reaches the caller");
    let (outcome, host) = run_in(&mut sandbox, "log('after'); return 2;", &[]);
    assert_eq!(finished(outcome), json!(2));
    assert_eq!(host.logs(), ["after"]);
    assert_eq!(sandbox.builds(), 2);
}
