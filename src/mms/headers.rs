//! WSP header lists, as they follow a push's content type and each multipart entry's.

use super::tables;
use super::wsp::{ContentType, Reader, Result, latin1_or_utf8};

/// A header as readable text, and the values the bridge uses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers {
    pub list: Vec<(String, String)>,
    pub content_id: Option<String>,
    pub content_location: Option<String>,
    /// From Content-Disposition's filename parameter.
    pub filename: Option<String>,
    /// X-Wap-Application-Id, by name.
    pub application_id: Option<String>,
}

/// Reads headers until `r` is empty. Values we don't model are kept as text or hex.
pub fn read(r: &mut Reader, what: &str) -> Result<Headers> {
    let mut h = Headers::default();
    while !r.is_empty() {
        let first = r.peek().unwrap_or(0);
        if first & 0x80 == 0 {
            // Application-header: Token-text name, Text-string value.
            let name = r.text(what)?;
            let value = r.text(what)?;
            match name.to_ascii_lowercase().as_str() {
                "content-id" => h.content_id = Some(value.clone()),
                "content-location" => h.content_location = Some(value.clone()),
                _ => {}
            }
            h.list.push((name, value));
            continue;
        }
        let code = r.short_integer(what)?;
        let name = tables::header_name(code).map(str::to_string).unwrap_or_else(|| format!("0x{code:02x}"));
        let what = &format!("{what} {name}");
        let value = match code {
            tables::CONTENT_LOCATION => {
                let v = r.text(what)?;
                h.content_location = Some(v.clone());
                v
            }
            tables::CONTENT_ID => {
                let v = r.quoted(what)?;
                h.content_id = Some(v.clone());
                v
            }
            tables::CONTENT_DISPOSITION | tables::CONTENT_DISPOSITION_14 => {
                let (v, filename) = disposition(r, what)?;
                if filename.is_some() {
                    h.filename = filename;
                }
                v
            }
            tables::X_WAP_APPLICATION_ID => {
                let v = match r.peek() {
                    Some(32..=127) => r.text(what)?,
                    _ => {
                        let id = r.integer(what)?;
                        tables::application_id(id).map(str::to_string).unwrap_or_else(|| id.to_string())
                    }
                };
                h.application_id = Some(v.clone());
                v
            }
            tables::CONTENT_LENGTH | tables::DATE | tables::PUSH_FLAG => r.integer(what)?.to_string(),
            _ => display(r.skip_value(what)?),
        };
        h.list.push((name, value));
    }
    Ok(h)
}

/// Content-Disposition: value-length, disposition token, parameters; returns the display
/// form and the filename (or name) parameter.
fn disposition(r: &mut Reader, what: &str) -> Result<(String, Option<String>)> {
    if r.peek().is_some_and(|b| b > 31) {
        let raw = r.skip_value(what)?;
        return Ok((display(raw), None));
    }
    let len = r.value_length(what)?;
    let mut v = r.sub(len, what)?;
    let kind = match v.peek() {
        Some(128) => "form-data".to_string(),
        Some(129) => "attachment".to_string(),
        Some(130) => "inline".to_string(),
        Some(32..=127) => {
            let mut ct = ContentType::new(&v.text(what)?);
            v.params(&mut ct, what)?;
            return Ok((describe(&ct), file_param(&ct)));
        }
        _ => {
            v.rest();
            return Ok((String::new(), None));
        }
    };
    v.u8(what)?;
    let mut ct = ContentType::new(&kind);
    v.params(&mut ct, what)?;
    Ok((describe(&ct), file_param(&ct)))
}

fn file_param(ct: &ContentType) -> Option<String> {
    ct.param("filename").or_else(|| ct.param("name")).map(str::to_string)
}

fn describe(ct: &ContentType) -> String {
    let mut s = ct.media.clone();
    for (k, v) in &ct.params {
        s.push_str(&format!("; {k}={v}"));
    }
    s
}

fn display(raw: &[u8]) -> String {
    match raw {
        [b, ..] if *b >= 32 && *b < 128 => latin1_or_utf8(raw.split(|&c| c == 0).next().unwrap_or(raw)),
        [b] if *b >= 128 => (b & 0x7F).to_string(),
        _ => raw.iter().map(|b| format!("{b:02x}")).collect(),
    }
}
