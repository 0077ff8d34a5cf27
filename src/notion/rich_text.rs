//! Rich text: reading its plain text and writing text of any length.
//!
//! Notion refuses a `text.content` longer than 2,000 characters with a 400
//! `validation_error`. The limit is checked by JavaScript, whose string length
//! counts UTF-16 code units, so pieces are cut at 2,000 UTF-16 units: that is
//! never more than 2,000 characters however they are counted, and a cut only
//! falls between two `char`s, so no character or surrogate pair is split.

use serde::{Deserialize, Deserializer};
use serde_json::{Value as Json, json};

/// Most UTF-16 code units in one text object's `content`.
pub const TEXT_CONTENT_LIMIT: usize = 2000;

/// One rich-text object as read back: its plain text and link.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct RichText {
    pub plain_text: String,
    pub href: Option<String>,
}

impl<'de> Deserialize<'de> for RichText {
    /// Reads `plain_text`, falling back to `text.content` (the write form).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            plain_text: Option<String>,
            href: Option<String>,
            text: Option<TextWire>,
        }
        #[derive(Deserialize)]
        struct TextWire {
            content: Option<String>,
        }
        let wire = Wire::deserialize(deserializer)?;
        let plain_text = wire
            .plain_text
            .or_else(|| wire.text.and_then(|t| t.content))
            .unwrap_or_default();
        Ok(RichText {
            plain_text,
            href: wire.href,
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
    fn plain_text_falls_back_to_write_form_content() {
        let pieces: Vec<RichText> = serde_json::from_value(json!([
            {"type": "text", "text": {"content": "Hello "}, "plain_text": "Hello "},
            {"type": "text", "text": {"content": "world"}}
        ]))
        .unwrap();
        assert_eq!(plain_text(&pieces), "Hello world");
    }
}
