//! Rich text: reading its plain text and writing text of any length.
//!
//! Notion refuses a `text.content` longer than 2,000 characters with a 400
//! `validation_error`. The limit is checked by JavaScript, whose string length
//! counts UTF-16 code units, so pieces are cut at 2,000 UTF-16 units: that is
//! never more than 2,000 characters however they are counted, and a cut only
//! falls between two `char`s, so no character or surrogate pair is split.
//!
//! Formatted text is a list of [`Span`]s (text, the annotations Markdown can
//! express, a link); [`span_objects`] writes them with the same splitting.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value as Json, json};

/// Most UTF-16 code units in one text object's `content`.
pub const TEXT_CONTENT_LIMIT: usize = 2000;

/// Most rich-text objects in one property value (Notion's request limits).
pub const RICH_TEXT_ARRAY_LIMIT: usize = 100;

/// Most UTF-16 code units in a link URL (`text.link.url`).
pub const LINK_URL_LIMIT: usize = 2000;

/// One rich-text object as read back: its plain text, link and annotations.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct RichText {
    pub plain_text: String,
    pub href: Option<String>,
    pub annotations: Annotations,
}

/// The annotations that have a Markdown form. Underline and colour have
/// none, so they are not read: changing them is not a change of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Annotations {
    #[serde(default)]
    pub bold: bool,
    #[serde(default)]
    pub italic: bool,
    #[serde(default)]
    pub strikethrough: bool,
    #[serde(default)]
    pub code: bool,
}

impl Annotations {
    pub fn is_plain(&self) -> bool {
        *self == Annotations::default()
    }
}

/// A run of text with one set of annotations and at most one link.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Span {
    pub text: String,
    pub annotations: Annotations,
    pub link: Option<String>,
}

impl Span {
    pub fn plain(text: impl Into<String>) -> Self {
        Span {
            text: text.into(),
            ..Span::default()
        }
    }
}

impl From<&RichText> for Span {
    fn from(r: &RichText) -> Self {
        Span {
            text: r.plain_text.clone(),
            annotations: r.annotations,
            link: r.href.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for RichText {
    /// Reads `plain_text`, falling back to `text.content` (the write form).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            plain_text: Option<String>,
            href: Option<String>,
            text: Option<TextWire>,
            #[serde(default)]
            annotations: Option<Annotations>,
        }
        #[derive(Deserialize)]
        struct TextWire {
            content: Option<String>,
            link: Option<LinkWire>,
        }
        #[derive(Deserialize)]
        struct LinkWire {
            url: Option<String>,
        }
        let wire = Wire::deserialize(deserializer)?;
        let (content, link) = match wire.text {
            Some(t) => (t.content, t.link.and_then(|l| l.url)),
            None => (None, None),
        };
        Ok(RichText {
            plain_text: wire.plain_text.or(content).unwrap_or_default(),
            // A write body carries the link only as `text.link.url`.
            href: wire.href.or(link),
            annotations: wire.annotations.unwrap_or_default(),
        })
    }
}

/// The plain text of a rich-text array, pieces joined without separators.
pub fn plain_text(pieces: &[RichText]) -> String {
    pieces.iter().map(|p| p.plain_text.as_str()).collect()
}

/// `text` as an array of rich-text write objects of at most 2,000 UTF-16
/// units each; empty text is an empty array (which clears the property).
pub fn rich_text_objects(text: &str) -> Vec<Json> {
    split_text(text, TEXT_CONTENT_LIMIT)
        .into_iter()
        .map(|content| json!({ "type": "text", "text": { "content": content } }))
        .collect()
}

/// Spans as rich-text write objects: each span's text is cut at 2,000
/// UTF-16 units like [`rich_text_objects`]; annotations are written only
/// when set and the link as `text.link.url`.
pub fn span_objects(spans: &[Span]) -> Vec<Json> {
    spans
        .iter()
        .flat_map(|span| {
            split_text(&span.text, TEXT_CONTENT_LIMIT)
                .into_iter()
                .map(move |content| span_object(span, content))
        })
        .collect()
}

fn span_object(span: &Span, content: &str) -> Json {
    let mut text = json!({ "content": content });
    if let Some(url) = &span.link {
        text["link"] = json!({ "url": url });
    }
    let mut object = json!({ "type": "text", "text": text });
    if !span.annotations.is_plain() {
        object["annotations"] = json!(span.annotations);
    }
    object
}

/// The spans of a rich-text array as read (or as written).
pub fn spans_of(pieces: &[RichText]) -> Vec<Span> {
    pieces.iter().map(Span::from).collect()
}

/// Cut `text` into pieces of at most `limit` UTF-16 units, between chars.
fn split_text(text: &str, limit: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut units = 0;
    for (at, c) in text.char_indices() {
        if units + c.len_utf16() > limit {
            pieces.push(&text[start..at]);
            start = at;
            units = 0;
        }
        units += c.len_utf16();
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16_len(s: &str) -> usize {
        s.encode_utf16().count()
    }

    #[test]
    fn empty_text_is_an_empty_array() {
        assert!(rich_text_objects("").is_empty());
    }

    #[test]
    fn text_at_the_limit_is_one_object() {
        let text = "a".repeat(2000);
        let objects = rich_text_objects(&text);
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0]["text"]["content"], text.as_str());
    }

    #[test]
    fn long_text_is_split_and_joins_back() {
        let text: String = "abcdefghij".repeat(450);
        let pieces = split_text(&text, TEXT_CONTENT_LIMIT);
        assert_eq!(
            pieces.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [2000, 2000, 500]
        );
        assert_eq!(pieces.concat(), text);
    }

    #[test]
    fn surrogate_pairs_are_never_cut() {
        // 1,999 ASCII units then an emoji (2 units): the emoji must move to
        // the next piece rather than straddle the limit.
        let text = format!("{}😀{}", "a".repeat(1999), "b".repeat(10));
        let pieces = split_text(&text, TEXT_CONTENT_LIMIT);
        assert_eq!(pieces.len(), 2);
        assert_eq!(utf16_len(pieces[0]), 1999);
        assert!(pieces[1].starts_with('😀'));
        assert_eq!(pieces.concat(), text);
    }

    #[test]
    fn every_piece_is_within_the_limit_for_wide_text() {
        let text = "日本語😀".repeat(1500);
        for piece in split_text(&text, TEXT_CONTENT_LIMIT) {
            assert!(utf16_len(piece) <= TEXT_CONTENT_LIMIT);
            assert!(piece.chars().count() <= TEXT_CONTENT_LIMIT);
        }
    }

    #[test]
    fn spans_write_annotations_and_links_and_read_back() {
        let spans = vec![
            Span::plain("see "),
            Span {
                text: "docs".into(),
                annotations: Annotations {
                    bold: true,
                    ..Annotations::default()
                },
                link: Some("https://example.com/a".into()),
            },
        ];
        let objects = span_objects(&spans);
        assert_eq!(
            objects[1],
            json!({"type": "text",
                "text": {"content": "docs", "link": {"url": "https://example.com/a"}},
                "annotations": {"bold": true, "italic": false, "strikethrough": false, "code": false}})
        );
        assert!(objects[0].get("annotations").is_none());
        let read: Vec<RichText> = serde_json::from_value(json!(objects)).unwrap();
        assert_eq!(spans_of(&read), spans);
    }

    #[test]
    fn long_spans_are_split_keeping_their_annotations() {
        let span = Span {
            text: "x".repeat(4001),
            annotations: Annotations {
                italic: true,
                ..Annotations::default()
            },
            link: None,
        };
        let objects = span_objects(&[span]);
        assert_eq!(objects.len(), 3);
        assert!(objects.iter().all(|o| o["annotations"]["italic"] == true));
    }

    #[test]
    fn plain_text_falls_back_to_write_form_content() {
        let pieces: Vec<RichText> = serde_json::from_value(json!([
            {"type": "text", "text": {"content": "Hello "}, "plain_text": "Hello "},
            {"type": "text", "text": {"content": "world"}}
        ]))
        .unwrap();
        assert_eq!(plain_text(&pieces), "Hello world");
    }
}
