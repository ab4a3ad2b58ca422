//! The text a browser shows for a fragment of HTML, read with html5ever:
//! to check that a plain-text rendering keeps the words a page shows.

use html5ever::tendril::TendrilSink;
use html5ever::{ParseOpts, QualName, local_name, ns, parse_fragment};
use markup5ever_rcdom::{Handle, NodeData, RcDom};

/// Elements that start a new line (or cell) wherever they open or close,
/// so the words on either side are separate words.
const BLOCKS: &[&str] = &[
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "div",
];

/// The words of `html` as the content of a `<body>`: its text, and an
/// image's description in its place (as plain text has it, with no space
/// around it).
pub fn visible_words(html: &str) -> Vec<String> {
    let body = QualName::new(None, ns!(html), local_name!("body"));
    let dom = parse_fragment(
        RcDom::default(),
        ParseOpts::default(),
        body,
        Vec::new(),
        true,
    )
    .one(html);
    let mut text = String::new();
    collect(&dom.document, &mut text);
    text.split_whitespace().map(str::to_owned).collect()
}

fn collect(node: &Handle, text: &mut String) {
    let block = match &node.data {
        NodeData::Text { contents } => {
            text.push_str(&contents.borrow());
            false
        }
        NodeData::Element { name, attrs, .. } => {
            if &*name.local == "img"
                && let Some(alt) = attrs.borrow().iter().find(|a| &*a.name.local == "alt")
            {
                text.push_str(&alt.value);
            }
            BLOCKS.contains(&&*name.local)
        }
        _ => false,
    };
    text.push_str(if block { " " } else { "" });
    for child in node.children.borrow().iter() {
        collect(child, text);
    }
    text.push_str(if block { " " } else { "" });
}

#[cfg(test)]
mod tests {
    use super::visible_words;

    #[test]
    fn words_of_blocks_inline_elements_and_images() {
        assert_eq!(
            visible_words(
                "<h3>A</h3><p>b<em>c</em> &amp; <img src=\"x\" alt=\"a cat\"> d</p><ul><li>e</li><li>f</li></ul>"
            ),
            ["A", "bc", "&", "a", "cat", "d", "e", "f"]
        );
    }
}
