//! The README's configuration table, rendered from the parser itself so it cannot drift.

use clap::{Arg, CommandFactory};

use super::{Profile, Settings};

/// One row per setting, grouped by help heading: flag, environment variable, default
/// (`javumbo-local`'s, and the Lambda functions' where it differs), meaning.
pub fn markdown_table() -> String {
    // The derive's own order (a profile's `mut_arg` moves the argument it changes to the end).
    let base = Settings::command();
    let local = Profile::Local.command();
    let lambda = Profile::Lambda.command();
    let mut out = String::from("| flag | env | default | meaning |\n|---|---|---|---|\n");
    let mut heading = None;
    for arg in base.get_arguments().filter(|a| shown(a)) {
        let this = arg.get_help_heading().unwrap_or("General");
        if heading != Some(this) {
            out.push_str(&format!("| **{this}** | | | |\n"));
            heading = Some(this);
        }
        let id = arg.get_id().as_str();
        let row = [
            flag(arg),
            arg.get_env()
                .map(|e| format!("`{}`", e.to_string_lossy()))
                .unwrap_or_default(),
            default(find(&local, id).unwrap_or(arg), find(&lambda, id)),
            arg.get_help().map(ToString::to_string).unwrap_or_default(),
        ];
        out.push_str(&format!("| {} |\n", row.map(|c| escape(&c)).join(" | ")));
    }
    out
}

fn find<'a>(cmd: &'a clap::Command, id: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| a.get_id() == id)
}

fn shown(arg: &Arg) -> bool {
    !arg.is_hide_set() && !matches!(arg.get_id().as_str(), "help" | "version")
}

fn flag(arg: &Arg) -> String {
    let long = arg.get_long().unwrap_or_default();
    let values = arg.get_possible_values();
    let value = if values.is_empty() {
        arg.get_value_names()
            .and_then(|v| v.first())
            .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string)
    } else {
        values
            .iter()
            .map(|v| v.get_name().to_owned())
            .collect::<Vec<_>>()
            .join("|")
    };
    format!("`--{long} {value}`")
}

fn default(local: &Arg, lambda: Option<&Arg>) -> String {
    let show = |a: &Arg| {
        let v: Vec<String> = a
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        (!v.is_empty()).then(|| format!("`{}`", v.join(",")))
    };
    let here = show(local);
    let there = lambda.and_then(show);
    match (here, there) {
        (h, t) if h == t => h.unwrap_or_default(),
        (h, t) => format!(
            "{} (Lambda: {})",
            h.unwrap_or_else(|| "none".into()),
            t.unwrap_or_else(|| "none".into())
        ),
    }
}

fn escape(cell: &str) -> String {
    cell.replace('|', "\\|").replace('\n', " ")
}
