//! The data attributes of an image occlusion deletion (`rslib/src/image_occlusion/
//! imageocclusion.rs`): `{{c1::image-occlusion:rect:left=.1:top=.2:width=.3:height=.4}}` becomes
//! `data-shape="rect" data-left=".1" …`, which Anki's reviewer script draws over the image.

use std::fmt::Write;

use crate::html::encode_attribute;

struct Shape {
    shape: String,
    properties: Vec<(String, String)>,
}

/// One `:name=value` property; values escape `\` and `:` with a backslash. Mirrors nom's
/// `preceded(":", is_not("=")) "=" escaped_transform(is_not("\\:"), '\\', one_of("\\:"))`.
fn property(s: &str) -> Option<(String, String, &str)> {
    let rest = s.strip_prefix(':')?;
    let eq = rest.find('=')?;
    if eq == 0 {
        return None;
    }
    let name = &rest[..eq];
    let mut value = String::new();
    let mut chars = rest[eq + 1..].char_indices().peekable();
    let base = eq + 1;
    let mut consumed_any = false;
    loop {
        match chars.next() {
            None => return Some((name.into(), value, "")),
            Some((i, ':')) => {
                // An empty value is only valid at the very end of the text.
                if !consumed_any {
                    return None;
                }
                return Some((name.into(), value, &rest[base + i..]));
            }
            Some((_, '\\')) => match chars.next() {
                Some((_, c @ ('\\' | ':'))) => value.push(c),
                _ => return None,
            },
            Some((_, c)) => value.push(c),
        }
        consumed_any = true;
    }
}

fn parse_image_cloze(text: &str) -> Option<Shape> {
    let (shape, _) = text.split_once(':')?;
    let mut properties = vec![];
    let mut remaining = &text[shape.len()..];
    while let Some((name, value, rest)) = property(remaining) {
        properties.push((name, value));
        remaining = rest;
    }
    Some(Shape {
        shape: shape.to_string(),
        properties,
    })
}

fn is_empty_or_zero(text: &str) -> bool {
    text.is_empty() || text == "0"
}

/// `data-…="…" ` attributes (each followed by a space) for the occlusion text after
/// `image-occlusion:`.
pub(crate) fn image_cloze_data(text: &str) -> String {
    let mut result = String::new();
    let Some(occlusion) = parse_image_cloze(text) else {
        return result;
    };
    if matches!(
        occlusion.shape.as_str(),
        "rect" | "ellipse" | "polygon" | "text"
    ) {
        let _ = write!(result, "data-shape=\"{}\" ", occlusion.shape);
    }
    for (name, value) in &occlusion.properties {
        match name.as_str() {
            "left" | "top" | "angle" | "fill" if !value.is_empty() => {
                let _ = write!(result, "data-{name}=\"{value}\" ");
            }
            "width" | "height" | "rx" | "ry" | "scale" if !is_empty_or_zero(value) => {
                let _ = write!(result, "data-{name}=\"{value}\" ");
            }
            "points" if !value.is_empty() => {
                let points: Vec<String> = value
                    .split(' ')
                    .filter_map(|pair| pair.split_once(','))
                    .map(|(x, y)| format!("{x},{y}"))
                    .collect();
                if !points.is_empty() {
                    let _ = write!(result, "data-points=\"{}\" ", points.join(" "));
                }
            }
            "oi" if !value.is_empty() => {
                let _ = write!(result, "data-occludeInactive=\"{value}\" ");
            }
            "text" if !value.is_empty() => {
                let _ = write!(result, "data-text=\"{}\" ", encode_attribute(value));
            }
            "fs" if !value.is_empty() => {
                let _ = write!(result, "data-font-size=\"{value}\" ");
            }
            _ => {}
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_attributes() {
        assert_eq!(
            image_cloze_data("rect:left=10:top=20:width=30:height=10"),
            r#"data-shape="rect" data-left="10" data-top="20" data-width="30" data-height="10" "#
        );
        assert_eq!(
            image_cloze_data("ellipse:left=1:top=2:rx=0:ry=3:oi=1"),
            r#"data-shape="ellipse" data-left="1" data-top="2" data-ry="3" data-occludeInactive="1" "#
        );
        assert_eq!(
            image_cloze_data("polygon:points=1,2 3,4 bad 5,6"),
            r#"data-shape="polygon" data-points="1,2 3,4 5,6" "#
        );
        assert_eq!(
            image_cloze_data(r"text:left=10:top=20:text=\:l\\ol\::width=30"),
            r#"data-shape="text" data-left="10" data-top="20" data-text="&#x3A;l&#x5C;ol&#x3A;" data-width="30" "#
        );
        // an empty value stops the properties, except at the very end
        assert_eq!(
            image_cloze_data("rect:left=:top=1"),
            r#"data-shape="rect" "#
        );
        assert_eq!(image_cloze_data("rect:left="), r#"data-shape="rect" "#);
        // a bad escape stops them too
        assert_eq!(
            image_cloze_data(r"rect:left=1:top=\x:width=2"),
            r#"data-shape="rect" data-left="1" "#
        );
        assert_eq!(image_cloze_data("noshape"), "");
        assert_eq!(image_cloze_data("star:left=1"), r#"data-left="1" "#);
    }
}
