//! The router's `<error><code>…</code></error>` answers (codes as the web UI and public
//! clients know them) and what the link does about each, plus this codec's own error.

/// What a router error code asks of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Not logged in: log in.
    Login,
    /// Token or session no longer valid: rebuild the session and retry once.
    Session,
    /// Wrong user name or password: retried slowly, never in a loop.
    BadCredentials,
    /// Too many failed attempts; the router refuses logins for a while.
    LockedOut,
    /// Already logged in, too many sessions, or logged in elsewhere: back off.
    TooManySessions,
    /// The router (or its SMS part) is busy: retry.
    Busy,
    /// The router did not understand the request: a bug on our side, log it.
    FormatBug,
    Other,
}

pub fn error_class(code: i64) -> ErrorClass {
    match code {
        100003 => ErrorClass::Login,
        125001..=125003 => ErrorClass::Session,
        // 108001 (unknown user) is a wrong credential too, whatever the firmware's reason.
        108001 | 108002 | 108006 => ErrorClass::BadCredentials,
        108007 => ErrorClass::LockedOut,
        108003 | 108005 | 108009 => ErrorClass::TooManySessions,
        100004 | 113018 => ErrorClass::Busy,
        100005 => ErrorClass::FormatBug,
        _ => ErrorClass::Other,
    }
}

/// The meaning of a router error code in words.
pub fn error_words(code: i64) -> &'static str {
    match code {
        100002 => "not supported by this firmware",
        100003 => "login required",
        100004 => "system busy",
        100005 => "request format error",
        108001 => "wrong user name",
        108002 => "wrong password",
        108003 => "already logged in",
        108005 => "too many sessions",
        108006 => "wrong user name or password",
        108007 => "too many login attempts, login locked",
        108009 => "logged in elsewhere",
        113018 => "SMS system busy",
        125001 => "wrong token",
        125002 => "wrong session",
        125003 => "wrong session token",
        _ => "unknown error",
    }
}

/// An `<error>` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouterError {
    pub code: i64,
    /// The router's own `<message>`, mostly empty.
    pub message: String,
}

impl RouterError {
    pub fn class(&self) -> ErrorClass {
        error_class(self.code)
    }
}

impl std::fmt::Display for RouterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "router error {} ({})", self.code, error_words(self.code))?;
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// Why an answer could not be read or a request not built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("the router answered {0}")]
    Router(RouterError),
    #[error("malformed XML at byte {at}: {what}")]
    Xml { what: String, at: u64 },
    #[error("expected <{expected}> as the answer, got <{got}>")]
    Root { expected: &'static str, got: String },
    #[error("<{element}> is missing in <{parent}>")]
    Missing { element: &'static str, parent: String },
    #[error("<{element}> holds {value:?}: {why}")]
    Bad { element: &'static str, value: String, why: &'static str },
    #[error("cannot build the request: {0}")]
    Request(String),
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_of_the_table() {
        let table = [
            (100003, ErrorClass::Login),
            (125001, ErrorClass::Session),
            (125002, ErrorClass::Session),
            (125003, ErrorClass::Session),
            (108002, ErrorClass::BadCredentials),
            (108006, ErrorClass::BadCredentials),
            (108007, ErrorClass::LockedOut),
            (108003, ErrorClass::TooManySessions),
            (108005, ErrorClass::TooManySessions),
            (100004, ErrorClass::Busy),
            (113018, ErrorClass::Busy),
            (100005, ErrorClass::FormatBug),
            (100002, ErrorClass::Other),
            (-1, ErrorClass::Other),
        ];
        for (code, class) in table {
            assert_eq!(error_class(code), class, "{code}");
        }
    }

    #[test]
    fn words_in_display() {
        let e = RouterError { code: 125003, message: String::new() };
        assert_eq!(e.to_string(), "router error 125003 (wrong session token)");
        let e = RouterError { code: 7, message: "odd".into() };
        assert_eq!(e.to_string(), "router error 7 (unknown error): odd");
    }
}
