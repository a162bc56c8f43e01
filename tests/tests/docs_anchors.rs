//! Every `ARCHITECTURE.md#anchor` a source file, manifest or doc of the repository points to
//! names a heading of `docs/ARCHITECTURE.md`, and no source file cites the team's original design
//! brief (which is not in the repository) instead of it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// GitHub's anchor of a heading: lower case, spaces to `-`, punctuation other than `-`/`_`
/// dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors_of(doc: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in doc.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// Files under `dir` with one of `exts`, skipping build outputs, dependencies and caches.
fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if path.is_dir() {
            if !matches!(
                name.as_ref(),
                "target" | "node_modules" | ".cache" | ".git" | "data" | "cdk.out" | ".emulator"
            ) {
                files(&path, exts, out);
            }
        } else if exts.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// `(file, anchor)` for every `ARCHITECTURE.md#anchor` in the given files.
fn references(paths: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for path in paths {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for (i, _) in text.match_indices("ARCHITECTURE.md#") {
            let rest = &text[i + "ARCHITECTURE.md#".len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(rest.len());
            out.push((path.clone(), rest[..end].to_owned()));
        }
    }
    out
}

#[test]
fn every_architecture_reference_names_a_heading() {
    let root = root();
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
    let headings = anchors_of(&doc);
    let mut paths = Vec::new();
    files(&root, &[".rs", ".toml", ".md", ".yaml", ".ts"], &mut paths);
    paths.retain(|p| !p.ends_with("docs_anchors.rs"));
    let refs = references(&paths);
    assert!(
        refs.len() >= 15,
        "expected the code to cite the document: {refs:?}"
    );
    let broken: Vec<_> = refs
        .iter()
        .filter(|(_, a)| !headings.contains(a))
        .map(|(p, a)| format!("{}: #{a}", p.strip_prefix(&root).unwrap_or(p).display()))
        .collect();
    assert!(
        broken.is_empty(),
        "no such heading: {broken:#?}\nheadings: {headings:?}"
    );
}

#[test]
fn no_source_cites_the_design_brief() {
    let root = root();
    let mut paths = Vec::new();
    files(&root, &[".rs"], &mut paths);
    // Spelt in pieces so this file does not match its own search.
    let needles = [
        concat!("DESIGN ", "§"),
        concat!("API", ".md"),
        concat!("CHANGE", "SETS"),
    ];
    let cites: Vec<_> = paths
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            needles
                .iter()
                .any(|n| text.contains(n))
                .then(|| p.strip_prefix(&root).unwrap_or(p).display().to_string())
        })
        .collect();
    assert!(
        cites.is_empty(),
        "cite docs/ARCHITECTURE.md instead: {cites:?}"
    );
}

#[test]
fn anchors_follow_github() {
    assert_eq!(anchor(" The session protocol"), "the-session-protocol");
    assert_eq!(
        anchor(" Active sessions are shared, not exclusive"),
        "active-sessions-are-shared-not-exclusive"
    );
    assert_eq!(
        anchor(" Inside the `session` crate"),
        "inside-the-session-crate"
    );
}
