//! Building the messages the bridge sends: m-send-req with a SMIL presentation, and the
//! address forms MMS uses for phone numbers.

use super::multipart::Part;
use super::pdu::{From, Message, MessageType};
use super::wsp::ContentType;

/// A file to send: its media type, a file name for the recipient, and the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub content_type: String,
    pub filename: String,
    pub data: Vec<u8>,
}

/// An MMS address for a phone number (`+15551234567/TYPE=PLMN`); e-mail addresses stay as
/// they are.
pub fn address(number: &str) -> String {
    if number.contains('@') || number.contains("/TYPE=") { number.to_string() } else { format!("{number}/TYPE=PLMN") }
}

/// The phone number or e-mail address in an MMS address: `/TYPE=PLMN` and any display
/// name (`Name <a@b>`) removed.
pub fn bare_address(addr: &str) -> String {
    let a = addr.trim();
    let a = match (a.find('<'), a.rfind('>')) {
        (Some(i), Some(j)) if i < j => &a[i + 1..j],
        _ => a,
    };
    let a = match a.to_ascii_uppercase().find("/TYPE=") {
        Some(i) => &a[..i],
        None => a,
    };
    a.trim().to_string()
}

/// An m-send-req (MMS 1.2) from us (the MMSC inserts our number) to `to`, with `text` as
/// a text/plain part and each attachment as a part, tied together by a SMIL presentation.
pub fn send_req(
    transaction_id: &str,
    to: &[String],
    subject: Option<&str>,
    text: Option<&str>,
    attachments: &[Attachment],
) -> Message {
    let mut m = Message::new(MessageType::SEND_REQ);
    m.transaction_id = Some(transaction_id.to_string());
    m.version = Some((1, 2));
    m.from = Some(From::Insert);
    m.to = to.iter().map(|a| address(a)).collect();
    m.subject = subject.map(str::to_string);
    m.message_class = Some("Personal".into());
    let mut ct = ContentType::new("application/vnd.wap.multipart.related");
    ct.params = vec![("type".into(), "application/smil".into()), ("start".into(), "<smil>".into())];
    m.content_type = Some(ct);

    // The presentation and the text part have these names; attachments must not take them.
    let mut names: Vec<String> = ["smil", "smil.xml", "text.txt"].map(String::from).to_vec();
    let mut media = Vec::new();
    for a in attachments {
        let name = unique_name(&a.filename, &names);
        names.push(name.clone());
        let mut ct = ContentType::new(&a.content_type);
        ct.params.push(("name".into(), name.clone()));
        let mut p = Part::new(ct, a.data.clone());
        p.headers.content_id = Some(format!("<{name}>"));
        p.headers.content_location = Some(name.clone());
        media.push((region(&a.content_type), name, p));
    }
    let text_part = text.filter(|t| !t.is_empty()).map(|t| {
        let mut ct = ContentType::new("text/plain");
        ct.params.push(("charset".into(), "utf-8".into()));
        ct.charset = Some(super::tables::UTF8);
        let mut p = Part::new(ct, t.as_bytes().to_vec());
        p.headers.content_id = Some("<text.txt>".into());
        p.headers.content_location = Some("text.txt".into());
        p
    });

    let mut smil = ContentType::new("application/smil");
    smil.params.push(("charset".into(), "utf-8".into()));
    smil.charset = Some(super::tables::UTF8);
    let smil_text = smil_for(&media.iter().map(|(r, n, _)| (*r, n.as_str())).collect::<Vec<_>>(), text_part.is_some());
    let mut smil_part = Part::new(smil, smil_text.into_bytes());
    smil_part.headers.content_id = Some("<smil>".into());
    smil_part.headers.content_location = Some("smil.xml".into());

    m.parts.push(smil_part);
    m.parts.extend(media.into_iter().map(|(_, _, p)| p));
    m.parts.extend(text_part);
    m
}

/// Where a media type goes in the presentation, and its SMIL element.
fn region(content_type: &str) -> (&'static str, &'static str) {
    match content_type.split('/').next().unwrap_or("") {
        "image" => ("Image", "img"),
        "video" => ("Image", "video"),
        "audio" => ("", "audio"),
        _ => ("", "ref"),
    }
}

fn smil_for(media: &[((&str, &str), &str)], text: bool) -> String {
    let mut body = String::new();
    let slides = media.len().max(usize::from(text));
    for i in 0..slides {
        body.push_str("<par dur=\"5000ms\">");
        if let Some(((region, element), name)) = media.get(i) {
            let name = xml_escape(name);
            if region.is_empty() {
                body.push_str(&format!("<{element} src=\"{name}\"/>"));
            } else {
                body.push_str(&format!("<{element} src=\"{name}\" region=\"{region}\"/>"));
            }
        }
        if text && i == 0 {
            body.push_str("<text src=\"text.txt\" region=\"Text\"/>");
        }
        body.push_str("</par>");
    }
    format!(
        "<smil><head><layout><root-layout/><region id=\"Image\" top=\"0\" left=\"0\" height=\"80%\" width=\"100%\" fit=\"meet\"/>\
         <region id=\"Text\" top=\"80%\" left=\"0\" height=\"20%\" width=\"100%\"/></layout></head><body>{body}</body></smil>"
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// File names must differ within a message: phones match SMIL to parts by them.
fn unique_name(name: &str, taken: &[String]) -> String {
    let clean = super::safe_filename(name, "attachment");
    if !taken.contains(&clean) {
        return clean;
    }
    let (stem, ext) = match clean.rfind('.') {
        Some(i) if i > 0 => (&clean[..i], &clean[i..]),
        _ => (clean.as_str(), ""),
    };
    (2..).map(|n| format!("{stem}-{n}{ext}")).find(|c| !taken.contains(c)).unwrap_or(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(address("+15551234567"), "+15551234567/TYPE=PLMN");
        assert_eq!(address("a@b.c"), "a@b.c");
        assert_eq!(bare_address("+44777/TYPE=PLMN"), "+44777");
        assert_eq!(bare_address("NowMMS <nowsms@now.co.uk>"), "nowsms@now.co.uk");
        assert_eq!(bare_address(" 12345/type=plmn"), "12345");
    }

    #[test]
    fn send_req_has_smil_first_and_unique_names() {
        let a = |n: &str| Attachment { content_type: "image/jpeg".into(), filename: n.into(), data: vec![1, 2, 3] };
        let m = send_req(
            "t1",
            &["+1555".into()],
            Some("Hi"),
            Some("caption"),
            &[a("x.jpg"), a("x.jpg"), a("../../etc/passwd"), a("smil"), a("text.txt")],
        );
        let names: Vec<_> = m.parts.iter().map(|p| p.headers.content_location.clone().unwrap()).collect();
        assert_eq!(names, ["smil.xml", "x.jpg", "x-2.jpg", "passwd", "smil-2", "text-2.txt", "text.txt"]);
        let smil = String::from_utf8(m.parts[0].data.clone()).unwrap();
        assert!(smil.contains("src=\"x-2.jpg\"") && smil.contains("text.txt"), "{smil}");
        let back = crate::mms::decode(&crate::mms::encode(&m).unwrap()).unwrap();
        assert_eq!(back.to, ["+1555/TYPE=PLMN"]);
        assert_eq!(back.parts.len(), 7);
        assert_eq!(back.parts[6].text().unwrap().text, "caption");
    }
}
