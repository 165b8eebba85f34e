//! The SMS calls: `sms-list` (request and answer), `send-sms` and `send-status`.

use crate::sms::split::{SplitOptions, TextEncoding, split_buffer};

use super::cesu8;
use super::errors::{Error, Result};
use super::xml::{Element, Field, request, response};

/// The most messages one `sms-list` page may ask for.
pub const MAX_READ_COUNT: u8 = 50;
/// The most recipients one `send-sms` takes.
pub const MAX_PHONES: usize = 50;

/// `POST /api/sms/sms-list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListRequest {
    /// From 1.
    pub page_index: u32,
    /// 1 to [`MAX_READ_COUNT`]; other values are clamped.
    pub read_count: u8,
    /// 1 inbox, 2 sent, 3 drafts.
    pub box_type: u8,
    /// 0 by date.
    pub sort_type: u8,
    pub ascending: bool,
    pub unread_preferred: bool,
}

impl Default for ListRequest {
    fn default() -> Self {
        ListRequest {
            page_index: 1,
            read_count: MAX_READ_COUNT,
            box_type: 1,
            sort_type: 0,
            ascending: true,
            unread_preferred: false,
        }
    }
}

impl ListRequest {
    /// The body, fields in the order B525 firmwares insist on.
    pub fn to_xml(&self) -> String {
        request(&[
            Field::text("PageIndex", self.page_index.max(1)),
            Field::text("ReadCount", self.read_count.clamp(1, MAX_READ_COUNT)),
            Field::text("BoxType", self.box_type),
            Field::text("SortType", self.sort_type),
            Field::text("Ascending", self.ascending as u8),
            Field::text("UnreadPreferred", self.unread_preferred as u8),
        ])
    }
}

/// A message's `SmsType`. Any value is accepted: an unknown one stopped every SMS in the
/// story behind this link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsType {
    Single,
    /// Parts of a long message still arriving: wait until it is stable.
    Multipart,
    DeliveryOk,
    DeliveryFailed,
    Unknown(i64),
    /// Present but not a number.
    Garbled(String),
    Missing,
}

impl SmsType {
    fn from_text(text: Option<&str>) -> SmsType {
        let Some(t) = text.map(str::trim) else { return SmsType::Missing };
        match t.parse::<i64>() {
            Ok(1) => SmsType::Single,
            Ok(2) => SmsType::Multipart,
            Ok(7) => SmsType::DeliveryOk,
            Ok(8) => SmsType::DeliveryFailed,
            Ok(n) => SmsType::Unknown(n),
            Err(_) if t.is_empty() => SmsType::Missing,
            Err(_) => SmsType::Garbled(t.to_string()),
        }
    }

    pub fn is_delivery_report(&self) -> bool {
        matches!(self, SmsType::DeliveryOk | SmsType::DeliveryFailed)
    }
}

/// `YYYY-MM-DD HH:MM:SS` on the router's clock, which knows no time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalDateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl LocalDateTime {
    pub fn parse(text: &str) -> Result<LocalDateTime> {
        let bad = |why| Error::Bad { element: "Date", value: text.into(), why };
        let b = text.trim().as_bytes();
        if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
            return Err(bad("not YYYY-MM-DD HH:MM:SS"));
        }
        let num = |from: usize, to: usize| -> Result<u16> {
            b[from..to].iter().try_fold(0u16, |n, &d| {
                if d.is_ascii_digit() { Ok(n * 10 + (d - b'0') as u16) } else { Err(bad("not YYYY-MM-DD HH:MM:SS")) }
            })
        };
        let t = LocalDateTime {
            year: num(0, 4)?,
            month: num(5, 7)? as u8,
            day: num(8, 10)? as u8,
            hour: num(11, 13)? as u8,
            minute: num(14, 16)? as u8,
            second: num(17, 19)? as u8,
        };
        if !(1..=12).contains(&t.month) || t.day == 0 || t.day > days_in_month(t.year, t.month) {
            return Err(bad("no such day"));
        }
        // A leap second (60) is what a clock may show; it reads as the next second.
        if t.hour > 23 || t.minute > 59 || t.second > 60 {
            return Err(bad("no such time"));
        }
        Ok(t)
    }

    /// Seconds since the Unix epoch of this time on a clock `offset_minutes` east of UTC.
    pub fn unix_seconds(&self, offset_minutes: i32) -> i64 {
        let days = crate::sms::time::days_from_civil(self.year as i64, self.month as i64, self.day as i64);
        days * 86_400 + self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64
            - offset_minutes as i64 * 60
    }

    /// The `Date` a request carries.
    pub fn to_text(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// One `<Message>` of a list. Only `Index` is required (without it the message cannot be
/// deleted); every other field is kept as far as it reads, so a strange message is still
/// shown or reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub index: i64,
    /// 0 new, 1 read, 2 draft, 3 sent, 4 failed.
    pub smstat: Option<i64>,
    /// `Phone` split on `;`, blanks dropped.
    pub phones: Vec<String>,
    pub content: String,
    /// The raw `Date`, and its reading when it is well formed.
    pub date_text: String,
    pub date: Option<LocalDateTime>,
    pub sca: String,
    pub save_type: Option<i64>,
    pub priority: Option<i64>,
    pub sms_type: SmsType,
}

/// The answer of `sms-list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsList {
    /// Messages in the box, all pages together.
    pub count: u64,
    pub messages: Vec<Message>,
    /// Messages that could not be read (no usable `Index`); the others still count.
    pub unreadable: Vec<Error>,
}

fn number<T: std::str::FromStr>(e: &Element, element: &'static str) -> Result<Option<T>> {
    match e.text_of(element).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| Error::Bad { element, value: v.into(), why: "not a number" }),
    }
}

/// `Phone`, `SucPhone` and `FailPhone` hold several numbers joined by `;`.
pub fn split_phones(text: &str) -> Vec<String> {
    text.split(';').map(str::trim).filter(|p| !p.is_empty()).map(String::from).collect()
}

impl Message {
    fn read(e: &Element) -> Result<Message> {
        let index = number(e, "Index")?.ok_or(Error::Missing { element: "Index", parent: "Message".into() })?;
        let text = |name| e.text_of(name).unwrap_or_default().to_string();
        let date_text = text("Date");
        Ok(Message {
            index,
            smstat: number(e, "Smstat").ok().flatten(),
            phones: split_phones(&text("Phone")),
            content: text("Content"),
            date: LocalDateTime::parse(&date_text).ok(),
            date_text,
            sca: text("Sca"),
            save_type: number(e, "SaveType").ok().flatten(),
            priority: number(e, "Priority").ok().flatten(),
            sms_type: SmsType::from_text(e.text_of("SmsType")),
        })
    }
}

/// Reads an `sms-list` answer: one `<Message>`, several, or none (`<Messages/>`).
pub fn parse_list(answer: &[u8]) -> Result<SmsList> {
    list_from(&response(answer)?)
}

/// [`parse_list`] of an answer already read.
pub fn list_from(r: &Element) -> Result<SmsList> {
    let count = number(r, "Count")?.ok_or(Error::Missing { element: "Count", parent: "response".into() })?;
    let mut list = SmsList { count, messages: Vec::new(), unreadable: Vec::new() };
    if let Some(messages) = r.child("Messages") {
        for m in messages.children_named("Message") {
            match Message::read(m) {
                Ok(m) => list.messages.push(m),
                Err(e) => list.unreadable.push(e),
            }
        }
    }
    Ok(list)
}

/// `Reserved` of `send-sms`: the encoding the router is to use.
pub fn reserved(encoding: &TextEncoding) -> u8 {
    match encoding {
        TextEncoding::Ucs2 => 0,
        TextEncoding::Gsm7(_) => 1,
        TextEncoding::EightBit => 2,
    }
}

/// The body of `POST /api/sms/send-sms`, as bytes: text above U+FFFF goes as CESU-8.
/// `Length` counts units of the chosen encoding (septets, UTF-16 units or octets), and
/// `Reserved` names it; the split options limit parts as for every other link.
pub fn send_request(phones: &[&str], content: &str, date: &LocalDateTime, opts: &SplitOptions) -> Result<Vec<u8>> {
    let phones: Vec<&str> = phones.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect();
    if phones.is_empty() {
        return Err(Error::Request("no recipient".into()));
    }
    if phones.len() > MAX_PHONES {
        return Err(Error::Request(format!("{} recipients; at most {MAX_PHONES}", phones.len())));
    }
    if let Some(p) = phones.iter().find(|p| p.contains(';')) {
        return Err(Error::Request(format!("recipient {p:?} holds ';', the router's list separator")));
    }
    let (encoding, buf, _) = split_buffer(content, opts).map_err(|e| Error::Request(e.what))?;
    let length = if encoding == TextEncoding::Ucs2 { buf.len() / 2 } else { buf.len() };
    let body = request(&[
        Field::text("Index", -1),
        Field::Group("Phones", phones.iter().map(|p| Field::text("Phone", p)).collect()),
        Field::text("Sca", ""),
        Field::text("Content", content),
        Field::text("Length", length),
        Field::text("Reserved", reserved(&encoding)),
        Field::text("Date", date.to_text()),
    ]);
    Ok(cesu8::encode(&body))
}

/// `GET /api/sms/send-status`: the send settles when `phone` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendStatus {
    pub total_count: Option<i64>,
    pub cur_index: Option<i64>,
    /// Still being sent.
    pub phone: Vec<String>,
    pub suc_phone: Vec<String>,
    pub fail_phone: Vec<String>,
}

impl SendStatus {
    pub fn settled(&self) -> bool {
        self.phone.is_empty()
    }
}

pub fn parse_send_status(answer: &[u8]) -> Result<SendStatus> {
    send_status_from(&response(answer)?)
}

/// [`parse_send_status`] of an answer already read.
pub fn send_status_from(r: &Element) -> Result<SendStatus> {
    let list = |name| split_phones(r.text_of(name).unwrap_or_default());
    Ok(SendStatus {
        total_count: number(r, "TotalCount")?,
        cur_index: number(r, "CurIndex")?,
        phone: list("Phone"),
        suc_phone: list("SucPhone"),
        fail_phone: list("FailPhone"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hilink::errors::ErrorClass;

    fn message(index: u32, sms_type: &str, phone: &str) -> String {
        format!(
            "<Message><Smstat>0</Smstat><Index>{index}</Index><Phone>{phone}</Phone>\
             <Content>hi &amp; bye</Content><Date>2024-02-29 23:59:58</Date><Sca></Sca>\
             <SaveType>4</SaveType><Priority>0</Priority><SmsType>{sms_type}</SmsType></Message>"
        )
    }

    fn list(count: u32, messages: &str) -> Vec<u8> {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<Count>{count}</Count>\n<Messages>{messages}</Messages>\n</response>\n")
            .into_bytes()
    }

    #[test]
    fn list_request_field_order() {
        let r = ListRequest { read_count: 200, ..ListRequest::default() };
        assert!(r.to_xml().ends_with(
            "<request><PageIndex>1</PageIndex><ReadCount>50</ReadCount><BoxType>1</BoxType>\
             <SortType>0</SortType><Ascending>1</Ascending><UnreadPreferred>0</UnreadPreferred></request>"
        ));
        assert!(
            ListRequest { read_count: 0, page_index: 0, ..r }
                .to_xml()
                .contains("<PageIndex>1</PageIndex><ReadCount>1<")
        );
    }

    #[test]
    fn one_message() {
        let l = parse_list(&list(1, &message(40001, "1", "+4915112345678"))).unwrap();
        assert_eq!(l.count, 1);
        assert!(l.unreadable.is_empty());
        let m = &l.messages[0];
        assert_eq!(m.index, 40001);
        assert_eq!(m.smstat, Some(0));
        assert_eq!(m.phones, ["+4915112345678"]);
        assert_eq!(m.content, "hi & bye");
        assert_eq!(m.date, Some(LocalDateTime { year: 2024, month: 2, day: 29, hour: 23, minute: 59, second: 58 }));
        assert_eq!((m.save_type, m.priority, m.sca.as_str()), (Some(4), Some(0), ""));
        assert_eq!(m.sms_type, SmsType::Single);
    }

    #[test]
    fn several_none_unknown_and_joined_phones() {
        let many = [message(1, "2", "123"), message(2, "7", "1;2; 3 ;"), message(3, "99", "x"), message(4, "", "y")];
        let l = parse_list(&list(9, &many.concat())).unwrap();
        assert_eq!(l.count, 9);
        let types: Vec<_> = l.messages.iter().map(|m| m.sms_type.clone()).collect();
        assert_eq!(types, [SmsType::Multipart, SmsType::DeliveryOk, SmsType::Unknown(99), SmsType::Missing]);
        assert_eq!(l.messages[1].phones, ["1", "2", "3"]);
        assert!(l.messages[1].sms_type.is_delivery_report());

        let none = parse_list(b"<response><Count>0</Count><Messages/></response>").unwrap();
        assert_eq!((none.count, none.messages.len()), (0, 0));
        let none = parse_list(b"<response><Count>0</Count><Messages>\n</Messages></response>").unwrap();
        assert!(none.messages.is_empty());
    }

    #[test]
    fn odd_fields_do_not_lose_the_message() {
        let odd = "<Message><Index>5</Index><Date>yesterday</Date><SmsType>mms?</SmsType><Smstat>x</Smstat></Message>";
        let no_index = "<Message><Index>five</Index></Message><Message><Content>x</Content></Message>";
        let l = parse_list(&list(3, &format!("{odd}{no_index}"))).unwrap();
        assert_eq!(l.messages.len(), 1);
        let m = &l.messages[0];
        assert_eq!((m.index, m.date, m.date_text.as_str()), (5, None, "yesterday"));
        assert_eq!(m.sms_type, SmsType::Garbled("mms?".into()));
        assert_eq!((m.smstat, m.phones.len()), (None, 0));
        let why: Vec<String> = l.unreadable.iter().map(|e| e.to_string()).collect();
        assert_eq!(why, ["<Index> holds \"five\": not a number", "<Index> is missing in <Message>"]);
    }

    #[test]
    fn list_errors() {
        assert_eq!(
            parse_list(b"<response><Messages/></response>").unwrap_err().to_string(),
            "<Count> is missing in <response>"
        );
        assert!(matches!(parse_list(b"<response><Count>1</Count"), Err(Error::Xml { .. })));
        match parse_list(b"<error><code>125002</code><message/></error>") {
            Err(Error::Router(e)) => assert_eq!(e.class(), ErrorClass::Session),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dates() {
        let t = LocalDateTime::parse("2024-01-01 00:00:00").unwrap();
        assert_eq!(t.unix_seconds(0), 1_704_067_200);
        // A router on CET (UTC+1) shows midnight an hour before UTC midnight.
        assert_eq!(t.unix_seconds(60), 1_704_067_200 - 3600);
        assert_eq!(t.unix_seconds(-330), 1_704_067_200 + 330 * 60);
        assert_eq!(t.to_text(), "2024-01-01 00:00:00");
        for bad in [
            "",
            "2023-02-29 00:00:00",
            "2024-13-01 00:00:00",
            "2024-01-01T00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-0a 00:00:00",
            "２０２４-01-01 00:00",
        ] {
            let e = LocalDateTime::parse(bad).unwrap_err();
            assert!(e.to_string().starts_with("<Date> holds"), "{bad}: {e}");
        }
        assert!(LocalDateTime::parse("2000-02-29 12:00:00").is_ok());
    }

    #[test]
    fn send_request_fields_and_encodings() {
        let date = LocalDateTime::parse("2024-05-01 10:20:30").unwrap();
        let opts = SplitOptions::default();
        let body = send_request(&["+491", "0171"], "Hi [x]", &date, &opts).unwrap();
        let body = String::from_utf8(body).unwrap();
        // '[' and ']' are escapes in GSM 7-bit: two septets each.
        assert!(body.ends_with(
            "<request><Index>-1</Index><Phones><Phone>+491</Phone><Phone>0171</Phone></Phones><Sca></Sca>\
             <Content>Hi [x]</Content><Length>8</Length><Reserved>1</Reserved><Date>2024-05-01 10:20:30</Date></request>"
        ), "{body}");

        let body = send_request(&["1"], "a😀", &date, &opts).unwrap();
        assert!(String::from_utf8(body.clone()).is_err(), "CESU-8 is not UTF-8");
        let needle = [
            b"<Content>a".as_slice(),
            &[0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80],
            b"</Content><Length>3</Length><Reserved>0</Reserved>",
        ]
        .concat();
        assert!(body.windows(needle.len()).any(|w| w == needle));

        for (phones, why) in [(vec![], "no recipient"), (vec!["1;2"], "';'"), (vec!["1"; 51], "at most 50")] {
            let e = send_request(&phones, "x", &date, &opts).unwrap_err();
            assert!(e.to_string().contains(why), "{e}");
        }
        let short = SplitOptions { max_parts: 1, ..SplitOptions::default() };
        assert!(matches!(send_request(&["1"], &"x".repeat(200), &date, &short), Err(Error::Request(_))));
    }

    #[test]
    fn send_status() {
        let s = parse_send_status(b"<response><TotalCount>2</TotalCount><CurIndex>1</CurIndex><Phone>+2</Phone><SucPhone>+1</SucPhone><FailPhone></FailPhone></response>").unwrap();
        assert_eq!((s.total_count, s.cur_index), (Some(2), Some(1)));
        assert_eq!(
            (s.phone.clone(), s.suc_phone.clone(), s.fail_phone.len()),
            (vec!["+2".to_string()], vec!["+1".to_string()], 0)
        );
        assert!(!s.settled());
        let s = parse_send_status(b"<response><TotalCount>2</TotalCount><CurIndex>2</CurIndex><Phone/><SucPhone>+1</SucPhone><FailPhone>+2;+3</FailPhone></response>").unwrap();
        assert!(s.settled());
        assert_eq!(s.fail_phone, ["+2", "+3"]);
        assert!(matches!(
            parse_send_status(b"<response><TotalCount>x</TotalCount></response>"),
            Err(Error::Bad { element: "TotalCount", .. })
        ));
    }
}
