//! Assigned numbers from WAP-230 (WSP) and the OMA registries that WAP push and MMS use.

/// Well-known content types (WSP table 40 and the OMNA registry), by their short code.
pub const CONTENT_TYPES: &[&str] = &[
    "*/*",
    "text/*",
    "text/html",
    "text/plain",
    "text/x-hdml",
    "text/x-ttml",
    "text/x-vCalendar",
    "text/x-vCard",
    "text/vnd.wap.wml",
    "text/vnd.wap.wmlscript",
    "text/vnd.wap.wta-event",
    "multipart/*",
    "multipart/mixed",
    "multipart/form-data",
    "multipart/byteranges", // WAP-230 misspells it "byterantes"
    "multipart/alternative",
    "application/*",
    "application/java-vm",
    "application/x-www-form-urlencoded",
    "application/x-hdmlc",
    "application/vnd.wap.wmlc",
    "application/vnd.wap.wmlscriptc",
    "application/vnd.wap.wta-eventc",
    "application/vnd.wap.uaprof",
    "application/vnd.wap.wtls-ca-certificate",
    "application/vnd.wap.wtls-user-certificate",
    "application/x-x509-ca-cert",
    "application/x-x509-user-cert",
    "image/*",
    "image/gif",
    "image/jpeg",
    "image/tiff",
    "image/png",
    "image/vnd.wap.wbmp",
    "application/vnd.wap.multipart.*",
    "application/vnd.wap.multipart.mixed",
    "application/vnd.wap.multipart.form-data",
    "application/vnd.wap.multipart.byteranges",
    "application/vnd.wap.multipart.alternative",
    "application/xml",
    "text/xml",
    "application/vnd.wap.wbxml",
    "application/x-x968-cross-cert",
    "application/x-x968-ca-cert",
    "application/x-x968-user-cert",
    "text/vnd.wap.si",
    "application/vnd.wap.sic",
    "text/vnd.wap.sl",
    "application/vnd.wap.slc",
    "text/vnd.wap.co",
    "application/vnd.wap.coc",
    "application/vnd.wap.multipart.related",
    "application/vnd.wap.sia",
    "text/vnd.wap.connectivity-xml",
    "application/vnd.wap.connectivity-wbxml",
    "application/pkcs7-mime",
    "application/vnd.wap.hashed-certificate",
    "application/vnd.wap.signed-certificate",
    "application/vnd.wap.cert-response",
    "application/xhtml+xml",
    "application/wml+xml",
    "text/css",
    "application/vnd.wap.mms-message",
    "application/vnd.wap.rollover-certificate",
    "application/vnd.wap.locc+wbxml",
    "application/vnd.wap.loc+xml",
    "application/vnd.syncml.dm+wbxml",
    "application/vnd.syncml.dm+xml",
    "application/vnd.syncml.notification",
    "application/vnd.wap.xhtml+xml",
    "application/vnd.wv.csp.cir",
    "application/vnd.oma.dd+xml",
    "application/vnd.oma.drm.message",
    "application/vnd.oma.drm.content",
    "application/vnd.oma.drm.rights+xml",
    "application/vnd.oma.drm.rights+wbxml",
    "application/vnd.wv.csp+xml",
    "application/vnd.wv.csp+wbxml",
    "application/vnd.syncml.ds.notification",
    "audio/*",
    "video/*",
    "application/vnd.oma.dd2+xml",
    "application/mikey",
];

pub fn content_type_name(code: u64) -> Option<&'static str> {
    CONTENT_TYPES.get(usize::try_from(code).ok()?).copied()
}

pub fn content_type_code(name: &str) -> Option<u8> {
    CONTENT_TYPES.iter().position(|t| t.eq_ignore_ascii_case(name)).map(|i| i as u8)
}

/// How a typed parameter's value is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    QValue,
    Charset,
    Version,
    Integer,
    TextString,
    TextValue,
    ShortInteger,
    ConstrainedMedia,
    Date,
    FieldName,
    NoValue,
}

/// Well-known parameters (WSP table 38, encoding versions 1.1 to 1.4). Name and filename
/// appear twice: 1.4 re-assigned them as Text-value, and phones use both.
pub fn param(code: u64) -> Option<(&'static str, ParamKind)> {
    use ParamKind::*;
    Some(match code {
        0x00 => ("q", QValue),
        0x01 => ("charset", Charset),
        0x02 => ("level", Version),
        0x03 => ("type", Integer),
        0x05 => ("name", TextString),
        0x06 => ("filename", TextString),
        0x07 => ("differences", FieldName),
        0x08 => ("padding", ShortInteger),
        0x09 => ("type", ConstrainedMedia),
        0x0A => ("start", TextString),
        0x0B => ("start-info", TextString),
        0x0C => ("comment", TextString),
        0x0D => ("domain", TextString),
        0x0E => ("max-age", Integer),
        0x0F => ("path", TextString),
        0x10 => ("secure", NoValue),
        0x11 => ("sec", ShortInteger),
        0x12 => ("mac", TextValue),
        0x13 => ("creation-date", Date),
        0x14 => ("modification-date", Date),
        0x15 => ("read-date", Date),
        0x16 => ("size", Integer),
        0x17 => ("name", TextValue),
        0x18 => ("filename", TextValue),
        0x19 => ("start", TextValue),
        0x1A => ("start-info", TextValue),
        0x1B => ("comment", TextValue),
        0x1C => ("domain", TextValue),
        0x1D => ("path", TextValue),
        _ => return None,
    })
}

/// The code we write a parameter under: the 1.1–1.3 assignments, which every decoder knows.
pub fn param_code(name: &str) -> Option<u8> {
    Some(match name {
        "charset" => 0x01,
        "type" => 0x09,
        "name" => 0x05,
        "filename" => 0x06,
        "start" => 0x0A,
        "start-info" => 0x0B,
        _ => return None,
    })
}

/// Well-known header field names (WSP table 39).
pub const HEADER_NAMES: &[&str] = &[
    "Accept",
    "Accept-Charset",
    "Accept-Encoding",
    "Accept-Language",
    "Accept-Ranges",
    "Age",
    "Allow",
    "Authorization",
    "Cache-Control",
    "Connection",
    "Content-Base",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Location",
    "Content-MD5",
    "Content-Range",
    "Content-Type",
    "Date",
    "Etag",
    "Expires",
    "From",
    "Host",
    "If-Modified-Since",
    "If-Match",
    "If-None-Match",
    "If-Range",
    "If-Unmodified-Since",
    "Location",
    "Last-Modified",
    "Max-Forwards",
    "Pragma",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Public",
    "Range",
    "Referer",
    "Retry-After",
    "Server",
    "Transfer-Encoding",
    "Upgrade",
    "User-Agent",
    "Vary",
    "Via",
    "Warning",
    "WWW-Authenticate",
    "Content-Disposition",
    "X-Wap-Application-Id",
    "X-Wap-Content-URI",
    "X-Wap-Initiator-URI",
    "Accept-Application",
    "Bearer-Indication",
    "Push-Flag",
    "Profile",
    "Profile-Diff",
    "Profile-Warning",
    "Expect",
    "TE",
    "Trailer",
    "Accept-Charset",
    "Accept-Encoding",
    "Cache-Control",
    "Content-Range",
    "X-Wap-Tod",
    "Content-ID",
    "Set-Cookie",
    "Cookie",
    "Encoding-Version",
    "Profile-Warning",
    "Content-Disposition",
    "X-WAP-Security",
    "Cache-Control",
];

pub fn header_name(code: u8) -> Option<&'static str> {
    HEADER_NAMES.get(code as usize).copied()
}

pub const CONTENT_LOCATION: u8 = 0x0E;
pub const CONTENT_LENGTH: u8 = 0x0D;
pub const CONTENT_DISPOSITION: u8 = 0x2E;
pub const CONTENT_DISPOSITION_14: u8 = 0x45;
pub const CONTENT_ID: u8 = 0x40;
pub const X_WAP_APPLICATION_ID: u8 = 0x2F;
pub const DATE: u8 = 0x12;
pub const PUSH_FLAG: u8 = 0x34;

/// Push application ids (OMNA registry), by their assigned code.
pub fn application_id(code: u64) -> Option<&'static str> {
    Some(match code {
        0x00 => "x-wap-application:*",
        0x01 => "x-wap-application:push.sia",
        0x02 => "x-wap-application:wml.ua",
        0x03 => "x-wap-application:wta.ua",
        0x04 => "x-wap-application:mms.ua",
        0x05 => "x-wap-application:push.syncml",
        0x06 => "x-wap-application:loc.ua",
        0x07 => "x-wap-application:syncml.dm",
        0x08 => "x-wap-application:drm.ua",
        0x09 => "x-wap-application:emn.ua",
        0x0A => "x-wap-application:wv.ua",
        _ => return None,
    })
}

/// IANA character set names by MIBenum, for those MMS and WAP traffic uses.
pub fn charset_name(mib: u64) -> Option<&'static str> {
    Some(match mib {
        3 => "us-ascii",
        4 => "iso-8859-1",
        5 => "iso-8859-2",
        6 => "iso-8859-3",
        7 => "iso-8859-4",
        8 => "iso-8859-5",
        9 => "iso-8859-6",
        10 => "iso-8859-7",
        11 => "iso-8859-8",
        12 => "iso-8859-9",
        13 => "iso-8859-10",
        17 => "shift_jis",
        18 => "euc-jp",
        37 => "iso-2022-kr",
        38 => "euc-kr",
        39 => "iso-2022-jp",
        40 => "iso-2022-jp-2",
        106 => "utf-8",
        109 => "iso-8859-13",
        110 => "iso-8859-14",
        111 => "iso-8859-15",
        112 => "iso-8859-16",
        113 => "gbk",
        114 => "gb18030",
        1000 => "iso-10646-ucs-2",
        1013 => "utf-16be",
        1014 => "utf-16le",
        1015 => "utf-16",
        2025 => "gb2312",
        2026 => "big5",
        2084 => "koi8-r",
        2088 => "koi8-u",
        2250 => "windows-1250",
        2251 => "windows-1251",
        2252 => "windows-1252",
        2253 => "windows-1253",
        2254 => "windows-1254",
        2255 => "windows-1255",
        2256 => "windows-1256",
        2257 => "windows-1257",
        2258 => "windows-1258",
        _ => return None,
    })
}

pub const UTF8: u64 = 106;

/// The MIBenum of a charset name (any case; a few common aliases too).
pub fn charset_mib(name: &str) -> Option<u64> {
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "ascii" => Some(3),
        "utf8" => Some(UTF8),
        "ucs-2" | "ucs2" => Some(1000),
        _ => (1..=2258).find(|&m| charset_name(m) == Some(name.as_str())),
    }
}
