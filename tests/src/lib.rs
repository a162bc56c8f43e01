//! Helpers shared by the cross-crate tests: locating the official Anki referee, starting the
//! API (or pointing at a deployed one) and driving it over HTTP.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Root of the workspace (the tests crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The Python interpreter of the venv that holds the official `anki` package. `make test`
/// creates it; `JAVUMBO_ANKI_PYTHON` overrides. A missing referee is a test failure, not a skip:
/// these tests exist to be refereed.
pub fn anki_python() -> PathBuf {
    if let Ok(p) = std::env::var("JAVUMBO_ANKI_PYTHON") {
        return PathBuf::from(p);
    }
    let p = workspace_root().join(".cache/venv-anki/bin/python");
    assert!(
        p.exists(),
        "the official anki package is not installed at {}: run `make test` (it creates the venv)",
        p.display()
    );
    p
}

/// Run one of the Python scripts in `tests/oracle/` with `input` on stdin; return stdout.
pub fn run_oracle(script: &str, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let script_path = workspace_root().join("tests/oracle").join(script);
    let mut child = Command::new(anki_python())
        .arg(&script_path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", script_path.display()));
    child
        .stdin
        .take()
        .map(|mut s| s.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("oracle did not finish");
    assert!(
        out.status.success(),
        "{script} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("oracle printed non-UTF-8")
}
pub mod devices;
pub mod http;
pub mod original_app;
pub mod spawn;
