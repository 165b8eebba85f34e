//! Turning Matrix message content into the plain text an SMS carries. Pure functions.

use serde_json::Value;

/// Why a Matrix message cannot become an SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsendable {
    Edit,
    /// A message type that is neither text nor media MMS can carry (a location, a
    /// poll, …).
    Media(String),
    Empty,
}

impl Unsendable {
    pub fn explain(&self) -> String {
        match self {
            Unsendable::Edit => "SMS messages cannot be edited; send a new message instead".into(),
            Unsendable::Media(t) => format!("{t} messages cannot be sent as SMS or MMS"),
            Unsendable::Empty => "the message has no text".into(),
        }
    }
}

/// The SMS text for an `m.room.message` content.
pub fn sms_text(content: &Value) -> Result<String, Unsendable> {
    if content["m.relates_to"]["rel_type"] == "m.replace" || content.get("m.new_content").is_some() {
        return Err(Unsendable::Edit);
    }
    let msgtype = content["msgtype"].as_str().unwrap_or("");
    let text = match msgtype {
        "m.text" | "m.notice" | "m.emote" => plain_body(content),
        "" => return Err(Unsendable::Empty),
        other => return Err(Unsendable::Media(other.trim_start_matches("m.").to_string())),
    };
    let text = text.trim().to_string();
    if text.is_empty() {
        return Err(Unsendable::Empty);
    }
    Ok(if msgtype == "m.emote" { format!("* {text}") } else { text })
}

/// The plain text of a message: the HTML reduced to text when there is HTML,
/// otherwise the body; reply fallbacks removed either way.
fn plain_body(content: &Value) -> String {
    let is_reply = content["m.relates_to"]["m.in_reply_to"]["event_id"].is_string();
    if content["format"] == "org.matrix.custom.html"
        && let Some(html) = content["formatted_body"].as_str()
    {
        return html_to_text(&strip_mx_reply(html));
    }
    let body = content["body"].as_str().unwrap_or("");
    if is_reply { strip_reply_fallback(body) } else { body.to_string() }
}

/// Removes the `> <@user> quoted` lines (and the blank line after them) that clients
/// prepend to replies.
pub fn strip_reply_fallback(body: &str) -> String {
    if !body.starts_with("> ") {
        return body.to_string();
    }
    let mut lines = body.lines().skip_while(|l| l.starts_with('>'));
    let mut out: Vec<&str> = Vec::new();
    if let Some(first) = lines.next()
        && !first.is_empty()
    {
        out.push(first);
    }
    out.extend(lines);
    out.join("\n")
}

fn strip_mx_reply(html: &str) -> String {
    match (html.find("<mx-reply>"), html.find("</mx-reply>")) {
        (Some(a), Some(b)) if b > a => format!("{}{}", &html[..a], &html[b + "</mx-reply>".len()..]),
        _ => html.to_string(),
    }
}

/// A small HTML-to-text reduction for the subset Matrix clients send: line breaks and
/// paragraphs become newlines, list items get a bullet, links keep their target, tags
/// go, entities are decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut href: Option<String> = None;
    let mut link_text_start = 0;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        let Some(gt) = rest[lt..].find('>') else {
            out.push_str(&decode_entities(&rest[lt..]));
            rest = "";
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let closing = tag.starts_with('/');
        match (name.as_str(), closing) {
            ("br", _) => out.push('\n'),
            ("p" | "div" | "blockquote" | "pre" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "ul" | "ol", true) => {
                out.push('\n')
            }
            ("li", false) => {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str("• ");
            }
            ("a", false) => {
                href = attr(tag, "href");
                link_text_start = out.len();
            }
            ("a", true) => {
                if let Some(h) = href.take() {
                    let text = &out[link_text_start..];
                    if text != h && !h.starts_with("https://matrix.to/") {
                        out.push_str(&format!(" ({h})"));
                    }
                }
            }
            _ => {}
        }
    }
    out.push_str(&decode_entities(rest));
    out.trim_end_matches('\n').to_string()
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let i = tag.find(&format!("{name}="))? + name.len() + 1;
    let v = &tag[i..];
    let quote = v.chars().next()?;
    let v = if quote == '"' || quote == '\'' { v[1..].split(quote).next()? } else { v.split(' ').next()? };
    Some(decode_entities(v))
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            e if e.starts_with("#x") || e.starts_with("#X") => {
                u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32)
            }
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_text_passes() {
        assert_eq!(sms_text(&json!({"msgtype": "m.text", "body": " Hello €! "})).unwrap(), "Hello €!");
        assert_eq!(sms_text(&json!({"msgtype": "m.notice", "body": "n"})).unwrap(), "n");
        assert_eq!(sms_text(&json!({"msgtype": "m.emote", "body": "waves"})).unwrap(), "* waves");
    }

    #[test]
    fn html_is_reduced() {
        let c = json!({"msgtype": "m.text", "body": "**hi** there", "format": "org.matrix.custom.html",
            "formatted_body": "<strong>hi</strong> there<br/>see <a href=\"https://x.org/a?b=1&amp;c=2\">this</a><ul><li>one</li><li>two &lt;3</li></ul>"});
        assert_eq!(sms_text(&c).unwrap(), "hi there\nsee this (https://x.org/a?b=1&c=2)\n• one\n• two <3");
    }

    #[test]
    fn reply_fallbacks_are_stripped() {
        let c = json!({"msgtype": "m.text", "body": "> <@a:x> earlier\n> more\n\nmy answer",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}});
        assert_eq!(sms_text(&c).unwrap(), "my answer");
        let h = json!({"msgtype": "m.text", "body": "> <@a:x> q\n\nok", "format": "org.matrix.custom.html",
            "formatted_body": "<mx-reply><blockquote>q</blockquote></mx-reply>ok",
            "m.relates_to": {"m.in_reply_to": {"event_id": "$e"}}});
        assert_eq!(sms_text(&h).unwrap(), "ok");
        // Not a reply: a quote is kept.
        assert_eq!(sms_text(&json!({"msgtype": "m.text", "body": "> quoted"})).unwrap(), "> quoted");
    }

    #[test]
    fn unsendable_messages_are_named() {
        assert_eq!(
            sms_text(
                &json!({"msgtype": "m.text", "body": "* x", "m.new_content": {}, "m.relates_to": {"rel_type": "m.replace"}})
            ),
            Err(Unsendable::Edit)
        );
        assert_eq!(sms_text(&json!({"msgtype": "m.image", "body": "a.png"})), Err(Unsendable::Media("image".into())));
        assert_eq!(sms_text(&json!({"msgtype": "m.text", "body": "  "})), Err(Unsendable::Empty));
    }

    #[test]
    fn entities_and_broken_html_do_not_panic() {
        assert_eq!(html_to_text("a &amp b &#x1F600; &#128512; &bogus; <b"), "a &amp b 😀 😀 &bogus; <b");
        assert_eq!(html_to_text("<a href=x>x</a>"), "x");
    }
}
