//! USSD through the modem: the request, then the network's `+CUSD` answer, which some
//! modems print before their OK and most after it.

use std::time::Duration;

use super::channel::{AtError, Channel, Event};
use crate::at::{Urc, ussd};
use crate::backend::UssdAnswer;

/// How long the network may take to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The outer error is the channel's (the session handles it); the inner one is for the user.
pub(super) async fn run(
    ch: &mut Channel,
    code: &str,
    packed: bool,
    t: Duration,
) -> Result<Result<UssdAnswer, String>, AtError> {
    let cmd = match ussd::request(code, packed) {
        Ok(cmd) => cmd,
        Err(e) => return Ok(Err(e)),
    };
    let info = match ch.command(&cmd, t).await {
        Ok(info) => info,
        Err(AtError::Failed(f)) => return Ok(Err(format!("the modem refused the USSD request: {f}"))),
        Err(e) => return Err(e),
    };
    let early = info.iter().find_map(|l| match Urc::parse(l) {
        Some(u @ Urc::Ussd { .. }) => Some(u),
        _ => None,
    });
    let urc = match early {
        Some(u) => Some(u),
        None => match ch.wait_for(ANSWER_TIMEOUT, |e| matches!(e, Event::Urc(Urc::Ussd { .. }))).await? {
            Some(Event::Urc(u)) => Some(u),
            _ => None,
        },
    };
    Ok(match urc {
        Some(Urc::Ussd { status, text, dcs }) => Ok(UssdAnswer {
            text: text.map(|t| ussd::answer_text(&t, dcs)).unwrap_or_default(),
            more: status == 1,
            status: ussd::status_words(status).to_string(),
        }),
        _ => Err(format!("no answer from the network within {} s", ANSWER_TIMEOUT.as_secs())),
    })
}
