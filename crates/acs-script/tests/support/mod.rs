//! A recording fake host, shared by the integration tests.
#![allow(dead_code)]

use acs_script::{ExtAnswer, Flow, Host, Instance, Outcome, RunEnv, Sandbox, Script};
use serde_json::Value;
use std::collections::HashMap;

/// One host call, as the script made it.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    Declare {
        path: String,
        timestamps: Value,
        values: Value,
    },
    Clear {
        path: String,
        timestamp: f64,
        attributes: Value,
    },
    Commit,
    Ext {
        name: String,
        function: String,
        args: Vec<Value>,
    },
    Log(String),
}

/// Records every call; answers from its tables.
#[derive(Default)]
pub struct Recorder {
    pub calls: Vec<Call>,
    /// Instances per declared path; an unknown path matches nothing.
    pub instances: HashMap<String, Vec<Instance>>,
    /// Paths whose declare fails with this message.
    pub refuse: HashMap<String, String>,
    /// Answers to successive commits; Continue once exhausted.
    pub commits: Vec<Flow>,
    /// Cached extension results by "name.function"; others yield.
    pub ext_results: HashMap<String, Value>,
}

impl Recorder {
    pub fn logs(&self) -> Vec<&str> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Log(m) => Some(m.as_str()),
                _ => None,
            })
            .collect()
    }
}

impl Host for Recorder {
    fn declare(
        &mut self,
        path: &str,
        timestamps: &Value,
        values: &Value,
    ) -> Result<Vec<Instance>, String> {
        self.calls.push(Call::Declare {
            path: path.to_owned(),
            timestamps: timestamps.clone(),
            values: values.clone(),
        });
        if let Some(m) = self.refuse.get(path) {
            return Err(m.clone());
        }
        Ok(self.instances.get(path).cloned().unwrap_or_default())
    }

    fn clear(&mut self, path: &str, timestamp: f64, attributes: &Value) -> Result<(), String> {
        self.calls.push(Call::Clear {
            path: path.to_owned(),
            timestamp,
            attributes: attributes.clone(),
        });
        Ok(())
    }

    fn commit(&mut self) -> Flow {
        self.calls.push(Call::Commit);
        if self.commits.is_empty() {
            Flow::Continue
        } else {
            self.commits.remove(0)
        }
    }

    fn ext(&mut self, name: &str, function: &str, args: &[Value]) -> ExtAnswer {
        self.calls.push(Call::Ext {
            name: name.to_owned(),
            function: function.to_owned(),
            args: args.to_vec(),
        });
        match self.ext_results.get(&format!("{name}.{function}")) {
            Some(v) => ExtAnswer::Value(v.clone()),
            None => ExtAnswer::Yield,
        }
    }

    fn log(&mut self, message: &str) {
        self.calls.push(Call::Log(message.to_owned()));
    }
}

pub const ENV: RunEnv = RunEnv {
    now_ms: 1_700_000_000_000,
    random_seed: 42,
};

/// Runs `source` once in `sandbox` with a fresh recorder.
pub fn run_in(sandbox: &mut Sandbox, source: &str, args: &[Value]) -> (Outcome, Recorder) {
    let mut host = Recorder::default();
    let outcome = run_with(sandbox, source, args, &mut host);
    (outcome, host)
}

pub fn run_with(
    sandbox: &mut Sandbox,
    source: &str,
    args: &[Value],
    host: &mut Recorder,
) -> Outcome {
    let script = Script::new("test.js", source).expect("valid script");
    sandbox.run(&script, args, &ENV, host)
}

/// Runs `source` in a new default sandbox.
pub fn run(source: &str) -> (Outcome, Recorder) {
    run_in(&mut Sandbox::new(Default::default()), source, &[])
}

pub fn finished(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Finished(v) => v,
        other => panic!("expected Finished, got {other:?}"),
    }
}
