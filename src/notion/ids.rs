//! Notion ids: UUIDs, written with or without dashes, in either case.

/// `text` as a Notion id in the API's own spelling (lowercase, dashed
/// 8-4-4-4-12), or `None` if it is not one: 32 hex digits, optionally
/// dashed exactly as a UUID. Anything else (a page URL, a title, an id with
/// stray characters) is not an id; callers must not send it to the API,
/// which answers such paths with 400 `validation_error`.
pub fn canonical_id(text: &str) -> Option<String> {
    let text = text.trim();
    let dashed = text.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| text.as_bytes()[i] == b'-')
        && text.chars().filter(|c| *c == '-').count() == 4;
    let hex: String = if dashed {
        text.chars().filter(|c| *c != '-').collect()
    } else {
        text.to_owned()
    };
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::canonical_id;

    #[test]
    fn ids_in_any_spelling_become_dashed_lowercase() {
        let want = Some("36cc9195-760f-4fff-a67e-3a46c559b176".to_owned());
        assert_eq!(canonical_id("36cc9195-760f-4fff-a67e-3a46c559b176"), want);
        assert_eq!(canonical_id(" 36CC9195760F4FFFA67E3A46C559B176 "), want);
    }

    #[test]
    fn anything_else_is_not_an_id() {
        for junk in [
            "",
            "https://www.notion.so/Spec-36cc9195760f4fffa67e3a46c559b176",
            "36cc9195-760f4fff-a67e-3a46c559b176-",
            "36cc9195760f4fffa67e3a46c559b17",
            "36cc9195760f4fffa67e3a46c559b17g",
            "36cc-9195760f4fffa67e3a46c559b176",
            "Mobile revamp",
        ] {
            assert_eq!(canonical_id(junk), None, "{junk:?}");
        }
    }
}
