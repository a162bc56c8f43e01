//! Smoke test of the whole harness against the real server: `javumbo-load` spawns
//! `javumbo-local` with two process-isolated containers, four students run every scenario
//! (the mix includes the adversarial one), and the integrity audit must come back clean.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// javumbo-local: `JAVUMBO_LOCAL_BIN`, else this build's.
fn server_bin() -> PathBuf {
    std::env::var_os("JAVUMBO_LOCAL_BIN").map_or_else(
        || javumbo_tests::spawn::workspace_binary("javumbo-local"),
        PathBuf::from,
    )
}

#[test]
fn four_students_on_two_containers_leave_a_clean_audit() {
    let server = server_bin();
    let report = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_javumbo-load"))
        .args([
            "--spawn-local",
            "2",
            "--users",
            "4",
            "--iterations",
            "3",
            "--reviews",
            "6",
            "--think-ms",
            "0",
            "--scenario",
            "mix",
            "--mix",
            "study=1,crud=1,stats=1,adversarial=1",
            "--seed",
            "7",
            "--quiet",
            "--title",
            "smoke",
        ])
        .arg("--server-bin")
        .arg(&server)
        .arg("--report")
        .arg(report.path())
        .output()
        .expect("run javumbo-load");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "javumbo-load failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "smoke run too slow"
    );

    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report.path().join("report.json")).unwrap()).unwrap();
    let totals = &json["audit"]["totals"];
    assert_eq!(totals["users"], 4, "{stdout}");
    assert_eq!(totals["users_incomplete"], 0, "{stdout}");
    assert_eq!(totals["lost"], 0, "{stdout}");
    assert_eq!(totals["duplicated"], 0, "{stdout}");
    assert_eq!(totals["phantom"], 0, "{stdout}");
    assert!(
        totals["writes_acked"].as_u64().unwrap() > 20,
        "the scenarios wrote too little to prove anything: {stdout}"
    );
    assert!(
        totals["revlog_rows_checked"].as_u64().unwrap() > 0,
        "{stdout}"
    );
    // Every route the scenarios use was exercised and reported.
    let routes: Vec<&str> = json["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["route"].as_str())
        .collect();
    for r in [
        "POST /api/review",
        "GET /api/review",
        "POST /api/cards",
        "DELETE /api/decks/{id}",
        "GET /api/export",
        "POST /api/session/flush",
    ] {
        assert!(routes.contains(&r), "{r} missing from {routes:?}");
    }
    for f in ["report.html", "report.md", "throughput.svg"] {
        assert!(report.path().join(f).is_file(), "{f} not written");
    }
}
