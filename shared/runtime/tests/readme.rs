//! The README's configuration table is the settings parser's own rendering.

const BEGIN: &str =
    "<!-- settings table: generated from javumbo-runtime's Settings; do not edit -->\n";
const END: &str = "<!-- end of settings table -->";

#[test]
fn readme_configuration_table_matches_the_settings() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let expected = javumbo_runtime::settings::markdown_table();
    let start = readme.find(BEGIN).map(|i| i + BEGIN.len());
    let end = readme.find(END);
    let (Some(start), Some(end)) = (start, end) else {
        panic!(
            "README.md has no settings table between\n{BEGIN}and\n{END}\nPut this there:\n{expected}"
        );
    };
    if readme[start..end] != expected {
        // `JAVUMBO_BLESS=1 cargo test -p javumbo-runtime --test readme` rewrites it.
        if std::env::var_os("JAVUMBO_BLESS").is_some() {
            let updated = format!("{}{expected}{}", &readme[..start], &readme[end..]);
            std::fs::write(path, updated).expect("write README.md");
            return;
        }
        panic!(
            "README.md's settings table is out of date (JAVUMBO_BLESS=1 rewrites it). Expected:\n{expected}"
        );
    }
}
