//! Airtable rich text (a Markdown dialect) ↔ formatted [`Span`]s.
//!
//! Only the inline formats Notion's rich-text annotations can hold are
//! parsed: `**bold**`/`__bold__`, `*italic*`/`_italic_`, `~~strike~~`,
//! `` `code` `` and `[links](url)`, with backslash escapes. Block syntax
//! (headings, lists, quotes, checkboxes) stays in the text as typed, so it
//! survives a round trip through Notion unchanged.
//!
//! The canonical form of formatted text is [`canonical`]: spans in a
//! normal form (see [`normalize`]) rendered by [`render`], and always a
//! fixed point (parsing and rendering it again gives it back), which is what
//! makes an echo of our own write compare equal. Rendering is chosen so
//! that parsing gives the same spans back; the emphasis rules follow
//! CommonMark's delimiter algorithm (closers match the nearest opener, two
//! characters at a time when both runs have two, the "rule of 3").

use crate::notion::rich_text::{Annotations, Span};

// ---------------------------------------------------------------- reading

/// The spans of Airtable Markdown, normalised.
pub fn parse(markdown: &str) -> Vec<Span> {
    let chars: Vec<char> = markdown.chars().collect();
    let nodes = parse_inline(&chars);
    normalize(flatten(nodes))
}

/// The plain text of Airtable Markdown: formatting and escapes removed.
pub fn plain(markdown: &str) -> String {
    parse(markdown).into_iter().map(|s| s.text).collect()
}

#[derive(Debug, Clone)]
enum Node {
    Text {
        text: String,
        annotations: Annotations,
        link: Option<String>,
    },
    Delim {
        ch: char,
        /// Characters left to match; `run` is the run's original length.
        count: usize,
        run: usize,
        open: bool,
        close: bool,
        annotations: Annotations,
    },
}

fn text_node(text: String, annotations: Annotations) -> Node {
    Node::Text {
        text,
        annotations,
        link: None,
    }
}

/// Inline Markdown into nodes, emphasis resolved; unmatched delimiters
/// become text.
fn parse_inline(chars: &[char]) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut buf = String::new();
    let mut i = 0;
    let flush = |buf: &mut String, nodes: &mut Vec<Node>| {
        if !buf.is_empty() {
            nodes.push(text_node(std::mem::take(buf), Annotations::default()));
        }
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if chars.get(i + 1).is_some_and(char::is_ascii_punctuation) => {
                buf.push(chars[i + 1]);
                i += 2;
            }
            '`' => {
                let run = run_length(chars, i);
                match code_span(chars, i, run) {
                    Some((content, end)) => {
                        flush(&mut buf, &mut nodes);
                        let code = Annotations {
                            code: true,
                            ..Annotations::default()
                        };
                        nodes.push(text_node(content, code));
                        i = end;
                    }
                    None => {
                        buf.extend(&chars[i..i + run]);
                        i += run;
                    }
                }
            }
            '*' | '_' | '~' => {
                flush(&mut buf, &mut nodes);
                let run = run_length(chars, i);
                nodes.push(delimiter(chars, i, run));
                i += run;
            }
            '[' => match link(chars, i) {
                Some((inner, url, end)) => {
                    flush(&mut buf, &mut nodes);
                    nodes.extend(parse_inline(inner).into_iter().map(|n| with_link(n, &url)));
                    i = end;
                }
                None => {
                    buf.push('[');
                    i += 1;
                }
            },
            _ => {
                buf.push(c);
                i += 1;
            }
        }
    }
    flush(&mut buf, &mut nodes);
    resolve_emphasis(&mut nodes);
    nodes
}

fn run_length(chars: &[char], at: usize) -> usize {
    chars[at..].iter().take_while(|&&c| c == chars[at]).count()
}

/// A code span opened by `run` backticks at `at`: its content and the index
/// after its closing run, or `None` when no run of the same length closes it.
fn code_span(chars: &[char], at: usize, run: usize) -> Option<(String, usize)> {
    let mut j = at + run;
    while j < chars.len() {
        if chars[j] != '`' {
            j += 1;
            continue;
        }
        let len = run_length(chars, j);
        if len == run {
            let content: String = chars[at + run..j].iter().collect();
            return Some((strip_code_padding(content), j + len));
        }
        j += len;
    }
    None
}

/// One space each side is padding when both are there and the content is
/// not only spaces (so a code span may start or end with a backtick).
fn strip_code_padding(content: String) -> String {
    let padded = content.len() >= 2
        && content.starts_with(' ')
        && content.ends_with(' ')
        && content.chars().any(|c| c != ' ');
    if padded {
        content[1..content.len() - 1].to_owned()
    } else {
        content
    }
}

/// A delimiter run with whether it may open or close emphasis. Runs are
/// judged by their neighbours (the start and end of the text count as
/// whitespace): a run opens when followed by non-whitespace and closes when
/// preceded by it; `_` never opens or closes inside a word; `~` only pairs
/// as `~~`.
fn delimiter(chars: &[char], at: usize, run: usize) -> Node {
    let ch = chars[at];
    let prev = at.checked_sub(1).map(|p| chars[p]);
    let next = chars.get(at + run).copied();
    let blank = |c: Option<char>| c.is_none_or(char::is_whitespace);
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let (mut open, mut close) = (!blank(next), !blank(prev));
    if ch == '_' {
        open &= !word(prev);
        close &= !word(next);
    }
    if ch == '~' && run % 2 != 0 {
        (open, close) = (false, false);
    }
    Node::Delim {
        ch,
        count: run,
        run,
        open,
        close,
        annotations: Annotations::default(),
    }
}

fn with_link(node: Node, url: &str) -> Node {
    match node {
        Node::Text {
            text,
            annotations,
            link,
        } => Node::Text {
            text,
            annotations,
            link: link.or_else(|| Some(url.to_owned())),
        },
        delim => delim,
    }
}

/// `[text](destination "optional title")` at `at`: the text's chars, the
/// destination and the index after the closing parenthesis.
fn link(chars: &[char], at: usize) -> Option<(&[char], String, usize)> {
    let close = matching_bracket(chars, at)?;
    if chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let mut i = skip_blank(chars, close + 2);
    let (url, after) = destination(chars, i)?;
    i = skip_blank(chars, after);
    if matches!(chars.get(i), Some('"' | '\'' | '(')) {
        i = skip_blank(chars, title_end(chars, i)?);
    }
    if chars.get(i) != Some(&')') || url.is_empty() {
        return None;
    }
    Some((&chars[at + 1..close], url, i + 1))
}

/// The `]` closing the `[` at `at`, skipping escapes, code spans and nested
/// bracket pairs.
fn matching_bracket(chars: &[char], at: usize) -> Option<usize> {
    let mut depth = 0;
    let mut i = at;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '`' => {
                let run = run_length(chars, i);
                i = code_span(chars, i, run).map_or(i + run, |(_, end)| end);
                continue;
            }
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn skip_blank(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| *c == ' ' || *c == '\t') {
        i += 1;
    }
    i
}

/// A link destination, `<...>` or bare with balanced parentheses.
fn destination(chars: &[char], at: usize) -> Option<(String, usize)> {
    let mut url = String::new();
    let mut i = at;
    if chars.get(at) == Some(&'<') {
        i += 1;
        loop {
            match chars.get(i)? {
                '>' => return Some((url, i + 1)),
                '\n' | '<' => return None,
                '\\' if chars.get(i + 1).is_some_and(char::is_ascii_punctuation) => {
                    url.push(chars[i + 1]);
                    i += 2;
                }
                c => {
                    url.push(*c);
                    i += 1;
                }
            }
        }
    }
    let mut depth = 0usize;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' if chars.get(i + 1).is_some_and(char::is_ascii_punctuation) => {
                url.push(chars[i + 1]);
                i += 2;
                continue;
            }
            c if c.is_whitespace() || c.is_control() => break,
            '(' => depth += 1,
            ')' if depth == 0 => break,
            ')' => depth -= 1,
            _ => {}
        }
        url.push(c);
        i += 1;
    }
    Some((url, i))
}

/// The index after a link title opened at `at`.
fn title_end(chars: &[char], at: usize) -> Option<usize> {
    let close = match chars[at] {
        '(' => ')',
        q => q,
    };
    let mut i = at + 1;
    while let Some(&c) = chars.get(i) {
        match c {
            '\\' => i += 2,
            c if c == close => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// CommonMark's "process emphasis": each closer matches the nearest opener
/// of its character; two characters are used when both runs have two
/// (bold), otherwise one (italic); `~~` is strikethrough. Delimiters between
/// a matched pair can no longer match. Left-over characters become text.
fn resolve_emphasis(nodes: &mut [Node]) {
    // For each kind of closer, the index below which no opener is left.
    let mut bottom = [0usize; 18];
    let mut i = 0;
    while i < nodes.len() {
        let Node::Delim {
            ch,
            count,
            run,
            open,
            close: true,
            ..
        } = nodes[i]
        else {
            i += 1;
            continue;
        };
        if count == 0 {
            i += 1;
            continue;
        }
        let slot = match ch {
            '*' => 0,
            '_' => 6,
            _ => 12,
        } + usize::from(open) * 3
            + run % 3;
        let Some(j) = opener(nodes, i, bottom[slot]) else {
            bottom[slot] = i;
            i += 1;
            continue;
        };
        let opener_count = delim_count(&nodes[j]);
        let used = if ch == '~' || (count >= 2 && opener_count >= 2) {
            2
        } else {
            1
        };
        for node in &mut nodes[j + 1..i] {
            apply(node, ch, used);
        }
        set_count(&mut nodes[j], opener_count - used);
        set_count(&mut nodes[i], count - used);
        if count == used {
            i += 1;
        }
    }
    for node in nodes.iter_mut() {
        if let Node::Delim {
            ch,
            count,
            annotations,
            ..
        } = node
        {
            *node = text_node(ch.to_string().repeat(*count), *annotations);
        }
    }
}

/// The nearest opener for the closer at `closer`, above `bottom`. CommonMark's
/// "rule of 3": when either run can both open and close, runs whose lengths
/// add up to a multiple of 3 do not match unless both are multiples of 3
/// (so in `*a**b**` the `**` after `a` opens bold instead of closing `*`).
fn opener(nodes: &[Node], closer: usize, bottom: usize) -> Option<usize> {
    let Node::Delim {
        ch,
        run,
        open: closer_opens,
        ..
    } = nodes[closer]
    else {
        return None;
    };
    (bottom..closer).rev().find(|&j| match nodes[j] {
        Node::Delim {
            ch: c,
            count,
            run: opener_run,
            open: true,
            close: opener_closes,
            ..
        } if c == ch && count > 0 => {
            let both = closer_opens || opener_closes;
            let sum = run + opener_run;
            !(both && sum % 3 == 0 && !(run % 3 == 0 && opener_run % 3 == 0))
        }
        _ => false,
    })
}

fn delim_count(node: &Node) -> usize {
    match node {
        Node::Delim { count, .. } => *count,
        Node::Text { .. } => 0,
    }
}

fn set_count(node: &mut Node, new: usize) {
    if let Node::Delim { count, .. } = node {
        *count = new;
    }
}

/// Format a node inside a matched pair; a delimiter there is spent.
fn apply(node: &mut Node, ch: char, used: usize) {
    let annotations = match node {
        Node::Text { annotations, .. } => annotations,
        Node::Delim {
            open,
            close,
            annotations,
            ..
        } => {
            (*open, *close) = (false, false);
            annotations
        }
    };
    match (ch, used) {
        ('~', _) => annotations.strikethrough = true,
        (_, 2) => annotations.bold = true,
        _ => annotations.italic = true,
    }
}

fn flatten(nodes: Vec<Node>) -> Vec<Span> {
    nodes
        .into_iter()
        .filter_map(|node| match node {
            Node::Text {
                text,
                annotations,
                link,
            } => Some(Span {
                text,
                annotations,
                link,
            }),
            Node::Delim { .. } => None,
        })
        .collect()
}

// ---------------------------------------------------------------- normal form

/// The normal form both sides are compared in:
/// - no empty spans or empty links, adjacent spans with the same format merged;
/// - a line break is never formatted (Airtable formats line by line);
/// - bold, italic and strikethrough never start or end with whitespace
///   (Markdown cannot express it, and it cannot be seen);
/// - trailing line breaks are dropped (Airtable always adds one).
pub fn normalize(spans: Vec<Span>) -> Vec<Span> {
    // Merge first: whitespace inside a run of equal spans is not at an edge.
    let mut merged: Vec<Span> = Vec::new();
    for mut span in spans {
        if span.link.as_deref() == Some("") {
            span.link = None;
        }
        push_merged(&mut merged, span);
    }
    let mut out: Vec<Span> = Vec::new();
    for span in merged {
        for piece in split_lines(span) {
            for piece in trim_emphasis(piece) {
                push_merged(&mut out, piece);
            }
        }
    }
    trim_trailing_newlines(&mut out);
    out
}

/// Pieces of `span` with every `\n` in an unformatted piece of its own.
fn split_lines(span: Span) -> Vec<Span> {
    if span.annotations.is_plain() || !span.text.contains('\n') {
        return vec![span];
    }
    let mut pieces = Vec::new();
    for (k, line) in span.text.split('\n').enumerate() {
        if k > 0 {
            pieces.push(Span {
                text: "\n".into(),
                annotations: Annotations::default(),
                link: span.link.clone(),
            });
        }
        pieces.push(Span {
            text: line.to_owned(),
            ..span.clone()
        });
    }
    pieces
}

/// Leading and trailing whitespace of a bold/italic/strikethrough span
/// moved into unformatted pieces (code keeps its spaces).
fn trim_emphasis(span: Span) -> Vec<Span> {
    let a = span.annotations;
    if a.code || !(a.bold || a.italic || a.strikethrough) {
        return vec![span];
    }
    let core = span.text.trim();
    let start = span.text.len() - span.text.trim_start().len();
    let end = start + core.len();
    let blank = |text: &str| Span {
        text: text.to_owned(),
        annotations: Annotations::default(),
        link: span.link.clone(),
    };
    vec![
        blank(&span.text[..start]),
        Span {
            text: core.to_owned(),
            ..span.clone()
        },
        blank(&span.text[end..]),
    ]
}

fn push_merged(out: &mut Vec<Span>, span: Span) {
    if span.text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(last) if last.annotations == span.annotations && last.link == span.link => {
            last.text.push_str(&span.text);
        }
        _ => out.push(span),
    }
}

fn trim_trailing_newlines(spans: &mut Vec<Span>) {
    while let Some(last) = spans.last_mut() {
        let kept = last.text.trim_end_matches('\n').len();
        if kept > 0 {
            last.text.truncate(kept);
            return;
        }
        spans.pop();
    }
}

// ---------------------------------------------------------------- writing

/// The canonical Markdown of formatted text: Markdown that parses back to
/// exactly the spans it renders, so a value read from either side, written
/// to the other and read back is unchanged.
///
/// Markdown cannot express every mix of overlapping emphasis (CommonMark's
/// delimiter rules read a few run sequences differently); for those the
/// rendering is parsed and rendered again until it is stable, which keeps
/// all the text and nearly all of the formatting. Plain text is always
/// stable, so the loop has a sure end.
pub fn canonical(spans: Vec<Span>) -> String {
    let spans = normalize(spans);
    let text = |s: &[Span]| s.iter().map(|s| s.text.len()).sum::<usize>();
    let mut markdown = render(&spans);
    for _ in 0..4 {
        let parsed = parse(&markdown);
        // Left-over delimiters would add characters: never change the text.
        if text(&parsed) != text(&spans) {
            break;
        }
        let again = render(&parsed);
        if again == markdown {
            return markdown;
        }
        markdown = again;
    }
    plain_fallback(&spans)
}

/// The text without formatting, for the rare mix that does not settle.
fn plain_fallback(spans: &[Span]) -> String {
    let text: String = spans.iter().map(|s| s.text.as_str()).collect();
    escape(&text)
}

/// Plain text as Markdown that reads back as exactly that text.
pub fn escape(text: &str) -> String {
    let mut out = String::new();
    push_text(&mut out, text, false);
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Bold,
    Italic,
    Strike,
}

impl Style {
    const ALL: [Style; 3] = [Style::Strike, Style::Bold, Style::Italic];

    fn delimiter(self) -> &'static str {
        match self {
            Style::Bold => "**",
            Style::Italic => "*",
            Style::Strike => "~~",
        }
    }

    fn on(self, a: &Annotations) -> bool {
        match self {
            Style::Bold => a.bold,
            Style::Italic => a.italic,
            Style::Strike => a.strikethrough,
        }
    }

    fn off(self, a: &mut Annotations) {
        match self {
            Style::Bold => a.bold = false,
            Style::Italic => a.italic = false,
            Style::Strike => a.strikethrough = false,
        }
    }
}

/// A piece of output with one emphasis: a span's text, or a link whose
/// emphasis is what all its spans share (the rest goes inside the brackets).
struct Segment<'a> {
    emphasis: Annotations,
    body: Body<'a>,
}

enum Body<'a> {
    Text(&'a Span),
    Link(&'a str, Vec<Span>),
}

/// Markdown for normalised spans.
pub fn render(spans: &[Span]) -> String {
    let mut out = String::new();
    let mut italics = Vec::new();
    render_segments(&mut out, &segments(spans), false, &mut italics);
    fit_italics(&mut out, &italics);
    out
}

fn segments(spans: &[Span]) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < spans.len() {
        let Some(url) = spans[i].link.as_deref() else {
            out.push(Segment {
                emphasis: emphasis_of(&spans[i].annotations),
                body: Body::Text(&spans[i]),
            });
            i += 1;
            continue;
        };
        let end = i + spans[i..]
            .iter()
            .take_while(|s| s.link.as_deref() == Some(url))
            .count();
        let group = &spans[i..end];
        let shared = shared_emphasis(group);
        let inner = group
            .iter()
            .map(|s| {
                let mut a = s.annotations;
                for style in Style::ALL.into_iter().filter(|st| st.on(&shared)) {
                    style.off(&mut a);
                }
                Span {
                    text: s.text.clone(),
                    annotations: a,
                    link: None,
                }
            })
            .collect();
        out.push(Segment {
            emphasis: shared,
            body: Body::Link(url, inner),
        });
        i = end;
    }
    out
}

fn emphasis_of(a: &Annotations) -> Annotations {
    Annotations { code: false, ..*a }
}

fn shared_emphasis(group: &[Span]) -> Annotations {
    let all = |style: Style| group.iter().all(|s| style.on(&s.annotations));
    Annotations {
        bold: all(Style::Bold),
        italic: all(Style::Italic),
        strikethrough: all(Style::Strike),
        code: false,
    }
}

/// Open and close emphasis as it changes from segment to segment. A style
/// that must end while a newer one is open closes that one too, which
/// reopens after; styles that last longest are opened first to make that
/// rare. Italic delimiters are written as `_` and their byte offsets
/// recorded in `italics` (see [`fit_italics`]).
fn render_segments(
    out: &mut String,
    segments: &[Segment<'_>],
    in_link: bool,
    italics: &mut Vec<(usize, usize)>,
) {
    // Open styles, innermost last, with where an italic opened.
    let mut open: Vec<(Style, usize)> = Vec::new();
    let close =
        |out: &mut String, italics: &mut Vec<(usize, usize)>, (style, at): (Style, usize)| {
            if style == Style::Italic {
                italics.push((at, out.len()));
                out.push('_');
            } else {
                out.push_str(style.delimiter());
            }
        };
    for (k, segment) in segments.iter().enumerate() {
        let want = &segment.emphasis;
        if let Some(pos) = open.iter().position(|(s, _)| !s.on(want)) {
            for entry in open.drain(pos..).rev() {
                close(out, italics, entry);
            }
        }
        let mut starting: Vec<Style> = Style::ALL
            .into_iter()
            .filter(|s| s.on(want) && !open.iter().any(|(o, _)| o == s))
            .collect();
        starting.sort_by_key(|s| std::cmp::Reverse(lasts(segments, k, *s)));
        for style in starting {
            open.push((style, out.len()));
            out.push_str(match style {
                Style::Italic => "_",
                other => other.delimiter(),
            });
        }
        // `!` right before a link would make it an image.
        let before_link = matches!(
            segments.get(k + 1),
            Some(Segment { emphasis, body: Body::Link(..) }) if emphasis == want
        );
        render_body(out, &segment.body, in_link, before_link, italics);
    }
    for entry in open.into_iter().rev() {
        close(out, italics, entry);
    }
}

/// Italic is `*x*` (as Airtable writes it), except next to another `*`,
/// where `_x_` keeps it from merging with bold's `**` into one ambiguous
/// run; `_` cannot open after a letter or close before one, so inside a
/// word it stays `*`.
fn fit_italics(out: &mut String, italics: &[(usize, usize)]) {
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let mut bytes = std::mem::take(out).into_bytes();
    for &(open, close) in italics {
        let before = std::str::from_utf8(&bytes[..open])
            .ok()
            .and_then(|s| s.chars().next_back());
        let after = std::str::from_utf8(&bytes[close + 1..])
            .ok()
            .and_then(|s| s.chars().next());
        let star = |c: Option<char>| matches!(c, Some('*' | '_'));
        if word(before) || word(after) || !(star(before) || star(after)) {
            bytes[open] = b'*';
            bytes[close] = b'*';
        }
    }
    *out = String::from_utf8(bytes).expect("ASCII replaced by ASCII");
}

/// How many segments from `from` on keep `style`.
fn lasts(segments: &[Segment<'_>], from: usize, style: Style) -> usize {
    segments[from..]
        .iter()
        .take_while(|s| style.on(&s.emphasis))
        .count()
}

fn render_body(
    out: &mut String,
    body: &Body<'_>,
    in_link: bool,
    before_link: bool,
    italics: &mut Vec<(usize, usize)>,
) {
    match body {
        Body::Text(span) if span.annotations.code => push_code(out, &span.text),
        Body::Text(span) => {
            push_text(out, &span.text, in_link);
            if before_link && out.ends_with('!') {
                out.insert(out.len() - 1, '\\');
            }
        }
        Body::Link(url, inner) => {
            // Emphasis inside the brackets is opened and closed there.
            out.push('[');
            render_segments(out, &segments(inner), true, italics);
            out.push_str("](");
            push_destination(out, url);
            out.push(')');
        }
    }
}

/// Text with every character that could be read as Markdown escaped. A
/// `*`, `_` or `~` between whitespace cannot open or close anything and is
/// left as typed (so `2 * 3` stays readable).
fn push_text(out: &mut String, text: &str, in_link: bool) {
    let chars: Vec<char> = text.chars().collect();
    for (k, &c) in chars.iter().enumerate() {
        let next = chars.get(k + 1).copied();
        let prev = out.chars().next_back();
        let blank = |c: Option<char>| c.is_none_or(char::is_whitespace);
        let escape = match c {
            '\\' | '`' => true,
            '*' | '_' | '~' => !(blank(prev) && next.is_some_and(char::is_whitespace)),
            '[' | ']' if in_link => true,
            ']' => next == Some('('),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
}

/// A code span fenced by more backticks than any run inside it.
fn push_code(out: &mut String, content: &str) {
    let longest = content.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = content.starts_with('`')
        || content.ends_with('`')
        || (content.starts_with(' ')
            && content.ends_with(' ')
            && content.chars().any(|c| c != ' '));
    let pad = if pad { " " } else { "" };
    out.push_str(&fence);
    out.push_str(pad);
    out.push_str(content);
    out.push_str(pad);
    out.push_str(&fence);
}

/// A bare destination when it reads back unchanged, else `<...>`.
fn push_destination(out: &mut String, url: &str) {
    let mut depth = 0i64;
    let balanced = url.chars().all(|c| {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        depth >= 0
    }) && depth == 0;
    let bare = balanced
        && !url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '\\'));
    if bare {
        out.push_str(url);
        return;
    }
    out.push('<');
    for c in url.chars() {
        if matches!(c, '<' | '>' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('>');
}

#[cfg(test)]
#[path = "markdown_tests.rs"]
mod tests;
