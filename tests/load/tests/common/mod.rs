//! Shared by this package's integration tests.

use std::path::PathBuf;
use std::process::Command;

/// Another package's binary from this build's target directory (`target/<profile>/<name>`),
/// built on demand: cargo does not build other packages' binaries for this package's tests.
pub fn workspace_bin(name: &str) -> PathBuf {
    // target/<profile>/deps/<test>-<hash> → target/<profile>/<name>
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile> directory");
    let bin = profile_dir.join(name);
    if !bin.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        // The whole workspace with its test targets, as `make test` builds it: a `-p` build
        // resolves other features and rebuilds most of the dependency tree.
        cmd.args(["build", "--workspace", "--all-targets", "--locked"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "building the workspace failed");
    }
    assert!(bin.is_file(), "no {name} at {}", bin.display());
    bin
}
