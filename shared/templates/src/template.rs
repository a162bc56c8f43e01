//! The template language itself (`rslib/src/template.rs`): lexing `{{…}}` handlebars and
//! `<!--…-->` comments, parsing sections, rendering replacements and sections, and Anki's
//! "does this template render anything" test.
//!
//! Unlike Anki (a recursive tree, and a lexer that re-scans the rest of the template at every
//! character), the parsed template is a flat node list whose sections know their closing index:
//! nesting depth costs no stack and every pass is linear.

use std::collections::{HashMap, HashSet};

use crate::error::{RenderError, TemplateError};
use crate::filters::apply_filters;

const COMMENT_START: &str = "<!--";
const COMMENT_END: &str = "-->";
const ALT_HANDLEBAR_DIRECTIVE: &str = "{{=<% %>=}}";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Text(String),
    /// Text between `<!--` and `-->`: rendered verbatim, handlebars inside ignored.
    Comment(String),
    /// `{{f2:f1:key}}`: `filters` in the order they apply (right to left), so `[f1, f2]`.
    Replacement {
        key: String,
        filters: Vec<String>,
    },
    /// `{{#key}}` or `{{^key}}`; `close` is the index of its [`Node::Close`].
    Open {
        key: String,
        negated: bool,
        close: usize,
    },
    Close,
}

/// A parsed card template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    nodes: Vec<Node>,
}

enum Token<'a> {
    Text(&'a str),
    Comment(&'a str),
    Replacement(&'a str),
    OpenConditional(&'a str),
    OpenNegated(&'a str),
    CloseConditional(&'a str),
}

/// Anki's `classify_handle`: what a `{{…}}` holds, by its first character.
fn classify_handle(s: &str) -> Token<'_> {
    let start = s.trim_start_matches('{').trim();
    if start.len() < 2 {
        return Token::Replacement(start);
    }
    if let Some(stripped) = start.strip_prefix('#') {
        Token::OpenConditional(stripped.trim_start())
    } else if let Some(stripped) = start.strip_prefix('/') {
        Token::CloseConditional(stripped.trim_start())
    } else if let Some(stripped) = start.strip_prefix('^') {
        Token::OpenNegated(stripped.trim_start())
    } else {
        Token::Replacement(start)
    }
}

/// The next occurrence of `needle` at or after `from`, cached so that the scan never re-reads
/// text it has already passed.
struct NextMatch {
    needle: &'static str,
    at: Option<usize>,
    searched_from: usize,
    exhausted: bool,
}

impl NextMatch {
    fn new(needle: &'static str) -> Self {
        Self {
            needle,
            at: None,
            searched_from: 0,
            exhausted: false,
        }
    }

    fn next(&mut self, text: &str, from: usize) -> Option<usize> {
        if self.exhausted {
            return None;
        }
        if let Some(at) = self.at
            && at >= from
            && self.searched_from <= from
        {
            return Some(at);
        }
        self.searched_from = from;
        self.at = text[from..].find(self.needle).map(|i| from + i);
        if self.at.is_none() {
            self.exhausted = true;
        }
        self.at
    }
}

/// Anki's lexer: at each position a handlebar (an open tag with a close tag somewhere after it)
/// wins over a comment; everything else is text.
fn tokenize(template: &str) -> Vec<Token<'_>> {
    let (text, open, close) = if template.trim_start().starts_with(ALT_HANDLEBAR_DIRECTIVE) {
        (
            template
                .trim_start()
                .trim_start_matches(ALT_HANDLEBAR_DIRECTIVE),
            "<%",
            "%>",
        )
    } else {
        (template, "{{", "}}")
    };
    let (open, close): (&'static str, &'static str) = (open, close);

    let mut tokens = Vec::new();
    let mut next_open = NextMatch::new(open);
    let mut next_comment = NextMatch::new(COMMENT_START);
    // Once a closer is missing after some position it is missing after every later one.
    let mut handlebars_possible = true;
    let mut comments_possible = true;
    let mut text_start = 0;
    let mut pos = 0;
    loop {
        let h = if handlebars_possible {
            next_open.next(text, pos)
        } else {
            None
        };
        let c = if comments_possible {
            next_comment.next(text, pos)
        } else {
            None
        };
        let (at, is_handlebar) = match (h, c) {
            (Some(h), Some(c)) if c < h => (c, false),
            (Some(h), _) => (h, true),
            (None, Some(c)) => (c, false),
            (None, None) => break,
        };
        if is_handlebar {
            let inner_start = at + open.len();
            match text[inner_start..].find(close) {
                Some(len) => {
                    if at > text_start {
                        tokens.push(Token::Text(&text[text_start..at]));
                    }
                    tokens.push(classify_handle(&text[inner_start..inner_start + len]));
                    pos = inner_start + len + close.len();
                    text_start = pos;
                }
                None => {
                    handlebars_possible = false;
                    pos = at;
                }
            }
        } else {
            let inner_start = at + COMMENT_START.len();
            match text[inner_start..].find(COMMENT_END) {
                Some(len) => {
                    if at > text_start {
                        tokens.push(Token::Text(&text[text_start..at]));
                    }
                    tokens.push(Token::Comment(&text[inner_start..inner_start + len]));
                    pos = inner_start + len + COMMENT_END.len();
                    text_start = pos;
                }
                None => {
                    comments_possible = false;
                    pos = at;
                }
            }
        }
    }
    if text_start < text.len() {
        tokens.push(Token::Text(&text[text_start..]));
    }
    tokens
}

impl Template {
    /// Parse a template as Anki does. The only parse errors are unbalanced sections.
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let mut nodes = Vec::new();
        // Indices of the open sections, innermost last.
        let mut open: Vec<usize> = Vec::new();
        for token in tokenize(template) {
            match token {
                Token::Text(t) => nodes.push(Node::Text(t.to_string())),
                Token::Comment(t) => nodes.push(Node::Comment(t.to_string())),
                Token::Replacement(t) => {
                    let mut it = t.rsplit(':');
                    let key = it.next().unwrap_or_default().to_string();
                    nodes.push(Node::Replacement {
                        key,
                        filters: it.map(str::to_string).collect(),
                    });
                }
                Token::OpenConditional(t) | Token::OpenNegated(t) => {
                    open.push(nodes.len());
                    nodes.push(Node::Open {
                        key: t.to_string(),
                        negated: matches!(token, Token::OpenNegated(_)),
                        close: 0,
                    });
                }
                Token::CloseConditional(t) => {
                    let Some(&innermost) = open.last() else {
                        return Err(TemplateError::ConditionalNotOpen {
                            closed: t.to_string(),
                            currently_open: None,
                        });
                    };
                    let close_index = nodes.len();
                    let Node::Open { key, close, .. } = &mut nodes[innermost] else {
                        unreachable!("open stack only holds Open nodes")
                    };
                    if key != t {
                        return Err(TemplateError::ConditionalNotOpen {
                            closed: t.to_string(),
                            currently_open: Some(key.clone()),
                        });
                    }
                    *close = close_index;
                    open.pop();
                    nodes.push(Node::Close);
                }
            }
        }
        if let Some(&innermost) = open.last()
            && let Node::Open { key, .. } = &nodes[innermost]
        {
            return Err(TemplateError::ConditionalNotClosed(key.clone()));
        }
        Ok(Self { nodes })
    }

    /// Anki's `renders_with_fields`: true if some replacement of a non-empty field is reachable
    /// through sections that are open for these non-empty fields (`{{^F}}` closed when F is
    /// non-empty). Text alone never makes a template non-empty.
    pub fn renders_with_fields(&self, nonempty_fields: &HashSet<&str>) -> bool {
        let mut i = 0;
        while i < self.nodes.len() {
            match &self.nodes[i] {
                Node::Replacement { key, .. } if nonempty_fields.contains(key.as_str()) => {
                    return true;
                }
                Node::Open {
                    key,
                    negated,
                    close,
                } => {
                    let has = nonempty_fields.contains(key.as_str());
                    if has == *negated {
                        i = *close;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        false
    }

    /// Names of every field referenced by a replacement or a section (special fields and
    /// unknown names included; `FrontSide` and empty keys excluded).
    pub fn referenced_fields(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for node in &self.nodes {
            let key = match node {
                Node::Replacement { key, .. } | Node::Open { key, .. } => key.as_str(),
                _ => continue,
            };
            if !key.is_empty() && key != "FrontSide" && seen.insert(key) {
                out.push(key);
            }
        }
        out
    }

    /// Render with Anki's full pipeline semantics for one side: built-in filters apply until
    /// the first unknown one, which (with no add-on to handle it) ends the chain leaving the text
    /// as it is; `{{FrontSide}}` is the given front side; empty keys with filters render nothing.
    pub(crate) fn render(
        &self,
        ctx: &RenderContext<'_>,
        budget: &mut Budget,
    ) -> Result<String, Failure> {
        let mut out = String::new();
        // For each open section: is output hidden inside it (so its close undoes that)?
        let mut disabling: Vec<bool> = Vec::new();
        let mut disabled_depth = 0usize;
        for node in &self.nodes {
            let enabled = disabled_depth == 0;
            match node {
                Node::Text(text) => {
                    if enabled {
                        budget.push(&mut out, text)?;
                    }
                }
                Node::Comment(text) => {
                    if enabled {
                        budget.push(&mut out, COMMENT_START)?;
                        budget.push(&mut out, text)?;
                        budget.push(&mut out, COMMENT_END)?;
                    }
                }
                Node::Replacement { key, .. } if key == "FrontSide" => {
                    if enabled {
                        budget.push(&mut out, ctx.frontside)?;
                    }
                }
                Node::Replacement { key, filters } if key.is_empty() && !filters.is_empty() => {}
                Node::Replacement { key, filters } => {
                    let Some(text) = ctx.fields.get(key.as_str()) else {
                        let mut written: Vec<&str> =
                            filters.iter().rev().map(String::as_str).collect();
                        written.push("");
                        return Err(Failure::Template(TemplateError::FieldNotFound {
                            field: key.clone(),
                            filters: written.join(":"),
                        }));
                    };
                    if enabled {
                        let rendered = apply_filters(text, filters, key, ctx, budget)?;
                        budget.push(&mut out, &rendered)?;
                    }
                }
                Node::Open { key, negated, .. } => {
                    // Evaluated even inside a hidden section: Anki reports unknown names there.
                    let show = ctx.evaluate_conditional(key, *negated)?;
                    let hides = !enabled || !show;
                    if hides {
                        disabled_depth += 1;
                    }
                    disabling.push(hides);
                }
                Node::Close => {
                    if disabling.pop().unwrap_or(false) {
                        disabled_depth -= 1;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Anki's `is_cloze_conditional`: `c` followed by something `u32::from_str` accepts.
fn is_cloze_conditional(key: &str) -> bool {
    key.strip_prefix('c')
        .is_some_and(|s| s.parse::<u32>().is_ok())
}

/// What one side is rendered with.
pub(crate) struct RenderContext<'a> {
    /// Note fields by name, plus the special fields and `c<ord+1>` (see `card.rs`).
    pub fields: &'a HashMap<&'a str, &'a str>,
    pub nonempty_fields: &'a HashSet<&'a str>,
    pub card_ord: u16,
    /// Anki decides the side for the cloze filters by whether a front side is known.
    pub question_side: bool,
    pub frontside: &'a str,
}

impl RenderContext<'_> {
    fn evaluate_conditional(&self, key: &str, negated: bool) -> Result<bool, Failure> {
        if self.nonempty_fields.contains(key) {
            Ok(!negated)
        } else if self.fields.contains_key(key) || is_cloze_conditional(key) {
            Ok(negated)
        } else {
            let prefix = if negated { "^" } else { "#" };
            Err(Failure::Template(TemplateError::NoSuchConditional(
                format!("{prefix}{key}"),
            )))
        }
    }
}

/// Why rendering one side stopped.
#[derive(Debug)]
pub(crate) enum Failure {
    Template(TemplateError),
    Limit(RenderError),
}

impl From<RenderError> for Failure {
    fn from(e: RenderError) -> Self {
        Failure::Limit(e)
    }
}

/// Output and work limits of one card render.
#[derive(Debug)]
pub(crate) struct Budget {
    pub max_output: usize,
    pub work_left: usize,
    pub max_work: usize,
}

impl Budget {
    /// Append to a side's output, refusing to grow past the output limit.
    pub(crate) fn push(&mut self, out: &mut String, s: &str) -> Result<(), RenderError> {
        if out.len() + s.len() > self.max_output {
            return Err(RenderError::OutputTooLarge {
                limit: self.max_output,
            });
        }
        out.push_str(s);
        Ok(())
    }

    /// Account for a filter reading `len` bytes.
    pub(crate) fn spend(&mut self, len: usize) -> Result<(), RenderError> {
        match self.work_left.checked_sub(len) {
            Some(left) => {
                self.work_left = left;
                Ok(())
            }
            None => Err(RenderError::TooMuchWork {
                limit: self.max_work,
            }),
        }
    }

    /// Refuse an intermediate text larger than the output limit.
    pub(crate) fn check_len(&self, len: usize) -> Result<(), RenderError> {
        if len > self.max_output {
            Err(RenderError::OutputTooLarge {
                limit: self.max_output,
            })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
impl Template {
    pub(crate) fn nodes(&self) -> &[Node] {
        &self.nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Node {
        Node::Text(s.into())
    }

    fn rep(key: &str, filters: &[&str]) -> Node {
        Node::Replacement {
            key: key.into(),
            filters: filters.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn parses_like_anki() {
        let t = Template::parse("foo {{bar}} {{#baz}} quux {{/baz}}").unwrap();
        assert_eq!(
            t.nodes(),
            &[
                text("foo "),
                rep("bar", &[]),
                text(" "),
                Node::Open {
                    key: "baz".into(),
                    negated: false,
                    close: 5
                },
                text(" quux "),
                Node::Close
            ]
        );
        let t = Template::parse("{{ tag }}").unwrap();
        assert_eq!(t.nodes(), &[rep("tag", &[])]);
        let t = Template::parse("text }} more").unwrap();
        assert_eq!(t.nodes(), &[text("text }} more")]);
        let t = Template::parse("{{one:two:three}}").unwrap();
        assert_eq!(t.nodes(), &[rep("three", &["two", "one"])]);
        let t = Template::parse("{{{Front}}}").unwrap();
        assert_eq!(t.nodes(), &[rep("Front", &[]), text("}")]);
        let t = Template::parse("{{#}}").unwrap();
        assert_eq!(t.nodes(), &[rep("#", &[])]);
    }

    #[test]
    fn comments_hide_handlebars() {
        let t = Template::parse("a<!--{{#x}}-->{{b}}<!--").unwrap();
        assert_eq!(
            t.nodes(),
            &[
                text("a"),
                Node::Comment("{{#x}}".into()),
                rep("b", &[]),
                text("<!--")
            ]
        );
        assert!(Template::parse("<!--{{#mis}}{{/matched}}-->").is_ok());
        assert!(Template::parse("{{#mis}}<!--{{/mis}}-->").is_err());
        // a handlebar wins over a comment that starts inside it
        let t = Template::parse("{{a<!--}}-->").unwrap();
        assert_eq!(t.nodes(), &[rep("a<!--", &[]), text("-->")]);
    }

    #[test]
    fn section_errors() {
        assert_eq!(
            Template::parse("{{#mis}}{{/matched}}"),
            Err(TemplateError::ConditionalNotOpen {
                closed: "matched".into(),
                currently_open: Some("mis".into())
            })
        );
        assert_eq!(
            Template::parse("{{/matched}}"),
            Err(TemplateError::ConditionalNotOpen {
                closed: "matched".into(),
                currently_open: None
            })
        );
        assert_eq!(
            Template::parse("{{#a}}{{#b}}"),
            Err(TemplateError::ConditionalNotClosed("b".into()))
        );
    }

    #[test]
    fn alt_syntax() {
        let t = Template::parse("\n{{=<% %>=}}\n<%Front%>\n<% #Back %>\n<%/Back%>").unwrap();
        assert_eq!(
            t.nodes(),
            &[
                text("\n"),
                rep("Front", &[]),
                text("\n"),
                Node::Open {
                    key: "Back".into(),
                    negated: false,
                    close: 5
                },
                text("\n"),
                Node::Close
            ]
        );
        let t = Template::parse("{{=<% %>=}}{{#foo}}<%Front%>").unwrap();
        assert_eq!(t.nodes(), &[text("{{#foo}}"), rep("Front", &[])]);
    }

    #[test]
    fn nonempty() {
        let fields: HashSet<&str> = ["1", "3"].into_iter().collect();
        let r = |s: &str| Template::parse(s).unwrap().renders_with_fields(&fields);
        assert!(r("{{2}}{{1}}"));
        assert!(!r("{{2}}"));
        assert!(!r("{{2}}{{4}}"));
        assert!(r("{{#3}}{{^2}}{{1}}{{/2}}{{/3}}"));
        assert!(!r("{{^1}}{{3}}{{/1}}"));
        assert!(!r("text only"));
    }

    #[test]
    fn deep_nesting_is_iterative() {
        let n = 200_000;
        let s = "{{#a}}".repeat(n) + "{{a}}" + &"{{/a}}".repeat(n);
        let t = Template::parse(&s).unwrap();
        let fields: HashSet<&str> = ["a"].into_iter().collect();
        assert!(t.renders_with_fields(&fields));
        let s = "{{#a}}".repeat(n);
        assert_eq!(
            Template::parse(&s),
            Err(TemplateError::ConditionalNotClosed("a".into()))
        );
    }

    #[test]
    fn unclosed_handlebars_are_linear() {
        let s = "{{".repeat(500_000) + &"<!--".repeat(500_000);
        let t = Template::parse(&s).unwrap();
        assert_eq!(t.nodes(), &[text(&s)]);
    }
}
