//! Errors: [`TemplateError`] is a mistake in a card template, which Anki shows *inside* the card
//! (so it is part of a successful render); [`RenderError`] is a mistake of the caller or a limit.

use crate::i18n;

/// A template mistake, as Anki reports it. `Display` is Anki's English message (with its Unicode
/// isolation marks); [`TemplateError::to_card_html`] is the whole text Anki shows on the card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{{#A}}` without `{{/A}}`.
    #[error("{}", i18n::conditional_not_closed(&format!("{{{{/{}}}}}", .0)))]
    ConditionalNotClosed(String),
    /// `{{/A}}` closing nothing, or closing while another section is the innermost one.
    #[error("{}", not_open_message(.closed, .currently_open.as_deref()))]
    ConditionalNotOpen {
        closed: String,
        currently_open: Option<String>,
    },
    /// `{{filters:Field}}` naming no field of the note type (nor a special field); `filters` is
    /// the filter prefix as written, e.g. `text:`.
    #[error("{}", i18n::no_such_field(&format!("{{{{{}{}}}}}", .filters, .field), .field))]
    FieldNotFound { field: String, filters: String },
    /// `{{#A}}`/`{{^A}}` naming no field; the string is the key with its `#`/`^`.
    #[error("{}", i18n::no_such_field(&format!("{{{{{}}}}}", .0), .0.get(1..).unwrap_or("")))]
    NoSuchConditional(String),
}

fn not_open_message(closed: &str, currently_open: Option<&str>) -> String {
    match currently_open {
        Some(open) => i18n::wrong_conditional_closed(
            &format!("{{{{/{closed}}}}}"),
            &format!("{{{{/{open}}}}}"),
        ),
        None => i18n::conditional_not_open(
            &format!("{{{{/{closed}}}}}"),
            &format!("{{{{#{closed}}}}}"),
            &format!("{{{{^{closed}}}}}"),
        ),
    }
}

/// Which template of a card type failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateSide {
    Question,
    Answer,
}

impl TemplateError {
    /// The HTML Anki renders on *both* sides of a card whose template has this error:
    /// a header naming the side, the escaped message, and a link to Anki's manual.
    pub fn to_card_html(&self, side: TemplateSide, browser: bool) -> String {
        let header = match (side, browser) {
            (TemplateSide::Question, false) => i18n::FRONT_SIDE_PROBLEM,
            (TemplateSide::Answer, false) => i18n::BACK_SIDE_PROBLEM,
            (TemplateSide::Question, true) => i18n::BROWSER_FRONT_SIDE_PROBLEM,
            (TemplateSide::Answer, true) => i18n::BROWSER_BACK_SIDE_PROBLEM,
        };
        let details = crate::html::encode_minimal(&self.to_string());
        format!(
            "{header}<br>{details}<br><a href='{}'>{}</a>",
            i18n::TEMPLATE_ERROR_LINK,
            i18n::MORE_INFO
        )
    }
}

/// Why a card could not be rendered at all (never a template mistake: those render as Anki
/// shows them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// A normal note type has no template at the card's ordinal (or a cloze type has none).
    #[error("the note type has no card template for ordinal {0}")]
    MissingTemplate(u16),
    /// The rendered card would exceed [`crate::Limits::max_output_bytes`].
    #[error("the rendered card exceeds {limit} bytes")]
    OutputTooLarge { limit: usize },
    /// Rendering would read more than [`crate::Limits::max_work_bytes`] of field text through
    /// filters (a template repeating an expensive filter on a large field).
    #[error("rendering the card needs more than {limit} bytes of filter work")]
    TooMuchWork { limit: usize },
}
