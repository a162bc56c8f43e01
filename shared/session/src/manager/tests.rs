use std::time::Duration;

use super::SessionConfig;

#[test]
fn env_overrides_parse_or_refuse() {
    let base = || SessionConfig::new("c", std::path::PathBuf::from("/tmp/x"));
    let vars = |k: &str| match k {
        "JAVUMBO_COMPACT_AFTER" => Some("8".to_owned()),
        "JAVUMBO_TAKEOVER_TIMEOUT_MS" => Some(" 250 ".to_owned()),
        _ => None,
    };
    let cfg = base().with_overrides(vars).unwrap();
    assert_eq!(cfg.compact_after, 8);
    assert_eq!(cfg.takeover_timeout, Duration::from_millis(250));
    assert_eq!(cfg.cache_max_entries, base().cache_max_entries);
    for bad in ["0", "-1", "ten", ""] {
        let err = base()
            .with_overrides(|k| (k == "JAVUMBO_CACHE_MAX_ENTRIES").then(|| bad.to_owned()))
            .err()
            .unwrap();
        assert!(err.contains("JAVUMBO_CACHE_MAX_ENTRIES"), "{err}");
    }
}
