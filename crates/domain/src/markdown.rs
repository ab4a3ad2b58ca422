//! Markdown to HTML that is safe to put in a page: the only way text that
//! people write becomes markup.
//!
//! Two independent layers keep it safe, so a mistake in one is caught by
//! the other:
//!
//! 1. While walking pulldown-cmark's events, raw HTML in the input becomes
//!    plain text (people see what they typed, nothing runs), and links and
//!    images whose URL has a scheme we do not allow lose the link and keep
//!    their text.
//! 2. The HTML that comes out is cleaned by an ammonia allowlist: only the
//!    tags markdown itself produces, only the attributes they need, only
//!    http, https and mailto URLs.
//!
//! Text outside code and links goes through a text pass that turns bare
//! `http(s)://` URLs into links and then calls an optional hook, which is
//! where @mentions and #topics will become links.
//!
//! [`plain_text`] reads the same markdown the same way for where no
//! markup goes: mail, search, feeds and short labels.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd};

/// Markdown (CommonMark plus tables, strikethrough, task lists and bare
/// URL autolinks) to HTML that is safe to put in a page.
pub fn render(input: &str) -> String {
    Renderer::new().render(input)
}

/// The markdown extensions people may use, in pages and in plain text.
const OPTIONS: Options = Options::ENABLE_TABLES
    .union(Options::ENABLE_STRIKETHROUGH)
    .union(Options::ENABLE_TASKLISTS);

/// Markdown as plain text, for mail, search, feeds and short labels: the
/// words a page shows, with no markup characters. A link keeps its text,
/// followed by its URL in parentheses where the two differ (and where a
/// page would show it as a link); an image keeps its description; code
/// stays as written; each list item, table row and line break starts a
/// line, and blocks are separated by a blank line. Raw HTML stays as the
/// text it is, as a page shows it.
///
/// ```
/// let text = domain::markdown::plain_text("# Notes\n\n- see [the *plan*](https://x.org/p)\n- `a < b`");
/// assert_eq!(text, "Notes\n\nsee the plan (https://x.org/p)\na < b");
/// ```
pub fn plain_text(input: &str) -> String {
    plain_text_with(input, true)
}

/// [`plain_text`], with or without the URLs after link texts.
fn plain_text_with(input: &str, link_urls: bool) -> String {
    let mut text = PlainText::default();
    // For each open link: its URL if the text is to be followed by it,
    // and where its text starts.
    let mut links: Vec<(Option<CowStr<'_>>, usize)> = Vec::new();
    let mut in_list = 0usize;
    let mut cells = 0usize;
    for event in Parser::new_ext(input, OPTIONS) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                text.push(&t);
            }
            Event::InlineMath(t) | Event::DisplayMath(t) | Event::FootnoteReference(t) => {
                text.push(&t);
            }
            Event::SoftBreak | Event::HardBreak => text.push("\n"),
            Event::Rule => text.block("\n\n"),
            Event::TaskListMarker(_) => {}
            Event::Start(tag) => match tag {
                Tag::Item | Tag::TableHead | Tag::TableRow => {
                    cells = 0;
                    text.block("\n");
                }
                Tag::List(_) => {
                    text.block(if in_list > 0 { "\n" } else { "\n\n" });
                    in_list += 1;
                }
                Tag::TableCell => {
                    if cells > 0 {
                        text.push("\t");
                    }
                    cells += 1;
                }
                Tag::Link {
                    link_type,
                    dest_url,
                    ..
                } => {
                    text.flush();
                    let shown =
                        link_urls && link_type != LinkType::Email && link_url_allowed(&dest_url);
                    links.push((shown.then_some(dest_url), text.out.len()));
                }
                Tag::Paragraph
                | Tag::Heading { .. }
                | Tag::BlockQuote(_)
                | Tag::CodeBlock(_)
                | Tag::HtmlBlock
                | Tag::Table(_)
                | Tag::FootnoteDefinition(_)
                | Tag::DefinitionList
                | Tag::DefinitionListTitle
                | Tag::DefinitionListDefinition
                | Tag::MetadataBlock(_) => text.block(if in_list > 0 { "\n" } else { "\n\n" }),
                Tag::Emphasis
                | Tag::Strong
                | Tag::Strikethrough
                | Tag::Superscript
                | Tag::Subscript
                | Tag::Image { .. } => {}
            },
            Event::End(TagEnd::List(_)) => in_list = in_list.saturating_sub(1),
            Event::End(TagEnd::Link) => {
                if let Some((Some(url), start)) = links.pop()
                    && text.out[start..] != *url
                {
                    text.push(&format!(" ({url})"));
                }
            }
            Event::End(_) => {}
        }
    }
    text.out.truncate(text.out.trim_end().len());
    text.out
}

/// Plain text being written: block separators wait until the next text,
/// so that no block leaves separators before the first text or after the
/// last.
#[derive(Default)]
struct PlainText {
    out: String,
    separator: &'static str,
}

impl PlainText {
    fn push(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        self.flush();
        self.out.push_str(s);
    }

    /// Starts a block: at least `separator` before the next text.
    fn block(&mut self, separator: &'static str) {
        if !self.out.is_empty() && separator.len() > self.separator.len() {
            self.separator = separator;
        }
    }

    fn flush(&mut self) {
        if !self.separator.is_empty() {
            // A code block's text and raw HTML end with a line break of
            // their own.
            self.out.truncate(self.out.trim_end_matches('\n').len());
            self.out.push_str(self.separator);
            self.separator = "";
        }
    }
}

/// A piece of text after the text pass: left as text, or made a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    /// `href` gets the same URL checks as a link written in markdown.
    Link {
        href: String,
        text: String,
    },
}

/// Turns a run of plain text into segments; see
/// [`Renderer::with_text_hook`].
pub type TextHook<'h> = dyn Fn(&str) -> Vec<Segment> + 'h;

/// Renders markdown with settings; [`render`] uses the defaults.
///
/// ```
/// use domain::markdown::{Renderer, Segment};
///
/// // How @mentions will plug in: the hook sees plain text runs only.
/// let hook = |text: &str| match text.split_once("@ana") {
///     Some((before, after)) => vec![
///         Segment::Text(before.to_owned()),
///         Segment::Link { href: "/@ana".to_owned(), text: "@ana".to_owned() },
///         Segment::Text(after.to_owned()),
///     ],
///     None => vec![Segment::Text(text.to_owned())],
/// };
/// let html = Renderer::new().with_text_hook(&hook).render("hi @ana");
/// assert_eq!(html, "<p>hi <a href=\"/@ana\" rel=\"noopener noreferrer nofollow\">@ana</a></p>\n");
/// ```
pub struct Renderer<'h> {
    heading_shift: u8,
    autolink: bool,
    text_hook: Option<&'h TextHook<'h>>,
}

impl Default for Renderer<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'h> Renderer<'h> {
    pub fn new() -> Self {
        Self {
            heading_shift: 2,
            autolink: true,
            text_hook: None,
        }
    }

    /// How many levels to move headings down (default 2: `# Title` renders
    /// as `<h3>`), so a post's headings sit below the page's own `<h1>`
    /// and the item's `<h2>` title. Levels stop at `<h6>`.
    pub fn heading_shift(mut self, levels: u8) -> Self {
        self.heading_shift = levels;
        self
    }

    /// Whether bare `http://` and `https://` URLs in text become links
    /// (default on).
    pub fn autolink(mut self, on: bool) -> Self {
        self.autolink = on;
        self
    }

    /// Called with each run of plain text outside code, links and image
    /// descriptions, after bare URLs were linked. Whatever it returns is
    /// still escaped and sanitised, so a hook cannot make output unsafe.
    pub fn with_text_hook(mut self, hook: &'h TextHook<'h>) -> Self {
        self.text_hook = Some(hook);
        self
    }

    pub fn render(&self, input: &str) -> String {
        let events = self.transform(Parser::new_ext(input, OPTIONS));
        let mut html = String::with_capacity(input.len() * 3 / 2);
        pulldown_cmark::html::push_html(&mut html, events.into_iter());
        SANITIZER.clean(&html).to_string()
    }

    fn transform<'a>(&self, parser: Parser<'a>) -> Vec<Event<'a>> {
        let mut out: Vec<Event<'a>> = Vec::new();
        // Adjacent text events are joined before the text pass, because
        // pulldown-cmark splits text at characters that might have started
        // markup, which would cut URLs and mentions in two.
        let mut pending = String::new();
        // For each open link or image: whether it was kept. Ends must match
        // their starts, and text inside a kept link is not linked again.
        let mut links: Vec<bool> = Vec::new();
        let mut images: Vec<bool> = Vec::new();
        let mut in_code_block = false;

        for event in parser {
            let plain_text_context =
                !in_code_block && !links.iter().any(|kept| *kept) && images.is_empty();
            match event {
                Event::Text(text) if plain_text_context => {
                    pending.push_str(&text);
                    continue;
                }
                _ => self.flush(&mut pending, &mut out),
            }
            match event {
                Event::Start(Tag::Heading { level, .. }) => {
                    // Heading ids, classes and attributes are an extension
                    // we do not enable; dropping them is belt and braces.
                    out.push(Event::Start(Tag::Heading {
                        level: self.shift(level),
                        id: None,
                        classes: Vec::new(),
                        attrs: Vec::new(),
                    }));
                }
                Event::End(TagEnd::Heading(level)) => {
                    out.push(Event::End(TagEnd::Heading(self.shift(level))));
                }
                Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }) => {
                    // Email autolinks come without their scheme; the HTML
                    // writer adds `mailto:`.
                    let kept = link_type == LinkType::Email || link_url_allowed(&dest_url);
                    links.push(kept);
                    if kept {
                        out.push(Event::Start(Tag::Link {
                            link_type,
                            dest_url,
                            title,
                            id,
                        }));
                    }
                }
                Event::End(TagEnd::Link) => {
                    if links.pop().unwrap_or(false) {
                        out.push(Event::End(TagEnd::Link));
                    }
                }
                Event::Start(Tag::Image {
                    link_type,
                    dest_url,
                    title,
                    id,
                }) => {
                    // An image we refuse shows its description instead.
                    let kept = image_url_allowed(&dest_url);
                    images.push(kept);
                    if kept {
                        out.push(Event::Start(Tag::Image {
                            link_type,
                            dest_url,
                            title,
                            id,
                        }));
                    }
                }
                Event::End(TagEnd::Image) => {
                    if images.pop().unwrap_or(false) {
                        out.push(Event::End(TagEnd::Image));
                    }
                }
                Event::Start(Tag::CodeBlock(kind)) => {
                    in_code_block = true;
                    out.push(Event::Start(Tag::CodeBlock(kind)));
                }
                Event::End(TagEnd::CodeBlock) => {
                    in_code_block = false;
                    out.push(Event::End(TagEnd::CodeBlock));
                }
                // Raw HTML is shown as the text it is. A block of it gets a
                // paragraph of its own, as it would have had as markup.
                Event::Start(Tag::HtmlBlock) => out.push(Event::Start(Tag::Paragraph)),
                Event::End(TagEnd::HtmlBlock) => {
                    if let Some(Event::Text(last)) = out.last_mut() {
                        let trimmed = last.trim_end();
                        if trimmed.len() != last.len() {
                            *last = CowStr::from(trimmed.to_owned());
                        }
                    }
                    out.push(Event::End(TagEnd::Paragraph));
                }
                Event::Html(html) | Event::InlineHtml(html) => out.push(Event::Text(html)),
                // Only produced by extensions we do not enable; if one ever
                // is, its source is shown rather than interpreted.
                Event::InlineMath(text)
                | Event::DisplayMath(text)
                | Event::FootnoteReference(text) => out.push(Event::Text(text)),
                other => out.push(other),
            }
        }
        self.flush(&mut pending, &mut out);
        out
    }

    fn shift(&self, level: HeadingLevel) -> HeadingLevel {
        let shifted = (level as usize).saturating_add(usize::from(self.heading_shift));
        HeadingLevel::try_from(shifted.min(6)).unwrap_or(HeadingLevel::H6)
    }

    /// Runs the text pass over the joined text and emits its events.
    fn flush<'a>(&self, pending: &mut String, out: &mut Vec<Event<'a>>) {
        if pending.is_empty() {
            return;
        }
        let text = std::mem::take(pending);
        let linked = if self.autolink {
            autolink(&text)
        } else {
            vec![Segment::Text(text)]
        };
        for segment in linked {
            match (segment, self.text_hook) {
                (Segment::Text(text), Some(hook)) => {
                    for hooked in hook(&text) {
                        push_segment(hooked, out);
                    }
                }
                (segment, _) => push_segment(segment, out),
            }
        }
    }
}

fn push_segment<'a>(segment: Segment, out: &mut Vec<Event<'a>>) {
    match segment {
        Segment::Text(text) if text.is_empty() => {}
        Segment::Text(text) => out.push(Event::Text(text.into())),
        Segment::Link { href, text } if link_url_allowed(&href) => {
            out.push(Event::Start(Tag::Link {
                link_type: LinkType::Inline,
                dest_url: href.into(),
                title: CowStr::Borrowed(""),
                id: CowStr::Borrowed(""),
            }));
            out.push(Event::Text(text.into()));
            out.push(Event::End(TagEnd::Link));
        }
        Segment::Link { text, .. } => out.push(Event::Text(text.into())),
    }
}

const LINK_SCHEMES: &[&str] = &["http", "https", "mailto"];
const IMAGE_SCHEMES: &[&str] = &["http", "https"];

/// Links may be absolute with an allowed scheme, or relative (to other
/// pages of this network).
fn link_url_allowed(url: &str) -> bool {
    match url_scheme(url) {
        Some(scheme) => LINK_SCHEMES.contains(&scheme.as_str()),
        None => true,
    }
}

/// Images must name their scheme: an image is fetched the moment a page
/// shows it, so only plain web addresses qualify.
fn image_url_allowed(url: &str) -> bool {
    url_scheme(url).is_some_and(|scheme| IMAGE_SCHEMES.contains(&scheme.as_str()))
}

/// The scheme a browser would see in `url`, lowercased, or `None` for a
/// relative URL. Browsers skip leading spaces and control characters and
/// drop tabs and line breaks anywhere, so `jav\tascript:` is still
/// `javascript:`; we read the URL the same way.
fn url_scheme(url: &str) -> Option<String> {
    let cleaned: String = url
        .trim_start_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let end = cleaned.find([':', '/', '?', '#'])?;
    // Anything before a colon counts as a scheme, even if it would not be a
    // valid one: refusing `a b:c` costs nothing, guessing wrong could.
    (cleaned.as_bytes()[end] == b':').then(|| cleaned[..end].to_ascii_lowercase())
}

/// Splits text into plain text and links for the bare `http(s)://` URLs in
/// it, trimming trailing punctuation the way GitHub does so that "see
/// https://example.com." does not link the full stop.
fn autolink(text: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut rest_start = 0;
    let mut search_from = 0;
    let lower = text.to_ascii_lowercase();
    while let Some(found) = lower[search_from..].find("http") {
        let start = search_from + found;
        search_from = start + 4;
        let after_scheme = if lower[start..].starts_with("https://") {
            start + 8
        } else if lower[start..].starts_with("http://") {
            start + 7
        } else {
            continue;
        };
        // "xhttp://" is not the start of a URL.
        if text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric())
        {
            continue;
        }
        let mut end = text[start..]
            .find(|c: char| c.is_whitespace() || c == '<' || c == '>')
            .map_or(text.len(), |i| start + i);
        loop {
            let candidate = &text[start..end];
            match candidate.chars().next_back() {
                Some('?' | '!' | '.' | ',' | ':' | ';' | '*' | '_' | '~' | '\'' | '"') => {
                    end -= 1;
                }
                // A closing parenthesis belongs to the URL only if it
                // closes one opened inside it: "(see https://x.org/a_(b))".
                Some(')') if candidate.matches(')').count() > candidate.matches('(').count() => {
                    end -= 1;
                }
                _ => break,
            }
        }
        let has_host = text[after_scheme.min(end)..end]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric());
        if !has_host {
            continue;
        }
        if start > rest_start {
            segments.push(Segment::Text(text[rest_start..start].to_owned()));
        }
        let url = &text[start..end];
        segments.push(Segment::Link {
            href: url.to_owned(),
            text: url.to_owned(),
        });
        rest_start = end;
        search_from = end;
    }
    if rest_start < text.len() {
        segments.push(Segment::Text(text[rest_start..].to_owned()));
    }
    segments
}

/// The second layer: whatever the first layer let through, only these
/// tags, attributes and URL schemes survive.
static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let tags: HashSet<&str> = [
        "p",
        "br",
        "hr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "strong",
        "em",
        "del",
        "code",
        "pre",
        "blockquote",
        "ul",
        "ol",
        "li",
        "a",
        "img",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "input",
    ]
    .into();
    // Dropped together with their content: what is inside them is code or
    // a document of its own, never text meant for the reader.
    let clean_content_tags: HashSet<&str> = [
        "script", "style", "iframe", "object", "embed", "noscript", "noembed", "noframes",
        "template", "textarea", "title", "xmp", "svg", "math",
    ]
    .into();
    let tag_attributes: HashMap<&str, HashSet<&str>> = [
        ("a", ["href", "title"].into()),
        ("img", ["src", "alt", "title"].into()),
        ("ol", ["start"].into()),
        ("code", ["class"].into()),
        ("input", ["type", "checked", "disabled"].into()),
    ]
    .into();
    // Task list boxes are there to be seen, not ticked; whatever came in,
    // an input leaves as a disabled checkbox.
    let set_values: HashMap<&str, HashMap<&str, &str>> =
        [("input", [("type", "checkbox"), ("disabled", "")].into())].into();

    let mut builder = ammonia::Builder::empty();
    builder
        .tags(tags)
        .clean_content_tags(clean_content_tags)
        .tag_attributes(tag_attributes)
        .set_tag_attribute_values(set_values)
        .generic_attributes(HashSet::new())
        .url_schemes(LINK_SCHEMES.iter().copied().collect())
        .url_relative(ammonia::UrlRelative::PassThrough)
        .link_rel(Some("noopener noreferrer nofollow"))
        .strip_comments(true)
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            ("code", "class") => is_language_class(value).then(|| value.into()),
            ("img", "src") => image_url_allowed(value).then(|| value.into()),
            ("input", "checked") => Some("".into()),
            _ => Some(value.into()),
        });
    builder
});

/// The class pulldown-cmark puts on fenced code (`language-rust`), for
/// syntax highlighting; nothing else may set a class.
fn is_language_class(value: &str) -> bool {
    value.strip_prefix("language-").is_some_and(|lang| {
        (1..=32).contains(&lang.len())
            && lang
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'#' | b'.'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::html_text::visible_words;
    use test_support::safety::{assert_safe_html, unsafe_fragments};

    const XSS_PAYLOADS: &str = include_str!("../../../testdata/xss-payloads.txt");

    #[test]
    fn paragraphs_and_emphasis() {
        assert_eq!(render(""), "");
        assert_eq!(
            render("Hello *world* and **you**, ~~not~~ you."),
            "<p>Hello <em>world</em> and <strong>you</strong>, <del>not</del> you.</p>\n"
        );
        assert_eq!(render("a  \nb"), "<p>a<br>\nb</p>\n");
        assert_eq!(render("---"), "<hr>\n");
        assert_eq!(
            render("> quoted"),
            "<blockquote>\n<p>quoted</p>\n</blockquote>\n"
        );
    }

    #[test]
    fn headings_move_down() {
        assert_eq!(render("# Top"), "<h3>Top</h3>\n");
        assert_eq!(render("## Two"), "<h4>Two</h4>\n");
        assert_eq!(render("#### Four"), "<h6>Four</h6>\n");
        assert_eq!(render("###### Six"), "<h6>Six</h6>\n");
        assert_eq!(
            Renderer::new().heading_shift(0).render("# Top"),
            "<h1>Top</h1>\n"
        );
    }

    #[test]
    fn links() {
        assert_eq!(
            render("[Chorus](https://example.com/a?b=c&d=e \"Home\")"),
            "<p><a href=\"https://example.com/a?b=c&amp;d=e\" title=\"Home\" rel=\"noopener noreferrer nofollow\">Chorus</a></p>\n"
        );
        assert_eq!(
            render("[space](/spaces/design)"),
            "<p><a href=\"/spaces/design\" rel=\"noopener noreferrer nofollow\">space</a></p>\n"
        );
        assert_eq!(
            render("<https://example.com>"),
            "<p><a href=\"https://example.com\" rel=\"noopener noreferrer nofollow\">https://example.com</a></p>\n"
        );
        assert_eq!(
            render("<ana@example.com>"),
            "<p><a href=\"mailto:ana@example.com\" rel=\"noopener noreferrer nofollow\">ana@example.com</a></p>\n"
        );
        assert_eq!(
            render("[mail](mailto:ana@example.com)"),
            "<p><a href=\"mailto:ana@example.com\" rel=\"noopener noreferrer nofollow\">mail</a></p>\n"
        );
    }

    #[test]
    fn links_with_other_schemes_keep_only_their_text() {
        for input in [
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "[click](javascript&#58;alert(1))",
            "[click](vbscript:msgbox(1))",
            "[click](data:text/html;base64,PHNjcmlwdD4=)",
            "[click](ftp://example.com/x)",
            "[click](<jav\tascript:alert(1)>)",
        ] {
            assert_eq!(render(input), "<p>click</p>\n", "{input}");
        }
        assert_eq!(
            render("<javascript:alert(1)>"),
            "<p>javascript:alert(1)</p>\n"
        );
    }

    #[test]
    fn bare_urls_become_links() {
        assert_eq!(
            render("see https://example.com/x_(y). Or http://a.io!"),
            "<p>see <a href=\"https://example.com/x_(y)\" rel=\"noopener noreferrer nofollow\">https://example.com/x_(y)</a>. Or <a href=\"http://a.io\" rel=\"noopener noreferrer nofollow\">http://a.io</a>!</p>\n"
        );
        assert_eq!(
            render("(https://example.com/a)"),
            "<p>(<a href=\"https://example.com/a\" rel=\"noopener noreferrer nofollow\">https://example.com/a</a>)</p>\n"
        );
        // Underscores split pulldown-cmark's text events; the URL survives.
        assert_eq!(
            render("https://example.com/a_b_c"),
            "<p><a href=\"https://example.com/a_b_c\" rel=\"noopener noreferrer nofollow\">https://example.com/a_b_c</a></p>\n"
        );
        for plain in [
            "http://",
            "https:// x",
            "xhttps://example.com",
            "httpx",
            "`https://example.com`",
        ] {
            assert!(!render(plain).contains("<a "), "{plain}: {}", render(plain));
        }
        assert!(!render("```\nhttps://example.com\n```").contains("<a "));
        assert_eq!(
            Renderer::new()
                .autolink(false)
                .render("https://example.com"),
            "<p>https://example.com</p>\n"
        );
        // Inside a link the URL is already a link's text.
        assert_eq!(
            render("[https://a.io](https://b.io)"),
            "<p><a href=\"https://b.io\" rel=\"noopener noreferrer nofollow\">https://a.io</a></p>\n"
        );
    }

    #[test]
    fn code() {
        assert_eq!(
            render("use `<b>` here"),
            "<p>use <code>&lt;b&gt;</code> here</p>\n"
        );
        assert_eq!(
            render("```rust\nfn main() {}\n```"),
            "<pre><code class=\"language-rust\">fn main() {}\n</code></pre>\n"
        );
        assert_eq!(
            render("    indented <i>\n"),
            "<pre><code>indented &lt;i&gt;\n</code></pre>\n"
        );
        // An info string that is not a plain language name loses its class.
        assert_eq!(
            render("```x\"onclick=alert(1)\nx\n```"),
            "<pre><code>x\n</code></pre>\n"
        );
    }

    #[test]
    fn lists() {
        assert_eq!(
            render("- one\n- two"),
            "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
        );
        assert_eq!(
            render("3. three\n4. four"),
            "<ol start=\"3\">\n<li>three</li>\n<li>four</li>\n</ol>\n"
        );
        assert_eq!(
            render("- [ ] open\n- [x] done"),
            "<ul>\n<li><input disabled=\"\" type=\"checkbox\">\nopen</li>\n<li><input disabled=\"\" type=\"checkbox\" checked=\"\">\ndone</li>\n</ul>\n"
        );
    }

    #[test]
    fn tables() {
        let html = render("| a | b |\n|:--|--:|\n| 1 | *2* |");
        assert_eq!(
            html,
            "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody>\n<tr><td>1</td><td><em>2</em></td></tr>\n</tbody></table>\n"
        );
    }

    #[test]
    fn images_by_url() {
        assert_eq!(
            render("![a cat](https://example.com/cat.png \"Cat\")"),
            "<p><img src=\"https://example.com/cat.png\" alt=\"a cat\" title=\"Cat\"></p>\n"
        );
        // Anything but an absolute web address shows the description.
        for input in [
            "![a cat](/files/cat.png)",
            "![a cat](javascript:alert(1))",
            "![a cat](data:image/png;base64,AAAA)",
            "![a cat](//example.com/cat.png)",
        ] {
            assert_eq!(render(input), "<p>a cat</p>\n", "{input}");
        }
    }

    #[test]
    fn raw_html_is_shown_as_text() {
        assert_eq!(
            render("<b>bold</b> text"),
            "<p>&lt;b&gt;bold&lt;/b&gt; text</p>\n"
        );
        assert_eq!(
            render("<div>\nblock\n</div>\n\nafter"),
            "<p>&lt;div&gt;\nblock\n&lt;/div&gt;</p>\n<p>after</p>\n"
        );
        assert_eq!(render("<!-- note -->"), "<p>&lt;!-- note --&gt;</p>\n");
    }

    #[test]
    fn text_hook_links_mentions_but_not_in_code_or_links() {
        let hook = |text: &str| {
            let mut out = Vec::new();
            let mut rest = text;
            while let Some(at) = rest.find("@ana") {
                out.push(Segment::Text(rest[..at].to_owned()));
                out.push(Segment::Link {
                    href: "/@ana".to_owned(),
                    text: "@ana".to_owned(),
                });
                rest = &rest[at + 4..];
            }
            out.push(Segment::Text(rest.to_owned()));
            out
        };
        let renderer = Renderer::new().with_text_hook(&hook);
        assert_eq!(
            renderer.render("*hi @ana*, `@ana`, [@ana](https://x.io) https://x.io/@ana"),
            "<p><em>hi <a href=\"/@ana\" rel=\"noopener noreferrer nofollow\">@ana</a></em>, <code>@ana</code>, <a href=\"https://x.io\" rel=\"noopener noreferrer nofollow\">@ana</a> <a href=\"https://x.io/@ana\" rel=\"noopener noreferrer nofollow\">https://x.io/@ana</a></p>\n"
        );
        // A hook cannot smuggle in markup or a script URL.
        let evil = |_: &str| {
            vec![
                Segment::Text("<script>alert(1)</script>".to_owned()),
                Segment::Link {
                    href: "javascript:alert(1)".to_owned(),
                    text: "x".to_owned(),
                },
            ]
        };
        let html = Renderer::new().with_text_hook(&evil).render("hello");
        assert_eq!(html, "<p>&lt;script&gt;alert(1)&lt;/script&gt;x</p>\n");
    }

    #[test]
    fn url_scheme_reads_urls_like_a_browser() {
        assert_eq!(url_scheme("https://x"), Some("https".into()));
        assert_eq!(url_scheme("  JavaScript:x"), Some("javascript".into()));
        assert_eq!(url_scheme("java\tscript:x"), Some("javascript".into()));
        assert_eq!(url_scheme("\u{1}javascript:x"), Some("javascript".into()));
        assert_eq!(url_scheme("/a:b"), None);
        assert_eq!(url_scheme("a?b:c"), None);
        assert_eq!(url_scheme("#x"), None);
        assert_eq!(url_scheme("relative"), None);
    }

    /// A second net under the tag scanner: ammonia escapes `<` and `>`
    /// even inside attribute values, so none of these tag openings may
    /// appear in its output at all. (`style=` may, as escaped text; the
    /// scanner checks attributes inside tags.)
    fn assert_no_forbidden_strings(input: &str, html: &str) {
        let lower = html.to_ascii_lowercase();
        for needle in [
            "<script", "<iframe", "<object", "<embed", "<svg", "<math", "<form", "<base", "<meta",
            "<link", "<style",
        ] {
            assert!(
                !lower.contains(needle),
                "{input:?} rendered {needle}: {html:?}"
            );
        }
    }

    #[test]
    fn xss_corpus_line_by_line() {
        let mut lines = 0;
        for line in XSS_PAYLOADS.lines().filter(|l| !l.trim().is_empty()) {
            lines += 1;
            let html = render(line);
            assert_safe_html(&html);
            assert_no_forbidden_strings(line, &html);
            // The payload must not come back as live markup of any kind
            // beyond what markdown makes.
            assert!(
                unsafe_fragments(&html).is_empty(),
                "{line:?} rendered as {html:?}"
            );
        }
        assert!(lines >= 60, "the corpus shrank to {lines} lines");
    }

    #[test]
    fn xss_corpus_as_one_input() {
        let html = render(XSS_PAYLOADS);
        assert_safe_html(&html);
        assert_no_forbidden_strings("the whole corpus", &html);
        // The payloads are all still there, as text.
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn sanitizer_alone_stops_the_corpus() {
        // As if the first layer had a bug and let raw HTML through, with
        // every markdown extension on for good measure.
        let lines = XSS_PAYLOADS.lines().chain([XSS_PAYLOADS]);
        for input in lines {
            let mut raw = String::new();
            pulldown_cmark::html::push_html(&mut raw, Parser::new_ext(input, Options::all()));
            for html in [
                SANITIZER.clean(&raw).to_string(),
                SANITIZER.clean(input).to_string(),
            ] {
                assert_safe_html(&html);
                assert_no_forbidden_strings(input, &html);
            }
        }
    }

    #[test]
    fn plain_text_golden() {
        for (markdown, text) in [
            ("", ""),
            (
                "Hello *world* and **you**, ~~not~~ you.",
                "Hello world and you, not you.",
            ),
            (
                "# Title\n\nPara one\nline two  \nthree\n\n---\n\n> quoted `x * 2`",
                "Title\n\nPara one\nline two\nthree\n\nquoted x * 2",
            ),
            (
                "- one\n- two [link](https://x.io/a?b=c&d=e)\n  - nested\n\n1. first\n\n2. second\n\nafter",
                "one\ntwo link (https://x.io/a?b=c&d=e)\nnested\n\nfirst\nsecond\n\nafter",
            ),
            ("- [ ] open\n- [x] done", "open\ndone"),
            (
                "```rust\nfn main() {\n    let x = a * b; // <b>\n}\n```\n\nend",
                "fn main() {\n    let x = a * b; // <b>\n}\n\nend",
            ),
            (
                "<https://x.io> and [https://x.io](https://x.io), <ana@x.io>, https://y.io/a_b_c",
                "https://x.io and https://x.io, ana@x.io, https://y.io/a_b_c",
            ),
            (
                "[mail](mailto:ana@x.io) [space](/spaces/design)",
                "mail (mailto:ana@x.io) space (/spaces/design)",
            ),
            // What a page does not show as a link, plain text does not
            // show as a URL either.
            ("[click](javascript:alert(1))", "click"),
            (
                "![a cat](https://x.io/cat.png) ![a dog](/dog.png)",
                "a cat a dog",
            ),
            ("| a | b |\n|---|--:|\n| 1 | *2* |", "a\tb\n1\t2"),
            (
                "<b>bold</b> &amp; \\*stars\\* &lt;3\n\n<div>\nblock\n</div>\n\nafter",
                "<b>bold</b> & *stars* <3\n\n<div>\nblock\n</div>\n\nafter",
            ),
            ("hi @ana, see #design", "hi @ana, see #design"),
        ] {
            assert_eq!(plain_text(markdown), text, "{markdown:?}");
        }
    }

    /// The plain text has the words the page shows, in the same order,
    /// whatever the input: a page's words (from html5ever's reading of the
    /// rendered HTML) against the plain text without its link URLs.
    fn assert_same_words(markdown: &str) {
        let page = visible_words(&render(markdown));
        let plain: Vec<String> = plain_text_with(markdown, false)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        assert_eq!(plain, page, "{markdown:?}");
    }

    #[test]
    fn plain_text_keeps_the_words_of_the_page() {
        for markdown in [
            "Hello *world*\n\n- a [b](https://x.io) c\n- `d`\n\n| e | f |\n|---|---|\n| g | h |",
            "![a cat](https://x.io/cat.png) and ![a dog](/dog.png)",
            "<b>raw</b> &amp; text\n\n<div>\nblock\n</div>",
            "```\ncode <i>\n```\n\n> quote  \nbreak",
        ] {
            assert_same_words(markdown);
        }
    }

    #[test]
    fn plain_text_of_the_xss_corpus() {
        for line in XSS_PAYLOADS.lines().chain([XSS_PAYLOADS]) {
            assert_same_words(line);
            let text = plain_text(line);
            assert_eq!(text, text.trim_end(), "{line:?}");
        }
    }

    #[test]
    fn xss_corpus_inside_markdown_structures() {
        // The same payloads inside list items, quotes, table cells, link
        // text and headings, where a different parser state applies.
        for line in XSS_PAYLOADS.lines().filter(|l| !l.trim().is_empty()) {
            for wrapped in [
                format!("- {line}"),
                format!("> {line}"),
                format!("# {line}"),
                format!("| h |\n|---|\n| {line} |"),
                format!("[{line}](https://example.com)"),
                format!("![{line}](https://example.com/x.png)"),
                format!("*{line}*"),
            ] {
                let html = render(&wrapped);
                assert_safe_html(&html);
                assert_no_forbidden_strings(&wrapped, &html);
            }
        }
    }
}
