//! Markdown ↔ spans: Airtable's documented output, escapes, and a
//! randomized round trip (render then parse gives the same spans).

use super::*;

fn a(bold: bool, italic: bool, strikethrough: bool, code: bool) -> Annotations {
    Annotations {
        bold,
        italic,
        strikethrough,
        code,
    }
}

fn span(text: &str, annotations: Annotations, link: Option<&str>) -> Span {
    Span {
        text: text.into(),
        annotations,
        link: link.map(str::to_owned),
    }
}

const BOLD: Annotations = Annotations {
    bold: true,
    italic: false,
    strikethrough: false,
    code: false,
};
const ITALIC: Annotations = Annotations {
    bold: false,
    italic: true,
    strikethrough: false,
    code: false,
};

#[test]
fn reads_each_inline_format() {
    let spans = parse("a **b** *c* _d_ __e__ ~~f~~ `g` [h](https://x.test/h)\n");
    let plain = Annotations::default();
    assert_eq!(
        spans,
        vec![
            span("a ", plain, None),
            span("b", BOLD, None),
            span(" ", plain, None),
            span("c", ITALIC, None),
            span(" ", plain, None),
            span("d", ITALIC, None),
            span(" ", plain, None),
            span("e", BOLD, None),
            span(" ", plain, None),
            span("f", a(false, false, true, false), None),
            span(" ", plain, None),
            span("g", a(false, false, false, true), None),
            span(" ", plain, None),
            span("h", plain, Some("https://x.test/h")),
        ]
    );
}

#[test]
fn reads_airtables_documented_sample() {
    // From Airtable's "Markdown rich text output in the API" article.
    let md = "## Heading 1\n> Learn more with this [hyperlink](https://airtable.com/) in this quote box\n\nBullet points below\n- This is some *italic* text and some `code`.\n- And even **bold** and ~~strickethrough~~ text\n\n## Heading 2\n[x] Do this\n[ ] And this\n\n\n";
    let text = plain(md);
    assert_eq!(
        text,
        "## Heading 1\n> Learn more with this hyperlink in this quote box\n\nBullet points below\n- This is some italic text and some code.\n- And even bold and strickethrough text\n\n## Heading 2\n[x] Do this\n[ ] And this"
    );
    // Block syntax is kept as typed: rendering it again changes nothing.
    assert_eq!(canonical(parse(md)), md.trim_end_matches('\n'));
}

#[test]
fn nested_and_combined_emphasis() {
    assert_eq!(
        parse("***both***"),
        vec![span("both", a(true, true, false, false), None)]
    );
    assert_eq!(
        parse("**bold *and italic***"),
        vec![
            span("bold", BOLD, None),
            span(" ", Annotations::default(), None),
            span("and italic", a(true, true, false, false), None),
        ]
    );
    assert_eq!(
        parse("[**b** c](https://x.test)"),
        vec![
            span("b", BOLD, Some("https://x.test")),
            span(" c", Annotations::default(), Some("https://x.test")),
        ]
    );
    assert_eq!(
        parse("foo*bar*baz"),
        vec![
            span("foo", Annotations::default(), None),
            span("bar", ITALIC, None),
            span("baz", Annotations::default(), None),
        ]
    );
}

#[test]
fn literal_markers_stay_text() {
    for md in [
        "2 * 3 * 4",
        "snake_case_name",
        "a ~ b",
        "unclosed **bold",
        "* bullet",
        "[not a link] (x)",
        "[x] done",
        "`unclosed code",
        "C:\\Users",
    ] {
        assert_eq!(plain(md), md, "{md}");
    }
    assert_eq!(plain("\\*not italic\\*"), "*not italic*");
    assert_eq!(plain("a\\_b\\\\c"), "a_b\\c");
}

#[test]
fn escaped_plain_text_reads_back_unchanged() {
    for text in [
        "a*b*c",
        "**not bold**",
        "snake_case_name and _x_",
        "~~not struck~~",
        "`tick` \\ [a](b) ![img](c)",
        "2 * 3",
        "x]( y",
        "wow!",
    ] {
        let md = escape(text);
        assert_eq!(plain(&md), text, "{text} -> {md}");
    }
    assert_eq!(escape("2 * 3"), "2 * 3");
    assert_eq!(escape("a*b"), "a\\*b");
}

#[test]
fn code_spans_with_backticks_and_spaces() {
    for content in ["a`b", "`x", "x`", " a ", " ", "``", "a"] {
        let spans = vec![span(content, a(false, false, false, true), None)];
        let md = canonical(spans.clone());
        assert_eq!(parse(&md), spans, "{content:?} -> {md}");
    }
}

#[test]
fn normal_form_moves_whitespace_and_line_breaks_out_of_emphasis() {
    let spans = normalize(vec![
        span(" bold \nnext", BOLD, None),
        span("\n\n", Annotations::default(), None),
    ]);
    assert_eq!(
        spans,
        vec![
            span(" ", Annotations::default(), None),
            span("bold", BOLD, None),
            span(" \n", Annotations::default(), None),
            span("next", BOLD, None),
        ]
    );
}

#[test]
fn link_destinations_with_parentheses_and_spaces() {
    for url in [
        "https://en.wikipedia.org/wiki/Rust_(programming_language)",
        "https://x.test/a)b",
        "https://x.test/a b",
        "https://x.test/?q=<a>",
    ] {
        let spans = vec![span("t", Annotations::default(), Some(url))];
        let md = canonical(spans.clone());
        assert_eq!(parse(&md), spans, "{url} -> {md}");
    }
    assert_eq!(
        parse("[t](https://x.test \"title\")"),
        vec![span("t", Annotations::default(), Some("https://x.test"))]
    );
}

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn random_spans(rng: &mut Rng) -> Vec<Span> {
    const ALPHABET: &[char] = &[
        'a', 'b', 'Z', '1', ' ', ' ', '\n', '*', '_', '~', '`', '\\', '[', ']', '(', ')', '!', '#',
        '-', '<', '>', 'é', '日', '😀', '\t', '.',
    ];
    const LINKS: &[&str] = &[
        "https://a.test/x",
        "https://b.test/(y)",
        "https://c.test/a b",
    ];
    (0..1 + rng.below(6))
        .map(|_| {
            let len = 1 + rng.below(6);
            let text: String = (0..len)
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect();
            let annotations = a(
                rng.chance(35),
                rng.chance(35),
                rng.chance(20),
                rng.chance(15),
            );
            let link = rng.chance(20).then(|| LINKS[rng.below(LINKS.len())]);
            span(&text, annotations, link)
        })
        .collect()
}

#[test]
fn formatting_survives_a_round_trip() {
    // Every span sequence keeps its text; the formatting is kept except for
    // a few overlapping-emphasis mixes Markdown cannot express. The random
    // spans here overlap far more than real text does, so the bound is loose.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut changed = 0;
    for _ in 0..20_000 {
        let spans = normalize(random_spans(&mut rng));
        let md = canonical(spans.clone());
        let back = parse(&md);
        let text = |s: &[Span]| s.iter().map(|s| s.text.clone()).collect::<String>();
        assert_eq!(text(&back), text(&spans), "markdown: {md:?}");
        changed += usize::from(back != spans);
    }
    // 62 of 20,000 today.
    assert!(changed < 100, "{changed} of 20000 lost formatting");
}

#[test]
fn simple_formatting_round_trips_exactly() {
    let mut rng = Rng(99);
    for _ in 0..20_000 {
        // One emphasis per span, as people mostly format.
        let spans: Vec<Span> = random_spans(&mut rng)
            .into_iter()
            .map(|mut s| {
                let a = &mut s.annotations;
                if a.bold {
                    (a.italic, a.strikethrough) = (false, false);
                } else if a.italic {
                    a.strikethrough = false;
                }
                s
            })
            .collect();
        let spans = normalize(spans);
        let md = canonical(spans.clone());
        assert_eq!(parse(&md), spans, "markdown: {md:?}");
    }
}

#[test]
fn canonical_markdown_is_a_fixed_point() {
    // What Airtable sends back for our write (plus its trailing newline)
    // must give the same canonical value: echoes compare equal.
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let md = canonical(random_spans(&mut rng));
        assert_eq!(canonical(parse(&format!("{md}\n"))), md);
    }
}

#[test]
fn plain_text_round_trips_through_escape() {
    let mut rng = Rng(7);
    for _ in 0..20_000 {
        let text: String = random_spans(&mut rng).into_iter().map(|s| s.text).collect();
        let text = text.trim_end_matches('\n');
        assert_eq!(plain(&escape(text)), text, "escaped: {:?}", escape(text));
    }
}

#[test]
fn an_exclamation_mark_before_a_link_is_not_an_image() {
    let spans = vec![
        span("wow!", Annotations::default(), None),
        span("docs", Annotations::default(), Some("https://x.test")),
    ];
    let md = canonical(spans.clone());
    assert_eq!(md, "wow\\![docs](https://x.test)");
    assert_eq!(parse(&md), spans);
    assert_eq!(escape("wow!"), "wow!");
}
