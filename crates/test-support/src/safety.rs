//! A checker for "can this HTML run script or load something it should
//! not", for tests: the markdown tests run the XSS corpus through it, and
//! the server's tests run it over the pages and API HTML they get back.
//!
//! html5ever reads the HTML with a browser's tokenizer, driven by its tree
//! builder, so what is text (inside `<textarea>`, `<title>`, `<script>`,
//! comments, attribute values) and what is a tag is decided exactly as a
//! browser decides it, and character references in attribute values are
//! decoded as a browser decodes them: `title="<script>"` is not a false
//! alarm and `<a href="&#106;avascript:…">` is not missed.
//!
//! Every start tag the tokenizer reads is checked, also one that the tree
//! builder then drops or merges into another element in this context: a
//! fragment of user content lands in many contexts, and in a page
//! `<body onload=…>` adds its handler to the page's body. It errs on the
//! strict side: a false alarm costs a look, a miss costs an XSS.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, StartTag, Tag, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use html5ever::tree_builder::{TreeBuilder, TreeBuilderOpts, create_element};
use html5ever::{QualName, TokenizerResult, local_name, ns};
use markup5ever_rcdom::{Handle, RcDom};

/// Panics, listing each offending fragment, unless `html` is a safe
/// fragment of user content: no script-capable or document-level tag, no
/// `on…` event handler, no `style` attribute, no `javascript:`,
/// `vbscript:` or `data:` URL (images may use `data:image/…` other than
/// SVG), no `srcdoc`, no `target` without `rel="noopener"`.
pub fn assert_safe_html(html: &str) {
    report(html, &unsafe_fragments(html));
}

/// Like [`assert_safe_html`] for a whole page the server rendered. A page
/// may have what a fragment may not (`<form>`, `<meta>`, `<link>`,
/// `<textarea>`, `<title>`, inline SVG), but its scripts must be loaded
/// from the site itself (`<script src="/…">` with no body) or be JSON data
/// blocks, and the other rules still apply.
pub fn assert_safe_page(html: &str) {
    report(html, &unsafe_page_fragments(html));
}

/// What [`assert_safe_html`] would complain about; empty when safe.
pub fn unsafe_fragments(html: &str) -> Vec<String> {
    check(html, Mode::Fragment)
}

/// What [`assert_safe_page`] would complain about; empty when safe.
pub fn unsafe_page_fragments(html: &str) -> Vec<String> {
    check(html, Mode::Page)
}

fn report(html: &str, problems: &[String]) {
    if !problems.is_empty() {
        panic!(
            "unsafe HTML:\n  - {}\nin:\n{}",
            problems.join("\n  - "),
            clip(html, 2000)
        );
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fragment,
    Page,
}

/// Tags user content never contains: they run script, embed other
/// documents, change how the page or its URLs work, or switch the parser
/// into a state where later text is read differently.
const FRAGMENT_FORBIDDEN_TAGS: &[&str] = &[
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "portal",
    "svg",
    "math",
    "form",
    "base",
    "meta",
    "link",
    "template",
    "noscript",
    "noembed",
    "noframes",
    "xmp",
    "textarea",
    "title",
    "plaintext",
    "button",
    "select",
    "html",
    "head",
    "body",
];

/// Tags not even the server's own pages use.
const PAGE_FORBIDDEN_TAGS: &[&str] = &[
    "iframe", "frame", "frameset", "object", "embed", "applet", "portal", "base",
];

/// Attributes a browser follows as a URL.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "data",
    "poster",
    "background",
    "cite",
    "codebase",
    "lowsrc",
    "dynsrc",
    "ping",
    "manifest",
    "icon",
];

const SCRIPT_SCHEMES: &[&str] = &["javascript:", "vbscript:", "livescript:", "data:text/html"];

/// Attributes a browser only ever shows as text, on every element: a
/// title that reads "javascript:…" is a tooltip, not a link. Any other
/// attribute that starts with a script scheme counts as one.
const TEXT_ATTRIBUTES: &[&str] = &["title", "alt"];

/// Closes whatever tag the input cuts off (inside a name, an unquoted
/// value or either kind of quoted value), so that its attributes are
/// checked: a browser drops such a tag at the end of a document, but a
/// fragment is followed by more of the page, which would complete it.
const CLOSE_CUT_OFF_TAG: &str = "\"'>";

fn check(html: &str, mode: Mode) -> Vec<String> {
    let sink = RcDom::default();
    let opts = TreeBuilderOpts::default();
    let (builder, state) = match mode {
        Mode::Page => (TreeBuilder::new(sink, opts), None),
        Mode::Fragment => {
            // Parsed as the content of a <body>, where user content goes.
            let body = QualName::new(None, ns!(html), local_name!("body"));
            let context = create_element(&sink, body, Vec::new());
            let builder = TreeBuilder::new_for_fragment(sink, context, None, opts);
            let state = builder.tokenizer_state_for_context_elem(true);
            (builder, Some(state))
        }
    };
    let inspector = Inspector {
        builder,
        mode,
        problems: RefCell::new(Vec::new()),
        element_text: RefCell::new(None),
    };
    let tokenizer = Tokenizer::new(
        inspector,
        TokenizerOpts {
            initial_state: state,
            ..TokenizerOpts::default()
        },
    );
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    input.push_back(StrTendril::from_slice(CLOSE_CUT_OFF_TAG));
    // The tokenizer pauses after each `</script>` (where a browser would
    // run it) and at a `<meta charset>`; it goes on where it paused.
    while !matches!(tokenizer.feed(&input), TokenizerResult::Done) {}
    tokenizer.end();
    tokenizer.sink.problems.into_inner()
}

/// The text of a `<script>` or `<style>` element, gathered for the checks
/// of what a page may have in them.
struct ElementText {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
}

/// Sits between html5ever's tokenizer and its tree builder: checks each
/// token, then hands it on, so the tree builder still decides the
/// tokenizer's state (raw text, RCDATA, foreign content) as in a browser.
struct Inspector {
    builder: TreeBuilder<Handle, RcDom>,
    mode: Mode,
    problems: RefCell<Vec<String>>,
    element_text: RefCell<Option<ElementText>>,
}

impl TokenSink for Inspector {
    type Handle = Handle;

    fn process_token(&self, token: Token, line_number: u64) -> TokenSinkResult<Handle> {
        match &token {
            Token::TagToken(tag) => {
                self.end_element_text();
                if tag.kind == StartTag {
                    self.check_start_tag(tag);
                }
            }
            Token::CharacterTokens(text) => {
                if let Some(open) = self.element_text.borrow_mut().as_mut() {
                    open.text.push_str(text);
                }
            }
            Token::EOFToken => self.end_element_text(),
            _ => {}
        }
        self.builder.process_token(token, line_number)
    }

    fn end(&self) {
        self.builder.end();
    }

    fn adjusted_current_node_present_but_not_in_html_namespace(&self) -> bool {
        self.builder
            .adjusted_current_node_present_but_not_in_html_namespace()
    }
}

impl Inspector {
    fn flag(&self, what: &str, tag: &str) {
        self.problems
            .borrow_mut()
            .push(format!("{what}: {}", clip(tag, 200)));
    }

    fn check_start_tag(&self, tag: &Tag) {
        let name = tag.name.to_string();
        let attrs: Vec<(String, String)> = tag
            .attrs
            .iter()
            .map(|a| (a.name.local.to_string(), a.value.to_string()))
            .collect();
        let source = tag_source(&name, &attrs);
        let forbidden = match self.mode {
            Mode::Fragment => FRAGMENT_FORBIDDEN_TAGS,
            Mode::Page => PAGE_FORBIDDEN_TAGS,
        };
        if forbidden.contains(&name.as_str()) {
            self.flag(&format!("<{name}> element"), &source);
        }
        for (attr, value) in &attrs {
            if let Some(problem) = attribute_problem(&name, attr, value, &attrs, self.mode) {
                self.flag(&problem, &source);
            }
        }
        if self.mode == Mode::Page && matches!(name.as_str(), "script" | "style") {
            *self.element_text.borrow_mut() = Some(ElementText {
                name,
                attrs,
                text: String::new(),
            });
        }
    }

    /// Checks a page's `<script>` or `<style>` once its text is complete.
    fn end_element_text(&self) {
        let Some(element) = self.element_text.borrow_mut().take() else {
            return;
        };
        let source = tag_source(&element.name, &element.attrs);
        if element.name == "script" {
            if let Some(problem) = page_script_problem(&element.attrs, element.text.trim()) {
                self.flag(&problem, &source);
            }
        } else if css_is_dangerous(&element.text) {
            self.flag("style sheet that can run script or load a URL", &source);
        }
    }
}

/// The tag as html5ever read it, for messages.
fn tag_source(name: &str, attrs: &[(String, String)]) -> String {
    let mut out = format!("<{name}");
    for (attr, value) in attrs {
        out.push_str(&format!(" {attr}=\"{value}\""));
    }
    out.push('>');
    out
}

fn attribute_problem(
    tag: &str,
    name: &str,
    value: &str,
    all: &[(String, String)],
    mode: Mode,
) -> Option<String> {
    if name.starts_with("on") {
        return Some(format!("event handler attribute `{name}`"));
    }
    if name == "srcdoc" {
        return Some("`srcdoc` attribute (a whole document in an attribute)".into());
    }
    if name == "style" {
        if mode == Mode::Fragment {
            return Some("`style` attribute".into());
        }
        if css_is_dangerous(value) {
            return Some("`style` attribute that can run script or load a URL".into());
        }
    }
    let value = normalise(value);
    let urls: Vec<&str> = if TEXT_ATTRIBUTES.contains(&name) {
        Vec::new()
    } else if name == "srcset" {
        value.split(',').collect()
    } else if tag == "meta" && name == "content" {
        // <meta http-equiv=refresh content="0;url=…"> navigates.
        value
            .split_once("url=")
            .map(|(_, url)| url)
            .into_iter()
            .collect()
    } else {
        vec![value.as_str()]
    };
    for url in urls {
        if let Some(scheme) = SCRIPT_SCHEMES.iter().find(|s| url.starts_with(*s)) {
            return Some(format!("`{name}` with a {scheme} URL"));
        }
        let is_url_attr = URL_ATTRIBUTES.contains(&name) || name == "srcset";
        let harmless_image = matches!(name, "src" | "srcset" | "poster")
            && url.starts_with("data:image/")
            && !url.starts_with("data:image/svg");
        if is_url_attr && url.starts_with("data:") && !harmless_image {
            return Some(format!("`{name}` with a data: URL"));
        }
    }
    if name == "target" && !value.is_empty() && value != "_self" {
        let rel = all
            .iter()
            .find(|(n, _)| n == "rel")
            .map(|(_, v)| v.to_ascii_lowercase())
            .unwrap_or_default();
        if !rel
            .split_ascii_whitespace()
            .any(|r| r == "noopener" || r == "noreferrer")
        {
            return Some(
                "`target` without rel=\"noopener\" (the opened page could take over this one)"
                    .into(),
            );
        }
    }
    None
}

fn page_script_problem(attrs: &[(String, String)], body: &str) -> Option<String> {
    let attr = |n: &str| {
        attrs
            .iter()
            .find(|(name, _)| name == n)
            .map(|(_, v)| normalise(v))
    };
    let kind = attr("type").unwrap_or_default();
    if matches!(kind.as_str(), "application/json" | "application/ld+json") {
        return None;
    }
    match attr("src") {
        Some(src) if src.starts_with('/') && !src.starts_with("//") && body.is_empty() => None,
        Some(_) if !body.is_empty() => Some("<script> with both src and inline code".into()),
        Some(src) => Some(format!("<script> loaded from outside the site: {src}")),
        None => Some("inline <script>".into()),
    }
}

fn css_is_dangerous(css: &str) -> bool {
    let css = normalise(css);
    [
        "javascript:",
        "vbscript:",
        "expression(",
        "url(",
        "@import",
        "-moz-binding",
        "behavior:",
    ]
    .iter()
    .any(|bad| css.contains(bad))
}

/// What a browser compares against a scheme: lowercase, with whitespace
/// and control characters gone. Browsers only drop some of them, and only
/// in some places; dropping all of them everywhere can only make the check
/// stricter.
fn normalise(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c > ' ' && *c != '\u{7f}')
        .collect::<String>()
        .to_lowercase()
}

fn clip(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each of these must be caught; they are the tricks the XSS corpus
    /// uses, written straight into HTML as a broken sanitiser might pass
    /// them through.
    #[test]
    fn catches_known_bad_html() {
        for bad in [
            "<script>alert(1)</script>",
            "<SCRIPT SRC=//xss.invalid/x.js></SCRIPT>",
            "<p>ok</p><<script>alert(1)//<</script>",
            "<img src=x onerror=alert(1)>",
            "<img src=x ONERROR=alert(1)>",
            "<img src=\"x\"/onerror=\"alert(1)\">",
            "<img\nsrc=x\tonerror=alert(1)>",
            "<svg onload=alert(1)>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href='JaVaScRiPt:alert(1)'>x</a>",
            "<a href=\" javascript:alert(1)\">x</a>",
            "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
            "<a href=\"jav&Tab;ascript:alert(1)\">x</a>",
            "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
            "<a href=\"&#0000106avascript:alert(1)\">x</a>",
            "<a href=\"&#x00000000006A;avascript:alert(1)\">x</a>",
            "<a href=\"javascript&colon;alert(1)\">x</a>",
            "<a href=data:text/html;base64,PHNjcmlwdD4=>x</a>",
            "<a href=\"data:image/svg+xml,<svg onload=alert(1)>\">x</a>",
            "<a href=\"vbscript:msgbox(1)\">x</a>",
            "<img src=\"data:image/svg+xml;base64,AAAA\">",
            "<img srcset=\"x.png 1x, javascript:alert(1) 2x\">",
            "<div style=\"background:url(x)\">x</div>",
            "<p STYLE=color:red>x</p>",
            "<iframe src=\"https://example.com\"></iframe>",
            "<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\"></iframe>",
            "<object data=x></object>",
            "<embed src=x>",
            "<math><mi>x</mi></math>",
            "<form action=/x><input></form>",
            "<button formaction=javascript:alert(1)>go</button>",
            "<base href=\"https://evil.example/\">",
            "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
            "<link rel=stylesheet href=/x.css>",
            "<a href=\"https://example.com\" target=_blank>x</a>",
            "<textarea></textarea><script>alert(1)</script>",
            "<!-- x --><script>alert(1)</script>",
            "<img src=x onerror=alert(1)",   // cut off before '>'
            "<a href=\"javascript:alert(1)", // cut off inside a quoted value
            "<details open ontoggle=alert(1)>",
            "<a x-href=\"javascript:alert(1)\">x</a>", // unknown attributes stay suspect
            // Dropped or merged by a tree builder in a fragment, live in a page.
            "<p>x</p><body onload=alert(1)>",
            "<html onmouseover=alert(1)>",
            "<template><img src=x onerror=alert(1)></template>",
        ] {
            assert!(!unsafe_fragments(bad).is_empty(), "missed: {bad}");
        }
    }

    #[test]
    fn accepts_what_markdown_produces() {
        for good in [
            "",
            "plain text with javascript: in it and onerror=alert(1)",
            "<p>a &lt;script&gt; b</p>",
            "<a href=\"https://example.com/?q=1&amp;r=2\" title=\"&lt;script&gt; onclick=x\" rel=\"noopener noreferrer nofollow\">x</a>",
            "<a title=\"<script>alert(1)</script>\">x</a>",
            "<img src=\"https://example.com/x.png\" alt=\"x onerror=alert(1)\">",
            "<img src=\"data:image/png;base64,AAAA\" alt=\"\">",
            // Text, shown as a tooltip or in place of an image (found by
            // the scan fuzz target: `[a](https://x "data:text/html…")`).
            "<a href=\"https://x.org\" title=\"data:text/html,x\" rel=\"noopener\">a</a>",
            "<img src=\"https://x.org/i.png\" alt=\"javascript:alert(1)\">",
            "<pre><code class=\"language-rust\">fn main() {}</code></pre>",
            "<ul><li><input type=\"checkbox\" checked=\"\" disabled=\"\">done</li></ul>",
            "<a href=\"/spaces/design\" target=\"_blank\" rel=\"noopener\">x</a>",
            "a < b and c<1 and <3 and </ 3",
            // One tag named `scr<script`, which is not a script element.
            "<scr<script>ipt>",
            "<!-- a comment with <script> in it -->",
            // A reference a browser does not decode stays as written.
            "<a href=\"x&;a\u{FFFD}\u{FFFD}\">y</a>",
            "<a href=\"&unknown;javascript:x\">y</a>",
        ] {
            assert!(
                unsafe_fragments(good).is_empty(),
                "false alarm on {good}: {:?}",
                unsafe_fragments(good)
            );
        }
    }

    #[test]
    fn pages_may_have_structure_but_no_inline_script() {
        let page = "<!doctype html><html><head><meta charset=\"utf-8\"><title>a <b> title</title>\
            <link rel=\"stylesheet\" href=\"/static/app.css\"><script src=\"/static/app.js\" defer></script>\
            <script type=\"application/json\" id=\"state\">{\"a\":\"\\u003c\"}</script></head>\
            <body><form method=\"post\" action=\"/items\"><textarea name=body><img onerror=x></textarea>\
            <button>Post</button></form><svg viewBox=\"0 0 1 1\"><path d=\"M0\"/></svg></body></html>";
        assert!(
            unsafe_page_fragments(page).is_empty(),
            "{:?}",
            unsafe_page_fragments(page)
        );
        assert_safe_page(page);
        for bad in [
            "<script>alert(1)</script>",
            "<script src=\"https://cdn.example/x.js\"></script>",
            "<script src=\"//cdn.example/x.js\"></script>",
            "<script src=\"/static/app.js\">alert(1)</script>",
            "<body onload=x>",
            "<iframe src=/x></iframe>",
            "<a href=javascript:alert(1)>x</a>",
            "<div style=\"background:url(javascript:alert(1))\">",
            "<style>body{background:url(x)}</style>",
            "<title></title><script>alert(1)</script>",
            "<svg><script>alert(1)</script></svg>",
            "<svg><a xlink:href=\"javascript:alert(1)\">x</a></svg>",
            "<meta http-equiv=\"refresh\" content=\"0; URL=javascript:alert(1)\">",
        ] {
            assert!(!unsafe_page_fragments(bad).is_empty(), "missed: {bad}");
        }
    }

    #[test]
    #[should_panic(
        expected = "event handler attribute `onerror`: <img src=\"x\" onerror=\"alert(1)\">"
    )]
    fn assert_names_the_fragment() {
        assert_safe_html("<p>hi</p><img src=x onerror=alert(1)><p>bye</p>");
    }

    #[test]
    #[should_panic(expected = "inline <script>")]
    fn assert_refuses_a_page_that_runs_script() {
        assert_safe_page(
            "<!doctype html><html><body><p>hi</p><script>alert(1)</script></body></html>",
        );
    }

    #[test]
    fn survives_any_input() {
        for odd in [
            "<",
            "</",
            "<!",
            "<!-",
            "<a",
            "<a href",
            "<a href=",
            "<a href='",
            "&",
            "&#",
            "&#x",
            "&#99999999999;",
            "<script>",
            "<plaintext>",
            "<svg><![CDATA[x",
            "\u{0}<\u{0}a\u{0}>",
            "<meta charset=utf-8>",
        ] {
            let _ = unsafe_fragments(odd);
            let _ = unsafe_page_fragments(odd);
        }
    }
}
