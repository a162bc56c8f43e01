//! Audio/video tags (`rslib/src/card_rendering/{parser,writer}.rs`): what Anki's `question()` and
//! `answer()` do to `[sound:file]` and `[anki:tts …]…[/anki:tts]` after rendering.
//!
//! Each such tag is replaced by `[anki:play:q:N]` (question) or `[anki:play:a:N]` (answer), N
//! counting from 0 per side, and listed as an [`AvTag`] for the player. A TTS tag without `lang`
//! becomes a bracketed error instead (and takes no number). Any other `[anki:name k=v]…[/anki:name]`
//! directive is re-written in normal form (options separated by single spaces, values quoted
//! only if they hold `]` or whitespace) with its content untouched, even sound tags inside it.
//!
//! The parser accepts exactly what Anki's nom grammar accepts. Anki re-scans the rest of the text
//! from every `[`, which is quadratic on hostile input; here every delimiter lookup goes through
//! precomputed positions and every option list is parsed at most once, so the work stays
//! `O(n log n)`.

use std::collections::HashMap;

use crate::html::{Positions, decode_entities, strip_html_for_tts};
use crate::i18n;

/// An audio/video item of one card side, in play order.
#[derive(Debug, Clone, PartialEq)]
pub enum AvTag {
    /// `[sound:file]`: the file name with HTML entities decoded (Anki's Python layer then takes
    /// its base name).
    SoundOrVideo(String),
    /// `[anki:tts lang=… voices=… speed=…]text[/anki:tts]`.
    Tts {
        /// The text to speak: tags stripped (block tags as spaces), entities decoded, and `[...]`
        /// replaced by the `cloze_blank` option or "blank".
        field_text: String,
        lang: String,
        voices: Vec<String>,
        speed: f32,
        /// Other options as `key=value`, in the order written (Anki's order is unspecified).
        other_args: Vec<String>,
    },
}

const WS: &[u8] = b" \t\r\n";

/// Polynomial hash modulo the Mersenne prime 2^61-1, for comparing directive names in O(1).
const MOD: u64 = (1 << 61) - 1;
const BASE: u64 = 1_000_003;

fn mulmod(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    let r = ((p >> 61) as u64) + ((p as u64) & MOD);
    if r >= MOD { r - MOD } else { r }
}

#[derive(Debug)]
enum Node<'a> {
    Text(&'a str),
    Sound(&'a str),
    Directive {
        name: &'a str,
        options: Vec<(&'a str, &'a str)>,
        content: &'a str,
    },
}

/// Lookups over one text, built only when it contains `[anki:`.
struct Index {
    /// Next `]`, `' '`, `\t`, `\r`, `\n`: where a directive name ends.
    name_end: Positions,
    /// Next `]`, whitespace or `=`: where an option key ends.
    key_end: Positions,
    /// Next `]`, whitespace or `"`: where an unquoted option value ends.
    value_end: Positions,
    quotes: Positions,
    /// `[/anki:name]` closers by (name length, name hash), positions ascending.
    closers: HashMap<(usize, u64), Vec<usize>>,
    /// Name hashes of the openers, by the offset where the name starts.
    opener_hash: HashMap<usize, u64>,
    /// Where the option list starting at an offset ends (memoised: openers share tails).
    options_end: HashMap<usize, usize>,
}

fn positions_of_any(text: &str, set: &[u8]) -> Positions {
    let mut v = Vec::new();
    for (i, c) in text.bytes().enumerate() {
        if set.contains(&c) {
            v.push(i);
        }
    }
    Positions::from_sorted(v)
}

impl Index {
    fn new(text: &str) -> Self {
        let b = text.as_bytes();
        let name_end = positions_of_any(text, b"] \t\r\n");
        let openers = Positions::of(text, b"[anki:", false);
        let closer_starts = Positions::of(text, b"[/anki:", false);
        let mut name_starts: Vec<usize> = openers
            .iter()
            .map(|p| p + 6)
            .chain(closer_starts.iter().map(|c| c + 7))
            .collect();
        name_starts.sort_unstable();
        name_starts.dedup();
        // A name is the run from its start to the next name delimiter, so the hash of every run
        // suffix comes out of one right-to-left pass.
        let mut hashes = HashMap::with_capacity(name_starts.len());
        let mut h = 0u64;
        let mut wanted = name_starts.iter().rev().peekable();
        for i in (0..b.len()).rev() {
            h = if b"] \t\r\n".contains(&b[i]) {
                0
            } else {
                (mulmod(h, BASE) + u64::from(b[i]) + 1) % MOD
            };
            while let Some(&&s) = wanted.peek() {
                if s < i {
                    break;
                }
                if s == i {
                    hashes.insert(s, h);
                }
                wanted.next();
            }
        }
        let mut closers: HashMap<(usize, u64), Vec<usize>> = HashMap::new();
        for c in closer_starts.iter() {
            let start = c + 7;
            let Some(end) = name_end.first_at_or_after(start) else {
                continue;
            };
            if end > start && b[end] == b']' {
                let hash = hashes.get(&start).copied().unwrap_or(0);
                closers.entry((end - start, hash)).or_default().push(c);
            }
        }
        let opener_hash = openers
            .iter()
            .map(|p| (p + 6, hashes.get(&(p + 6)).copied().unwrap_or(0)))
            .collect();
        Self {
            name_end,
            key_end: positions_of_any(text, b"] \t\r\n="),
            value_end: positions_of_any(text, b"] \t\r\n\""),
            quotes: Positions::of_byte(text, b'"'),
            closers,
            opener_hash,
            options_end: HashMap::new(),
        }
    }

    /// One `key=value` pair plus trailing whitespace at `at`: (key, value, next offset).
    fn pair<'t>(&self, text: &'t str, at: usize) -> Option<(&'t str, &'t str, usize)> {
        let b = text.as_bytes();
        let key_end = self.key_end.first_at_or_after(at).unwrap_or(b.len());
        if key_end == at || b.get(key_end) != Some(&b'=') {
            return None;
        }
        let v = key_end + 1;
        let quoted_end = if b.get(v) == Some(&b'"') {
            self.quotes.first_at_or_after(v + 1)
        } else {
            None
        };
        let (value, mut next) = match quoted_end {
            Some(q) => (&text[v + 1..q], q + 1),
            None => {
                let e = self.value_end.first_at_or_after(v).unwrap_or(b.len());
                (&text[v..e], e)
            }
        };
        while next < b.len() && WS.contains(&b[next]) {
            next += 1;
        }
        Some((&text[at..key_end], value, next))
    }

    /// Where nom's `many0(pair)` starting at `at` stops.
    fn options_end(&mut self, text: &str, at: usize) -> usize {
        let mut chain = Vec::new();
        let mut cur = at;
        let end = loop {
            if let Some(&e) = self.options_end.get(&cur) {
                break e;
            }
            match self.pair(text, cur) {
                Some((_, _, next)) => {
                    chain.push(cur);
                    cur = next;
                }
                None => break cur,
            }
        };
        self.options_end.insert(cur, end);
        for c in chain {
            self.options_end.insert(c, end);
        }
        end
    }

    /// `[anki:name options]content[/anki:name]` at `p`: the node and where it ends.
    fn directive<'t>(&mut self, text: &'t str, p: usize) -> Option<(Node<'t>, usize)> {
        let b = text.as_bytes();
        let name_start = p + 6;
        let name_end = self
            .name_end
            .first_at_or_after(name_start)
            .unwrap_or(b.len());
        if name_end == name_start {
            return None;
        }
        let name = &text[name_start..name_end];
        let mut x = name_end;
        while x < b.len() && WS.contains(&b[x]) {
            x += 1;
        }
        let options_end = self.options_end(text, x);
        if b.get(options_end) != Some(&b']') {
            return None;
        }
        let content_start = options_end + 1;
        let hash = self.opener_hash.get(&name_start).copied()?;
        let candidates = self.closers.get(&(name.len(), hash))?;
        let from = candidates.partition_point(|&c| c < content_start);
        let close = candidates[from..]
            .iter()
            .copied()
            .find(|&c| &text[c + 7..c + 7 + name.len()] == name)?;
        let mut options = Vec::new();
        let mut at = x;
        while at < options_end {
            let Some((k, v, next)) = self.pair(text, at) else {
                break;
            };
            options.push((k, v));
            at = next;
        }
        Some((
            Node::Directive {
                name,
                options,
                content: &text[content_start..close],
            },
            close + 7 + name.len() + 1,
        ))
    }
}

fn parse(text: &str) -> Vec<Node<'_>> {
    let b = text.as_bytes();
    let mut index: Option<Index> = None;
    let has_directives = text.contains("[anki:");
    let brackets = Positions::of_byte(text, b']');
    let mut nodes = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        if b[pos] == b'[' {
            if b[pos..].starts_with(b"[sound:")
                && let Some(close) = brackets.first_at_or_after(pos + 7)
                && close > pos + 7
            {
                nodes.push(Node::Sound(&text[pos + 7..close]));
                pos = close + 1;
                continue;
            }
            if has_directives && b[pos..].starts_with(b"[anki:") {
                let index = index.get_or_insert_with(|| Index::new(text));
                if let Some((node, end)) = index.directive(text, pos) {
                    nodes.push(node);
                    pos = end;
                    continue;
                }
            }
        }
        // Text: at least one character, then up to the next `[`.
        let first = text[pos..].chars().next().map_or(1, char::len_utf8);
        let end = b[pos + first..]
            .iter()
            .position(|&c| c == b'[')
            .map_or(b.len(), |i| pos + first + i);
        nodes.push(Node::Text(&text[pos..end]));
        pos = end;
    }
    nodes
}

fn write_option(buf: &mut String, key: &str, val: &str) {
    if val.contains([']', ' ', '\t', '\r', '\n']) {
        buf.push_str(&format!(" {key}=\"{val}\""));
    } else {
        buf.push_str(&format!(" {key}={val}"));
    }
}

/// Replace sound and TTS tags by `[anki:play:q|a:N]` and list them, as Anki's `question()` /
/// `answer()` do. Text without any tag comes back unchanged.
pub fn extract_av_tags(text: &str, question_side: bool) -> (String, Vec<AvTag>) {
    if !text.contains("[sound:") && !text.contains("[anki:") {
        return (text.to_string(), vec![]);
    }
    let nodes = parse(text);
    if nodes.iter().all(|n| matches!(n, Node::Text(_))) {
        return (text.to_string(), vec![]);
    }
    let side = if question_side { 'q' } else { 'a' };
    let mut buf = String::with_capacity(text.len());
    let mut tags = Vec::new();
    for node in nodes {
        match node {
            Node::Text(t) => buf.push_str(t),
            Node::Sound(resource) => {
                buf.push_str(&format!("[anki:play:{side}:{}]", tags.len()));
                tags.push(AvTag::SoundOrVideo(decode_entities(resource).into_owned()));
            }
            Node::Directive {
                name: "tts",
                options,
                content,
            } => {
                let mut lang = "";
                let mut voices: Vec<String> = vec![];
                let mut speed = 1.0f32;
                let mut blank = None;
                let mut other: Vec<(&str, &str)> = vec![];
                for (k, v) in options {
                    match k {
                        "lang" => lang = v,
                        "voices" => voices = v.split(',').map(str::to_string).collect(),
                        "speed" => speed = v.parse().unwrap_or(1.0),
                        "cloze_blank" => blank = Some(v),
                        _ => upsert(&mut other, k, v),
                    }
                }
                if lang.is_empty() {
                    buf.push_str(&format!("[{}]", i18n::tts_lang_not_set()));
                    continue;
                }
                buf.push_str(&format!("[anki:play:{side}:{}]", tags.len()));
                tags.push(AvTag::Tts {
                    field_text: strip_html_for_tts(content)
                        .replace("[...]", blank.unwrap_or(i18n::BLANK)),
                    lang: lang.to_string(),
                    voices,
                    speed,
                    other_args: other.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                });
            }
            Node::Directive {
                name,
                options,
                content,
            } => {
                let mut unique: Vec<(&str, &str)> = vec![];
                for (k, v) in options {
                    upsert(&mut unique, k, v);
                }
                buf.push_str("[anki:");
                buf.push_str(name);
                for (k, v) in unique {
                    write_option(&mut buf, k, v);
                }
                buf.push(']');
                buf.push_str(content);
                buf.push_str(&format!("[/anki:{name}]"));
            }
        }
    }
    (buf, tags)
}

/// Anki collects options into a map: a repeated key keeps its last value.
fn upsert<'a>(list: &mut Vec<(&'a str, &'a str)>, k: &'a str, v: &'a str) {
    match list.iter_mut().find(|(key, _)| *key == k) {
        Some(entry) => entry.1 = v,
        None => list.push((k, v)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tts(text: &str, lang: &str) -> AvTag {
        AvTag::Tts {
            field_text: text.into(),
            lang: lang.into(),
            voices: vec![],
            speed: 1.0,
            other_args: vec![],
        }
    }

    #[test]
    fn extracts_like_anki() {
        let (txt, tags) = extract_av_tags(
            "foo [sound:bar.mp3] baz [anki:tts lang=en_US][...][/anki:tts]",
            true,
        );
        assert_eq!(txt, "foo [anki:play:q:0] baz [anki:play:q:1]");
        assert_eq!(
            tags,
            vec![AvTag::SoundOrVideo("bar.mp3".into()), tts("blank", "en_US")]
        );
        let (txt, tags) = extract_av_tags("[anki:tts]foo[/anki:tts]", false);
        assert_eq!(
            txt,
            "[Error in directive '\u{2068}anki:tts\u{2069}': \u{2068}'\u{2068}lang\u{2069}' not set\u{2069}]"
        );
        assert!(tags.is_empty());
        let (txt, _) = extract_av_tags("[sound:a&amp;b.mp3]", false);
        assert_eq!(txt, "[anki:play:a:0]");
    }

    #[test]
    fn broken_tags_are_text() {
        for s in [
            "[sound:]",
            "[anki:][/anki:]",
            "[anki:foo][/anki:bar]",
            "abc[anki:foo]def[/anki:bar]ghi][[anki:bar][",
            "[sound:x",
        ] {
            assert_eq!(extract_av_tags(s, true), (s.to_string(), vec![]));
        }
    }

    #[test]
    fn other_directives_are_normalised() {
        let (txt, tags) =
            extract_av_tags("[anki:foo  a=1 b=\"x y\"\n][sound:s.mp3][/anki:foo]", true);
        assert_eq!(txt, "[anki:foo a=1 b=\"x y\"][sound:s.mp3][/anki:foo]");
        assert!(tags.is_empty());
        // options must end at `]`
        let s = "[anki:foo a=1 b][/anki:foo]";
        assert_eq!(extract_av_tags(s, true).0, s);
    }

    #[test]
    fn tts_options() {
        let (_, tags) = extract_av_tags(
            "[anki:tts lang=ja_JP voices=A,B speed=1.5 cloze_blank=hmm x=1]a [...]<br>b[/anki:tts]",
            true,
        );
        assert_eq!(
            tags,
            vec![AvTag::Tts {
                field_text: "a hmm b".into(),
                lang: "ja_JP".into(),
                voices: vec!["A".into(), "B".into()],
                speed: 1.5,
                other_args: vec!["x=1".into()],
            }]
        );
    }

    #[test]
    fn hostile_inputs_are_fast() {
        // quadratic parsing would take hours at this size
        let n = 100_000;
        for s in [
            "[anki:".repeat(n),
            "[anki:a ".repeat(n),
            "[anki:a x=".repeat(n),
            "[anki:a x=\"".repeat(n),
            "[sound:".repeat(n),
            "[anki:a][/anki:b]".repeat(n / 4),
            "[/anki:".repeat(n) + "]",
            "[anki:[anki:".repeat(n / 2) + " x=1]",
        ] {
            let (out, tags) = extract_av_tags(&s, true);
            assert_eq!(out, s);
            assert!(tags.is_empty());
        }
        let s = "[anki:x][/anki:x]".repeat(n / 4);
        assert_eq!(extract_av_tags(&s, true).0, s);
    }
}
