//! The XML of the HiLink web API: compact request bodies (some firmwares answer
//! pretty-printed XML with 100005) and answers read into a small element tree.

use quick_xml::escape::{minimal_escape, resolve_predefined_entity};
use quick_xml::events::Event;
use quick_xml::reader::Reader;

use super::errors::{Error, Result, RouterError};

/// The prolog every request starts with.
pub const PROLOG: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Deeper answers are not what a router sends; refusing them bounds the tree.
const MAX_DEPTH: usize = 32;

/// One field of a request, in the order the router expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Text(&'static str, String),
    Group(&'static str, Vec<Field>),
}

impl Field {
    pub fn text(name: &'static str, value: impl ToString) -> Field {
        Field::Text(name, value.to_string())
    }
}

/// `<?xml …?><request>fields</request>` without any whitespace between elements.
pub fn request(fields: &[Field]) -> String {
    let mut out = String::from(PROLOG);
    write_field(&mut out, &Field::Group("request", fields.to_vec()));
    out
}

fn write_field(out: &mut String, field: &Field) {
    match field {
        Field::Text(name, value) => {
            out.push_str(&format!("<{name}>"));
            out.push_str(&minimal_escape(value.as_str()));
            out.push_str(&format!("</{name}>"));
        }
        Field::Group(name, children) => {
            out.push_str(&format!("<{name}>"));
            for c in children {
                write_field(out, c);
            }
            out.push_str(&format!("</{name}>"));
        }
    }
}

/// An element of an answer: its name, its own text (exact in a leaf, trimmed around
/// children) and its child elements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child of that name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every child of that name, in order.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The text of the first child of that name.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

fn xml_error(what: impl ToString, at: u64) -> Error {
    Error::Xml { what: what.to_string(), at }
}

/// The root element of a document; anything after it but comments and blanks is an error.
pub fn parse(bytes: &[u8]) -> Result<Element> {
    let mut reader = Reader::from_reader(bytes);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let at = reader.buffer_position();
        let event = reader.read_event().map_err(|e| xml_error(e, reader.error_position()))?;
        match event {
            Event::Start(s) | Event::Empty(s) if root.is_some() => {
                return Err(xml_error(format!("second root element <{}>", lossy(s.name().as_ref())), at));
            }
            Event::Start(s) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(xml_error(format!("nested deeper than {MAX_DEPTH} elements"), at));
                }
                stack.push(Element { name: lossy(s.name().as_ref()), ..Element::default() });
            }
            Event::Empty(s) => {
                let e = Element { name: lossy(s.name().as_ref()), ..Element::default() };
                close(&mut stack, &mut root, e);
            }
            Event::End(_) => {
                // quick-xml checks that the end name matches.
                let Some(mut e) = stack.pop() else {
                    return Err(xml_error("end tag without a start", at));
                };
                // Blanks around children are layout; a leaf's text (an SMS) stays exact.
                if !e.children.is_empty() {
                    e.text = e.text.trim().to_string();
                }
                close(&mut stack, &mut root, e);
            }
            Event::Text(t) => {
                let text = t.xml10_content().map_err(|e| xml_error(e, at))?;
                append_text(&mut stack, &text, at)?;
            }
            Event::CData(c) => {
                let text = c.decode().map_err(|e| xml_error(e, at))?;
                append_text(&mut stack, &text, at)?;
            }
            Event::GeneralRef(r) => {
                let text = match r.resolve_char_ref().map_err(|e| xml_error(e, at))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| xml_error(e, at))?;
                        resolve_predefined_entity(&name)
                            .ok_or_else(|| xml_error(format!("unknown entity &{name};"), at))?
                            .to_string()
                    }
                };
                append_text(&mut stack, &text, at)?;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(xml_error(format!("<{}> is never closed", open.name), at));
                }
                return root.ok_or_else(|| xml_error("no element", at));
            }
        }
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn close(stack: &mut [Element], root: &mut Option<Element>, e: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(e),
        None => *root = Some(e),
    }
}

fn append_text(stack: &mut [Element], text: &str, at: u64) -> Result<()> {
    match stack.last_mut() {
        Some(e) => e.text.push_str(text),
        None if text.trim().is_empty() => {}
        None => return Err(xml_error("text outside the root element", at)),
    }
    Ok(())
}

/// An answer: the `<response>` element, or the router's `<error>` as [`Error::Router`].
pub fn response(bytes: &[u8]) -> Result<Element> {
    let root = parse(bytes)?;
    match root.name.as_str() {
        "response" => Ok(root),
        "error" => Err(Error::Router(router_error(&root)?)),
        _ => Err(Error::Root { expected: "response", got: root.name }),
    }
}

fn router_error(e: &Element) -> Result<RouterError> {
    let code = e.text_of("code").ok_or(Error::Missing { element: "code", parent: "error".into() })?;
    let code = code.parse().map_err(|_| Error::Bad { element: "code", value: code.into(), why: "not a number" })?;
    Ok(RouterError { code, message: e.text_of("message").unwrap_or_default().to_string() })
}

/// `<response>OK</response>`, the answer to every successful POST.
pub fn ok(bytes: &[u8]) -> Result<()> {
    let r = response(bytes)?;
    if r.text == "OK" && r.children.is_empty() {
        Ok(())
    } else {
        Err(Error::Bad { element: "response", value: r.text, why: "not OK" })
    }
}

/// An answer as routers write it: CRLF after the prolog and around each element (clients
/// must read layout whitespace; only requests have to be compact).
pub fn answer_body(fields: &[Field]) -> String {
    let mut out = format!("{PROLOG}\r\n<response>\r\n");
    for f in fields {
        write_field(&mut out, f);
        out.push_str("\r\n");
    }
    out.push_str("</response>\r\n");
    out
}

/// `<response>OK</response>`.
pub fn ok_response_body() -> String {
    format!("{PROLOG}\r\n<response>OK</response>\r\n")
}

/// `<error><code>…</code><message></message></error>`, as routers answer a failed call.
pub fn error_body(code: i64) -> String {
    format!("{PROLOG}\r\n<error>\r\n<code>{code}</code>\r\n<message></message>\r\n</error>\r\n")
}

/// Whether a request has whitespace between elements inside its root (pretty-printed), which
/// E3372h-320 firmwares answer with 100005. Blanks before the root and a leaf's own text (an
/// SMS of spaces) do not count. Unreadable XML counts as not pretty; parsing reports it.
pub fn has_layout_whitespace(bytes: &[u8]) -> bool {
    let mut reader = Reader::from_reader(bytes);
    let mut depth = 0usize;
    // Blank text seen inside the root, waiting to learn whether a leaf's end follows.
    let mut pending_blank = false;
    let mut last_was_start = false;
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(_) => return false,
        };
        match event {
            Event::Start(_) => {
                if pending_blank {
                    return true;
                }
                depth += 1;
                last_was_start = true;
            }
            Event::Empty(_) => {
                if pending_blank {
                    return true;
                }
                last_was_start = false;
            }
            Event::End(_) => {
                // Blank text right inside a leaf is content.
                if pending_blank && !last_was_start {
                    return true;
                }
                pending_blank = false;
                depth = depth.saturating_sub(1);
                last_was_start = false;
            }
            Event::Text(t) if depth > 0 => {
                if t.iter().all(u8::is_ascii_whitespace) {
                    pending_blank = true;
                } else {
                    pending_blank = false;
                    last_was_start = true; // a leaf with real text: treat as content
                }
            }
            Event::Eof => return false,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hilink::errors::ErrorClass;

    #[test]
    fn compact_nested_escaped_request() {
        let body = request(&[
            Field::text("Index", -1),
            Field::Group("Phones", vec![Field::text("Phone", "+1"), Field::text("Phone", "2")]),
            Field::text("Content", "a<b & \"c\"\n"),
            Field::text("Sca", ""),
        ]);
        assert_eq!(
            body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><Index>-1</Index>\
             <Phones><Phone>+1</Phone><Phone>2</Phone></Phones>\
             <Content>a&lt;b &amp; \"c\"\n</Content><Sca></Sca></request>"
        );
        // What we send reads back as sent.
        let e = parse(body.as_bytes()).unwrap();
        assert_eq!(e.text_of("Content"), Some("a<b & \"c\"\n"));
        assert_eq!(e.child("Phones").unwrap().children_named("Phone").count(), 2);
    }

    #[test]
    fn tree_with_entities_and_cdata() {
        let e = parse(b"<?xml version=\"1.0\"?>\n<response>\n <A>x &amp; &#233;&#x1F600;</A><B/><C><![CDATA[<raw>]]></C>\n</response>\n").unwrap();
        assert_eq!(e.name, "response");
        assert_eq!(e.text, "");
        assert_eq!(e.text_of("A"), Some("x & \u{e9}\u{1F600}"));
        assert_eq!(e.text_of("B"), Some(""));
        assert_eq!(e.text_of("C"), Some("<raw>"));
    }

    #[test]
    fn ok_answer() {
        assert_eq!(ok(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<response>OK</response>"), Ok(()));
        assert!(matches!(ok(b"<response>NO</response>"), Err(Error::Bad { element: "response", .. })));
    }

    #[test]
    fn error_answers_of_each_class() {
        for (code, class) in [
            (100003, ErrorClass::Login),
            (125003, ErrorClass::Session),
            (108002, ErrorClass::BadCredentials),
            (108007, ErrorClass::LockedOut),
            (108003, ErrorClass::TooManySessions),
            (113018, ErrorClass::Busy),
            (100005, ErrorClass::FormatBug),
            (42, ErrorClass::Other),
        ] {
            let body = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><error><code>{code}</code><message></message></error>"
            );
            match response(body.as_bytes()) {
                Err(Error::Router(e)) => {
                    assert_eq!(e.code, code);
                    assert_eq!(e.class(), class, "{code}");
                }
                other => panic!("{code}: {other:?}"),
            }
            assert!(matches!(ok(body.as_bytes()), Err(Error::Router(_))));
        }
        let e = response(b"<error><code>x1</code><message/></error>").unwrap_err();
        assert_eq!(e.to_string(), "<code> holds \"x1\": not a number");
        let e = response(b"<error><message/></error>").unwrap_err();
        assert_eq!(e.to_string(), "<code> is missing in <error>");
    }

    #[test]
    fn garbage_is_a_clear_error() {
        for bad in [
            &b""[..],
            b"   ",
            b"\xff\xfe<",
            b"<response><a></b></response>",
            b"<response><a>",
            b"<response>x</response><response/>",
            b"text<response/>",
            b"<response>&bogus;</response>",
            b"<html><body>502 Bad Gateway</body></html>",
            b"</response>",
        ] {
            let e = response(bad).unwrap_err();
            assert!(matches!(e, Error::Xml { .. } | Error::Root { .. }), "{bad:?}: {e:?}");
            assert!(!e.to_string().is_empty());
        }
        let deep = "<a>".repeat(100);
        assert!(parse(deep.as_bytes()).unwrap_err().to_string().contains("deeper"));
    }

    #[test]
    fn layout_whitespace() {
        let compact = request(&[Field::text("A", " "), Field::Group("B", vec![Field::text("C", "\n")])]);
        assert!(!has_layout_whitespace(compact.as_bytes()));
        // A newline after the prolog is what Python's xmltodict writes; routers take it.
        assert!(!has_layout_whitespace(b"<?xml version=\"1.0\"?>\n<request><A>1</A></request>\n"));
        assert!(has_layout_whitespace(b"<request>\n  <A>1</A>\n</request>"));
        assert!(has_layout_whitespace(b"<request><A>1</A> </request>"));
        assert!(has_layout_whitespace(b"<request><B>\n<C>1</C></B></request>"));
        assert!(has_layout_whitespace(b"<request><A/>\n<B/></request>"));
    }

    #[test]
    fn answers_read_back() {
        let a = answer_body(&[Field::text("Count", 1), Field::Group("Messages", vec![Field::text("X", "a&b\n")])]);
        let e = response(a.as_bytes()).unwrap();
        assert_eq!(e.text_of("Count"), Some("1"));
        assert_eq!(e.child("Messages").unwrap().text_of("X"), Some("a&b\n"));
        assert_eq!(ok(ok_response_body().as_bytes()), Ok(()));
        assert!(matches!(response(error_body(125002).as_bytes()), Err(Error::Router(r)) if r.code == 125002));
    }
}
