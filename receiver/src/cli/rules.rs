//! `receiver fingerprint-rules`: a project's fingerprint rules
//! (`grouping::fingerprint_rules`) on a running receiver: printed, set
//! from a file (`-` for stdin) or removed, through
//! `GET`/`PUT /api/0/projects/{org}/{project}/`.

use std::io::Read;

use clap::Args;
use serde_json::{json, Value};

use super::client::Client;
use super::output::{emit, emit_json};
use super::CliError;

/// `receiver fingerprint-rules`
#[derive(Debug, Clone, Args)]
pub struct RulesArgs {
    /// The project (its id or slug).
    #[arg(long, default_value = "1")]
    pub project: String,
    /// Set the rules from this file (`-`: standard input); they apply to
    /// the next event. Rules that do not parse are refused, with their line.
    #[arg(long, conflicts_with = "clear")]
    pub set: Option<std::path::PathBuf>,
    /// Remove the project's rules.
    #[arg(long)]
    pub clear: bool,
}

/// Runs `receiver fingerprint-rules`: prints the project's rules (after
/// setting or clearing them, when asked).
pub fn rules(client: &Client, args: &RulesArgs, json_out: bool) -> Result<(), CliError> {
    let path = format!(
        "/api/0/projects/local/{}/",
        super::commands::enc(args.project.trim())
    );
    let new = match (&args.set, args.clear) {
        (Some(file), _) => Some(read_rules(file)?),
        (None, true) => Some(String::new()),
        (None, false) => None,
    };
    let project: Value = match new {
        Some(text) => client.send("PUT", &path, &json!({"fingerprintingRules": text}))?,
        None => client.get(&path)?.0,
    };
    let text = project["fingerprintingRules"].as_str().unwrap_or_default();
    if json_out {
        emit_json(&format!(
            "{}\n",
            json!({"project": project["slug"], "fingerprintingRules": text})
        ));
    } else if text.is_empty() {
        emit("(no fingerprint rules)\n");
    } else {
        emit(&format!("{}\n", text.trim_end()));
    }
    Ok(())
}

fn read_rules(file: &std::path::Path) -> Result<String, CliError> {
    let mut text = String::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    // As editors save it: a byte-order mark and CRLF line ends.
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or(&text)
        .replace("\r\n", "\n");
    // An empty file (or a pipe whose writer failed) is not a wish to
    // remove the rules: `--clear` says that.
    if text.trim().is_empty() {
        return Err(CliError::Usage(format!(
            "{} holds no rules; use --clear to remove the project's rules",
            file.display()
        )));
    }
    Ok(text)
}
