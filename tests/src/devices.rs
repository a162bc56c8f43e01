//! Official Anki 26.9.3 clients as test "devices": `tests/oracle/sync_driver.py`, one JSON
//! command per line (see its docstring for the commands).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

use crate::{anki_python, workspace_root};

pub struct Devices {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Devices {
    pub fn start() -> Self {
        let mut child = Command::new(anki_python())
            .arg(workspace_root().join("tests/oracle/sync_driver.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the sync driver");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// One command; the driver's answer (an `error` key when the client failed).
    pub fn run(&mut self, cmd: Value) -> Value {
        writeln!(self.stdin, "{cmd}").expect("write command");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read answer");
        assert!(!line.is_empty(), "the driver died on {cmd}");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// One command that must succeed.
    pub fn ok(&mut self, cmd: Value) -> Value {
        let out = self.run(cmd.clone());
        assert!(out.get("error").is_none(), "{cmd} failed: {out}");
        out
    }

    pub fn sync(&mut self, device: &str, full: Option<&str>) -> Value {
        self.run(json!({"op": "sync", "device": device, "full": full}))
    }

    /// The device's collection. `col.mod` is the one stamp a client moves by itself after a
    /// full sync (it does against Anki's own server too), so it is left out; crt and scm stay.
    pub fn dump(&mut self, device: &str) -> Value {
        let mut d = self.ok(json!({"op": "dump", "device": device}));
        d["col"][1] = Value::Null;
        d
    }
}

impl Drop for Devices {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, r#"{{"op":"quit"}}"#);
        let _ = self.child.wait();
    }
}
