//! `acs soap ...`: tools for captured CWMP traffic.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::{Map, Value, json};

#[derive(Debug, Subcommand)]
pub enum SoapCommand {
    /// Decode CWMP envelopes and print each as one JSON object per line: file, namespace,
    /// CWMP version, header fields, message name and fields. A file that is not a valid
    /// CWMP envelope gets the decoder's error on stderr and the exit status 1.
    Decode {
        /// Indent the JSON.
        #[arg(long)]
        pretty: bool,
        /// Files holding one envelope each; `-` reads standard input.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

pub fn run(command: SoapCommand) -> ExitCode {
    match command {
        SoapCommand::Decode { pretty, files } => decode_files(&files, pretty),
    }
}

fn decode_files(files: &[PathBuf], pretty: bool) -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for file in files {
        let name = file.display().to_string();
        match decode_file(file) {
            Ok(value) => {
                let text = if pretty {
                    serde_json::to_string_pretty(&value)
                } else {
                    serde_json::to_string(&value)
                };
                let written = text
                    .map_err(std::io::Error::other)
                    .and_then(|t| writeln!(out, "{t}"));
                if written.is_err() {
                    // stdout closed (e.g. piped into `head`): nothing more to do.
                    return ExitCode::FAILURE;
                }
            }
            Err(message) => {
                eprintln!("{name}: {message}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}

fn decode_file(file: &PathBuf) -> Result<Value, String> {
    let bytes = if file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| e.to_string())?;
        buf
    } else {
        std::fs::read(file).map_err(|e| e.to_string())?
    };
    let utf8 = cwmp::transcode(&bytes, None).map_err(|e| e.to_string())?;
    let envelope = cwmp::decode(&utf8).map_err(|e| e.to_string())?;
    Ok(to_json(&file.display().to_string(), &envelope))
}

/// `{"file", "namespace", "cwmp_version", "header", "message", "fields"}`.
fn to_json(file: &str, envelope: &cwmp::Envelope<'_>) -> Value {
    // Body serializes as {"<Message>": {fields}}; split it into name and fields.
    let fields = match serde_json::to_value(&envelope.body) {
        Ok(Value::Object(map)) => map.into_iter().next().map(|(_, v)| v),
        _ => None,
    };
    // serde_json's preserve_order keeps this order and the schema order of the fields.
    json!({
        "file": file,
        "namespace": envelope.namespace.uri(),
        "cwmp_version": envelope.cwmp_version().to_string(),
        "header": serde_json::to_value(&envelope.header).unwrap_or(Value::Object(Map::new())),
        "message": envelope.body.name(),
        "fields": fields.unwrap_or(Value::Object(Map::new())),
    })
}
