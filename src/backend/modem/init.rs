//! The init sequence: a known state whatever the modem was doing (after our crash, a
//! half-typed PDU, a reboot), the SIM unlocked once, PDU mode, storage, indications.

use std::time::Duration;

use super::channel::{AtError, Channel};
use crate::at::answers::{self, Registration};
use crate::at::{Final, cme_words};
use crate::config::{ModemConfig, Storage};

/// What init learned about the modem.
#[derive(Debug, Clone, Default)]
pub(super) struct ModemInfo {
    pub manufacturer: String,
    pub model: String,
    /// The storage read, written and received into (SM, ME or MT).
    pub storage: String,
    /// The SMSC put in sent PDUs: None lets the modem use the SIM's.
    pub smsc: Option<String>,
    /// Huawei wants USSD as packed hex.
    pub huawei: bool,
    /// The new-message indication mode set, None if the modem refused them all (then only
    /// polling finds messages).
    pub cnmi: Option<[u32; 5]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum InitError {
    /// The channel failed: unplugged, or the modem does not answer.
    Channel(AtError),
    /// The SIM needs a person: none inserted, PIN needed, PIN refused, PUK needed.
    Sim(String),
    /// The PIN was refused: never entered again by this process.
    WrongPin(String),
    /// A setting that only a person can fix.
    Config(String),
}

impl From<AtError> for InitError {
    fn from(e: AtError) -> Self {
        InitError::Channel(e)
    }
}

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitError::Channel(e) => write!(f, "{e}"),
            InitError::Sim(s) | InitError::WrongPin(s) | InitError::Config(s) => f.write_str(s),
        }
    }
}

/// `pin_tried` is set when the PIN is entered and cleared only when the SIM confirms it:
/// a PIN that was refused, or whose fate is unknown, is never entered again.
pub(super) async fn run(ch: &mut Channel, cfg: &ModemConfig, pin_tried: &mut bool) -> Result<ModemInfo, InitError> {
    let t = Duration::from_secs(cfg.command_timeout);
    // ESC ends a prompt left open by a crash in the middle of a send; CR a half-typed line.
    ch.abort().await?;
    let mut alive = Err(AtError::Timeout("AT".into(), 1));
    for _ in 0..5 {
        alive = ch.command("AT", Duration::from_secs(2)).await;
        if !matches!(alive, Err(AtError::Timeout(..))) {
            break;
        }
    }
    alive?;
    ch.command("ATE0", t).await?;
    optional(ch.command("AT+CMEE=1", t).await)?;
    let mut info = ModemInfo {
        manufacturer: optional(ch.command("AT+CGMI", t).await)?.unwrap_or_default().join(" "),
        model: optional(ch.command("AT+CGMM", t).await)?.unwrap_or_default().join(" "),
        ..ModemInfo::default()
    };
    info.huawei = info.manufacturer.to_ascii_lowercase().contains("huawei");
    unlock(ch, cfg, pin_tried, t).await?;
    if info.huawei {
        // Stops ^RSSI, ^MODE, ^BOOT … from interleaving with answers.
        optional(ch.command("AT^CURC=0", t).await)?;
    }
    // Acknowledgements (+CNMA) are not asked for: phase 2 service only.
    optional(ch.command("AT+CSMS=0", t).await)?;
    match ch.command("AT+CMGF=0", t).await {
        Ok(_) => {}
        Err(AtError::Failed(f)) => {
            return Err(InitError::Config(format!("the modem refused PDU mode (AT+CMGF=0: {f}); it cannot be used")));
        }
        Err(e) => return Err(e.into()),
    }
    info.storage = storage(ch, cfg, t).await?;
    info.cnmi = indications(ch, cfg, t).await?;
    let sim_smsc = optional(ch.command("AT+CSCA?", t).await)?
        .and_then(|lines| lines.iter().find_map(|l| answers::csca(l)))
        .flatten();
    info.smsc = match (&cfg.smsc, sim_smsc) {
        (Some(ours), _) => Some(ours.clone()),
        (None, Some(_)) => None,
        (None, None) => {
            return Err(InitError::Config(
                "the SIM has no SMSC number (AT+CSCA? is empty): set `smsc` to your operator's, e.g. \"+447785016005\""
                    .into(),
            ));
        }
    };
    for cmd in &cfg.init {
        if let Err(e) = ch.command(cmd, t).await {
            if let AtError::Gone(_) = e {
                return Err(e.into());
            }
            tracing::warn!(cmd, error = %e, "an init command from the config failed");
        }
    }
    Ok(info)
}

/// Enters the PIN once when the SIM asks for it. A refused PIN is never tried again: three
/// wrong tries lock the SIM.
async fn unlock(ch: &mut Channel, cfg: &ModemConfig, pin_tried: &mut bool, t: Duration) -> Result<(), InitError> {
    // A SIM still starting answers "busy" (CME 14) for a few seconds.
    let mut state = String::new();
    for _ in 0..10 {
        match ch.command("AT+CPIN?", t).await {
            Ok(lines) => {
                state = lines.iter().find_map(|l| answers::cpin(l)).unwrap_or_default();
                break;
            }
            Err(AtError::Failed(Final::CmeError(10))) => return Err(InitError::Sim("no SIM card".into())),
            Err(AtError::Failed(Final::CmeError(14))) => tokio::time::sleep(Duration::from_secs(1)).await,
            Err(AtError::Failed(Final::CmeError(c))) => {
                return Err(InitError::Sim(format!("SIM problem: {} (+CME ERROR: {c})", cme_words(c))));
            }
            Err(e) => return Err(e.into()),
        }
    }
    match state.as_str() {
        "READY" => {
            *pin_tried = false;
            Ok(())
        }
        "SIM PIN" => {
            let Some(pin) = &cfg.pin else {
                return Err(InitError::Sim("the SIM needs its PIN: set `pin` in the config".into()));
            };
            if *pin_tried {
                return Err(InitError::WrongPin(wrong_pin()));
            }
            // A try already used (by an earlier run of the bridge, or a person) means the
            // PIN may be wrong: the SIM's own count outlives this process.
            if let Some((left, full)) = optional(ch.command("AT+CPINR=\"SIM PIN\"", t).await)?
                .and_then(|lines| lines.iter().find_map(|l| answers::cpinr(l)))
                && left < full
            {
                *pin_tried = true;
                return Err(InitError::WrongPin(format!(
                    "the SIM has {left} of {full} PIN tries left, so a wrong PIN was entered before; the bridge \
                     does not risk another: check `pin`, enter it once by hand (AT+CPIN), and restart"
                )));
            }
            // Counted as tried before it is sent: a timeout or an odd answer must not lead
            // to a second try (three wrong ones lock the SIM).
            *pin_tried = true;
            match ch.command(&format!("AT+CPIN=\"{pin}\""), t).await {
                Ok(_) => {}
                Err(AtError::Gone(g)) => return Err(AtError::Gone(g).into()),
                Err(_) => return Err(InitError::WrongPin(wrong_pin())),
            }
            // The SIM takes a moment to be ready after the PIN.
            for _ in 0..20 {
                match ch.command("AT+CPIN?", t).await {
                    Ok(lines) if lines.iter().any(|l| answers::cpin(l).as_deref() == Some("READY")) => {
                        *pin_tried = false;
                        return Ok(());
                    }
                    Err(AtError::Gone(g)) => return Err(AtError::Gone(g).into()),
                    _ => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
            Err(InitError::WrongPin(wrong_pin()))
        }
        "SIM PUK" => {
            Err(InitError::Sim("the SIM is locked (PUK needed): unlock it in a phone, then set the right `pin`".into()))
        }
        "" => Err(InitError::Sim("the modem did not say whether the SIM is ready (AT+CPIN?)".into())),
        other => Err(InitError::Sim(format!("the SIM is not ready: {other}"))),
    }
}

fn wrong_pin() -> String {
    "the SIM refused the PIN (or never confirmed it); it is not tried again, because three wrong tries lock the SIM: fix `pin` and restart"
        .into()
}

/// `AT+CPMS` naming all three storages (some modems set only the first otherwise).
async fn storage(ch: &mut Channel, cfg: &ModemConfig, t: Duration) -> Result<String, InitError> {
    let offered =
        optional(ch.command("AT+CPMS=?", t).await)?.and_then(|lines| lines.iter().find_map(|l| answers::cpms_test(l)));
    let in_all = |s: &str| offered.as_ref().is_some_and(|o| o.iter().all(|l| l.iter().any(|x| x == s)));
    let wanted = match cfg.storage {
        Storage::SM => "SM",
        Storage::ME => "ME",
        Storage::MT => "MT",
        // The modem's own memory is larger than the SIM's.
        Storage::Auto if in_all("ME") => "ME",
        Storage::Auto => "SM",
    };
    match ch.command(&format!("AT+CPMS=\"{wanted}\",\"{wanted}\",\"{wanted}\""), t).await {
        Ok(_) => Ok(wanted.to_string()),
        Err(AtError::Failed(f)) if cfg.storage == Storage::Auto && wanted != "SM" => {
            tracing::warn!(storage = wanted, error = %f, "storage refused, using the SIM");
            ch.command("AT+CPMS=\"SM\",\"SM\",\"SM\"", t).await?;
            Ok("SM".into())
        }
        Err(AtError::Failed(f)) => {
            Err(InitError::Config(format!("the modem refused storage {wanted} (AT+CPMS: {f}); try `storage: auto`")))
        }
        Err(e) => Err(e.into()),
    }
}

/// New messages stored and announced (`+CMTI`), status reports routed or announced. Never
/// a mode that needs `+CNMA`: a missed acknowledgement makes many modems stop delivering.
async fn indications(ch: &mut Channel, cfg: &ModemConfig, t: Duration) -> Result<Option<[u32; 5]>, InitError> {
    let allowed = optional(ch.command("AT+CNMI=?", t).await)?
        .and_then(|lines| lines.iter().find_map(|l| answers::cnmi_test(l)))
        .unwrap_or_default();
    let mut chosen = answers::choose_cnmi(&allowed);
    if !cfg.delivery_reports {
        chosen[3] = 0;
    }
    let tries = [chosen, [2, 1, 0, 0, 0], [1, 1, 0, 0, 0]];
    for c in tries {
        let cmd = format!("AT+CNMI={},{},{},{},{}", c[0], c[1], c[2], c[3], c[4]);
        match ch.command(&cmd, t).await {
            Ok(_) => return Ok(Some(c)),
            Err(AtError::Failed(f)) => tracing::debug!(cmd, error = %f, "indication mode refused"),
            Err(e) => return Err(e.into()),
        }
    }
    tracing::warn!("the modem refused every new-message indication mode; messages are found by polling only");
    Ok(None)
}

/// Where the network stands: registration (GSM/UMTS or LTE), operator, signal.
pub(super) async fn network(
    ch: &mut Channel,
    t: Duration,
) -> Result<(Registration, Option<String>, Option<i32>), AtError> {
    let mut reg = Registration::Unknown;
    for cmd in ["AT+CREG?", "AT+CEREG?"] {
        if let Some(r) = optional(ch.command(cmd, t).await)?.and_then(|l| l.iter().find_map(|l| answers::creg(l))) {
            // LTE-only modems register on EPS while CREG says "not registered".
            if r.is_registered() || reg == Registration::Unknown {
                reg = r;
            }
            if reg.is_registered() {
                break;
            }
        }
    }
    let operator = optional(ch.command("AT+COPS?", t).await)?.and_then(|l| l.iter().find_map(|l| answers::cops(l)));
    let signal =
        optional(ch.command("AT+CSQ", t).await)?.and_then(|l| l.iter().find_map(|l| answers::csq(l))).flatten();
    Ok((reg, operator, signal))
}

/// A command some modems lack: its refusal is None; only a dead channel is an error.
fn optional(r: Result<Vec<String>, AtError>) -> Result<Option<Vec<String>>, AtError> {
    match r {
        Ok(lines) => Ok(Some(lines)),
        Err(AtError::Failed(_)) => Ok(None),
        Err(e) => Err(e),
    }
}
