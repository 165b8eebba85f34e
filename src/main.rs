use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sms_bridge::config::{self, Config, Purpose};
use sms_bridge::hilink_sim;
use sms_bridge::mms;
use sms_bridge::modem_sim;
use sms_bridge::registration;
use sms_bridge::sms::time::Validity;
use sms_bridge::sms::tpdu::{self, SubmitOptions};
use sms_bridge::sms::{describe, lenient};
use sms_bridge::smsc_sim;

const EXAMPLE_CONFIG: &str = include_str!("../config.example.yaml");

/// A Matrix bridge for SMS: chat with phone numbers from any Matrix client.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// The config file.
    #[arg(short, long, default_value = "config.yaml")]
    config: PathBuf,
    /// Write the appservice registration (and new tokens into the config), then exit.
    #[arg(short = 'g', long)]
    generate_registration: bool,
    /// Where -g writes the registration.
    #[arg(short, long, default_value = "registration.yaml")]
    registration: PathBuf,
    /// Write the example config to the config path if nothing is there, then exit.
    #[arg(long)]
    init_config: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Decode a PDU and print it as JSON.
    Decode {
        #[command(subcommand)]
        what: Decode,
    },
    /// Encode a message as PDUs, for modem debugging.
    Encode {
        #[command(subcommand)]
        what: Encode,
    },
    /// A virtual SMSC (SMPP 3.4 server) for trying the bridge without an operator. Prints what
    /// it receives; SMS typed as `+15551234567 Hello` are sent to the bridge from that number.
    SmscSim(SmscSimArgs),
    /// A simulated AT modem on a pseudo-terminal, for trying modem clients without hardware.
    /// Prints its device path; SMS typed as `+15551234567 Hello` arrive from that number.
    ModemSim(ModemSimArgs),
    /// A fake Huawei HiLink router (B315/B525/E3372h web API) on 127.0.0.1, for trying
    /// HiLink clients without one. Prints its URLs; SMS typed as `+15551234567 Hello` arrive.
    HilinkSim(HilinkSimArgs),
    /// The audit log of messages, delivery reports and policy refusals.
    Audit {
        #[command(subcommand)]
        what: Audit,
    },
}

#[derive(Subcommand)]
enum Audit {
    /// Writes a period's records as CSV (times in UTC), oldest first.
    Export(AuditExportArgs),
}

#[derive(clap::Args)]
struct AuditExportArgs {
    /// From this date (UTC) or time: 2026-12-01 or 2026-12-01T10:00:00Z.
    #[arg(long)]
    since: String,
    /// Up to this time, or to the end of this date (default: now).
    #[arg(long)]
    until: Option<String>,
    /// Only records with this number, ours or theirs (in any form).
    #[arg(long)]
    number: Option<String>,
    /// Only records of this keyword (any case).
    #[arg(long)]
    keyword: Option<String>,
    /// The config file (default: the one given before `audit`).
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// Write here instead of to standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(clap::Args)]
struct HilinkSimArgs {
    /// The web API's port on 127.0.0.1 (0: a free one).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// The control API's port on 127.0.0.1 (0: a free one): POST /sms, /long, /report, /mms,
    /// /fault; GET /state.
    #[arg(long, default_value_t = 0)]
    control_port: u16,
    /// The SIM's own number (sends to it loop back).
    #[arg(long, default_value = "+15550001111")]
    number: String,
    #[arg(long, default_value = "admin")]
    username: String,
    #[arg(long, default_value = "admin")]
    password: String,
    /// 4 (sha256) or 0 (base64).
    #[arg(long, default_value_t = 4)]
    password_type: u8,
    /// A stick without login: every call allowed.
    #[arg(long)]
    no_login: bool,
    /// The challenge (SCRAM) login of B525s-65a/B618 firmwares instead of /api/user/login.
    #[arg(long)]
    challenge_login: bool,
    /// Seconds a session may stay unused.
    #[arg(long, default_value_t = 300)]
    session_idle: u64,
    /// Logged-in sessions at most (one more login answers 108003).
    #[arg(long, default_value_t = 4)]
    max_sessions: usize,
    /// Wrong logins before 108007, and seconds the lockout lasts.
    #[arg(long, default_value_t = 3)]
    max_login_failures: u32,
    #[arg(long, default_value_t = 60)]
    lockout_secs: u64,
    /// Messages local storage holds (LocalMax).
    #[arg(long, default_value_t = 500)]
    local_max: usize,
    /// Milliseconds from send-sms to SucPhone/FailPhone.
    #[arg(long, default_value_t = 500)]
    send_delay_ms: u64,
    /// Milliseconds send-status still shows the previous send after send-sms.
    #[arg(long, default_value_t = 0)]
    status_lag_ms: u64,
    /// A delivery report (SmsType 7) after each successful send.
    #[arg(long)]
    delivery_reports: bool,
    /// DeviceName in device/information.
    #[arg(long, default_value = "B315s-22")]
    device_name: String,
    /// Don't print a line per message.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct ModemSimArgs {
    /// generic, quectel, simcom or huawei: boot and noise URCs, answers to `=?` queries.
    #[arg(long, default_value = "generic")]
    profile: modem_sim::Profile,
    /// A stable symlink to the PTY, re-pointed on replug (like /dev/serial/by-id).
    #[arg(long)]
    link: Option<PathBuf>,
    /// Serve the HTTP API here (loopback only): POST /sms, /wap-push, /fault; GET /sent, /stored.
    #[arg(long)]
    http: Option<std::net::SocketAddr>,
    /// The SIM's own number.
    #[arg(long, default_value = "+15550001111")]
    number: String,
    /// What AT+CSCA? answers; an empty string for none.
    #[arg(long, default_value = "+15550000000")]
    smsc: String,
    /// The SIM starts locked with this PIN.
    #[arg(long)]
    pin: Option<String>,
    /// Milliseconds from a send to its status report.
    #[arg(long, default_value_t = 200)]
    dlr_delay_ms: u64,
    /// A fault from the start: storage_full, slow_cmgs=5s, cms=331x2, noise, repeat=3,
    /// no_network, no_sim, silent or failed_report. Repeatable.
    #[arg(long)]
    fault: Vec<modem_sim::Fault>,
    /// Don't print a line per message.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct SmscSimArgs {
    /// Where the SMPP server listens.
    #[arg(long, default_value = "127.0.0.1:2775")]
    listen: std::net::SocketAddr,
    /// Accept only this system_id (default: any).
    #[arg(long)]
    system_id: Option<String>,
    /// Accept only this password (default: any).
    #[arg(long)]
    password: Option<String>,
    /// Serve the HTTP API here (loopback only): POST /inject, GET /messages, POST /fault.
    #[arg(long)]
    http: Option<std::net::SocketAddr>,
    /// Milliseconds from a submit to its delivery receipt.
    #[arg(long, default_value_t = 1000)]
    dlr_delay_ms: u64,
    /// The receipts' stat: DELIVRD, UNDELIV, EXPIRED, REJECTD, ENROUTE, ACCEPTD, …
    #[arg(long, default_value = "DELIVRD")]
    dlr_stat: String,
    /// The bridge's number: where injected SMS go unless they name another.
    #[arg(long, default_value = "+15550001111")]
    number: String,
    /// A fault from the start, KIND[:N]: throttle, queue_full, reject or drop for the next N
    /// submits; silence:N for no responses during N seconds. Repeatable.
    #[arg(long)]
    fault: Vec<smsc_sim::Fault>,
    /// Don't print a line per message.
    #[arg(long)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Decode {
    /// An SMS TPDU in hex, with the SMSC field in front (as AT+CMGL shows it). Read as
    /// leniently as a modem's line needs; what was overlooked is listed under "warnings".
    Sms {
        hex: String,
        /// The hex starts at the TPDU (no SMSC field).
        #[arg(long)]
        no_smsc: bool,
        /// Refuse anything that is not exactly a valid PDU.
        #[arg(long)]
        strict: bool,
    },
    /// An MMS PDU file (m-retrieve-conf, m-send-req, m-notification-ind, …).
    Mms { file: PathBuf },
    /// A WAP push PDU in hex (the user data of the port-2948 SMS), MMS notification decoded.
    WapPush { hex: String },
}

#[derive(Subcommand)]
enum Encode {
    /// SMS-SUBMIT PDUs, one line per part: the AT+CMGS length and the hex.
    Sms {
        #[arg(long)]
        to: String,
        #[arg(long)]
        text: String,
        #[arg(long)]
        smsc: Option<String>,
        #[arg(long)]
        status_report: bool,
        /// Relative validity in minutes (5 to 63 weeks).
        #[arg(long)]
        validity: Option<u32>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(command) = cli.command {
        return match run_tool(command, &cli.config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        };
    }
    // A first run without a config writes the documented example, as mautrix bridges do.
    if !cli.config.exists() {
        return match std::fs::write(&cli.config, EXAMPLE_CONFIG) {
            Ok(()) => fail(&format!(
                "{}: not found, so the example config was written there; edit it (homeserver, permissions, backends), then run with -g",
                cli.config.display()
            )),
            Err(e) => {
                fail(&format!("{}: not found, and the example cannot be written there: {e}", cli.config.display()))
            }
        };
    }
    if cli.init_config {
        return fail(&format!("{}: already exists; not overwritten", cli.config.display()));
    }
    if cli.generate_registration {
        return match generate(&cli.config, &cli.registration) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        };
    }
    let config = match Config::load(&cli.config, Purpose::Run) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    sms_bridge::app::init_logging(&config);
    // Requests wait for their group commit on blocking-pool threads, and glibc would give
    // each such thread a malloc arena of its own: two arenas keep the resident set down.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: no other thread exists yet to allocate concurrently.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    // Named, so `top -H` and profilers tell the bridge's threads apart.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("sms-bridge")
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(sms_bridge::app::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// The codec tools and the simulators (no config), and the audit export.
fn run_tool(command: Command, config: &Path) -> Result<(), String> {
    match command {
        Command::Audit { what: Audit::Export(args) } => return audit_export(args, config),
        Command::SmscSim(args) => return smsc_sim_main(args),
        Command::ModemSim(args) => return modem_sim_main(args),
        Command::HilinkSim(args) => return hilink_sim_main(args),
        Command::Decode { what: Decode::Sms { hex, no_smsc, strict: true } } => {
            let pdu = tpdu::from_hex(&hex)
                .and_then(|b| tpdu::decode(&b, !no_smsc))
                .map_err(|e| format!("decode sms: {e}"))?;
            println!("{}", describe::describe(&pdu));
        }
        Command::Decode { what: Decode::Sms { hex, no_smsc, strict: false } } => {
            let decoded = lenient::decode_line(&hex, !no_smsc).map_err(|e| format!("decode sms: {e}"))?;
            println!("{}", describe::describe_lenient(&decoded));
        }
        Command::Decode { what: Decode::Mms { file } } => {
            let what = format!("decode mms {}", file.display());
            let bytes = read_limited(&file, MAX_MMS_FILE).map_err(|e| format!("{what}: {e}"))?;
            let m = mms::decode(&bytes).map_err(|e| format!("{what}: {e}"))?;
            println!("{}", pretty(&mms::describe::message(&m)));
        }
        Command::Decode { what: Decode::WapPush { hex } } => {
            let bytes = tpdu::from_hex(&hex).map_err(|e| format!("decode wap-push: {e}"))?;
            let push = mms::push::decode(&bytes).map_err(|e| format!("decode wap-push: {e}"))?;
            println!("{}", pretty(&mms::describe::push(&push)));
        }
        Command::Encode { what: Encode::Sms { to, text, smsc, status_report, validity } } => {
            let validity =
                validity.map(Validity::relative_minutes).transpose().map_err(|e| format!("--validity: {}", e.what))?;
            let opts = SubmitOptions { smsc, status_report, validity, concat_ref: rand_ref(), ..Default::default() };
            for pdu in tpdu::encode_submit(&to, &text, &opts).map_err(|e| format!("encode sms: {}", e.what))? {
                println!("{} {}", tpdu::cmgs_length(&pdu), tpdu::to_hex(&pdu));
            }
        }
    }
    Ok(())
}

fn smsc_sim_main(a: SmscSimArgs) -> Result<(), String> {
    let opts = smsc_sim::Options {
        listen: a.listen,
        system_id: a.system_id,
        password: a.password,
        http: a.http,
        dlr_delay: std::time::Duration::from_millis(a.dlr_delay_ms),
        dlr_stat: a.dlr_stat,
        number: a.number,
        faults: a.fault,
        quiet: a.quiet,
        ..Default::default()
    };
    run_simulator(|stopped| smsc_sim::run(opts, stopped))
}

fn modem_sim_main(a: ModemSimArgs) -> Result<(), String> {
    let opts = modem_sim::Options {
        profile: a.profile,
        number: a.number,
        smsc: Some(a.smsc).filter(|s| !s.is_empty()),
        pin: a.pin,
        link: a.link,
        http: a.http,
        dlr_delay: std::time::Duration::from_millis(a.dlr_delay_ms),
        quiet: a.quiet,
        faults: a.fault,
        ..Default::default()
    };
    run_simulator(|stopped| modem_sim::run(opts, stopped))
}

fn hilink_sim_main(a: HilinkSimArgs) -> Result<(), String> {
    use std::time::Duration;
    if !matches!(a.password_type, 0 | 4) {
        return Err(format!("--password-type {}: 0 or 4", a.password_type));
    }
    let opts = hilink_sim::Options {
        port: a.port,
        control_port: a.control_port,
        number: a.number,
        username: a.username,
        password: a.password,
        password_type: a.password_type,
        login_required: !a.no_login,
        challenge_login: a.challenge_login,
        session_idle: Duration::from_secs(a.session_idle),
        max_sessions: a.max_sessions,
        max_login_failures: a.max_login_failures,
        lockout: Duration::from_secs(a.lockout_secs),
        local_max: a.local_max,
        send_delay: Duration::from_millis(a.send_delay_ms),
        status_lag: Duration::from_millis(a.status_lag_ms),
        delivery_reports: a.delivery_reports,
        device_name: a.device_name,
        quiet: a.quiet,
        ..Default::default()
    };
    run_simulator(|stopped| hilink_sim::run(opts, stopped))
}

/// Runs a simulator on its own runtime until Ctrl-C.
fn run_simulator<F: std::future::Future<Output = Result<(), String>>>(
    run: impl FnOnce(std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) -> F,
) -> Result<(), String> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let stopped = Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    let result = runtime.block_on(run(stopped));
    // stdin's reader thread may be blocked in a read: don't wait for it.
    runtime.shutdown_background();
    result
}

/// `audit export`: reads the bridge's database (which may be in use) and writes CSV.
fn audit_export(a: AuditExportArgs, default_config: &Path) -> Result<(), String> {
    use sms_bridge::store::{AuditQuery, AuditSettings, Store, audit_csv};
    let config_path = a.config.as_deref().unwrap_or(default_config);
    let config = Config::load(config_path, Purpose::Generate).map_err(|e| e.to_string())?;
    let since = sms_bridge::when::parse_bound(&a.since, false).map_err(|e| format!("--since: {e}"))?;
    let until = match &a.until {
        Some(u) => sms_bridge::when::parse_bound(u, true).map_err(|e| format!("--until: {e}"))?.as_millisecond(),
        None => sms_bridge::store::now_ms() + 1,
    };
    if until <= since.as_millisecond() {
        return Err(format!("--until ({}) is not after --since ({})", a.until.as_deref().unwrap_or("now"), a.since));
    }
    let db = Path::new(&config.database.path);
    // Opening would make an empty database: a wrong path says so instead.
    if !db.exists() {
        return Err(format!("database {}: not found (database.path in {})", db.display(), config_path.display()));
    }
    let store = Store::open(db).map_err(|e| e.to_string())?;
    store.set_audit(AuditSettings::from_config(&config));
    let q = AuditQuery { since: since.as_millisecond(), until, number: a.number, keyword: a.keyword };
    let csv = audit_csv(&store.audit_records(&q).map_err(|e| e.to_string())?);
    match &a.output {
        Some(path) => std::fs::write(path, csv).map_err(|e| format!("{}: cannot write: {e}", path.display())),
        None => {
            use std::io::Write;
            std::io::stdout().write_all(csv.as_bytes()).map_err(|e| format!("standard output: {e}"))
        }
    }
}

/// A concatenation reference that differs between runs.
fn rand_ref() -> u8 {
    use rand::Rng;
    rand::thread_rng().r#gen()
}

/// Far above any carrier's MMS size limit; keeps a mistaken path from filling memory.
const MAX_MMS_FILE: u64 = 64 << 20;

fn read_limited(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(std::io::Error::other(format!("larger than {max} bytes")));
    }
    Ok(bytes)
}

fn pretty(v: &serde_json::Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn fail(message: &str) -> ExitCode {
    for line in message.lines() {
        eprintln!("sms-bridge: {line}");
    }
    ExitCode::FAILURE
}

/// Writes the registration, creating tokens where the config still says `generate`.
fn generate(config_path: &Path, registration_path: &Path) -> Result<(), String> {
    let mut config = Config::load(config_path, Purpose::Generate).map_err(|e| e.to_string())?;
    let fresh = |t: &str| t.is_empty() || t == "generate";
    let changed = fresh(&config.appservice.as_token) || fresh(&config.appservice.hs_token);
    if fresh(&config.appservice.as_token) {
        config.appservice.as_token = registration::random_token();
    }
    if fresh(&config.appservice.hs_token) {
        config.appservice.hs_token = registration::random_token();
    }
    if changed {
        let text = std::fs::read_to_string(config_path).map_err(|e| format!("{}: {e}", config_path.display()))?;
        let updated = config::store_tokens(&text, &config.appservice.as_token, &config.appservice.hs_token)
            .ok_or_else(|| {
                format!(
                    "{}: add `as_token: generate` and `hs_token: generate` under appservice:",
                    config_path.display()
                )
            })?;
        std::fs::write(config_path, updated).map_err(|e| format!("{}: cannot write: {e}", config_path.display()))?;
    }
    std::fs::write(registration_path, registration::registration_yaml(&config))
        .map_err(|e| format!("{}: cannot write: {e}", registration_path.display()))?;
    eprintln!(
        "Wrote {}. Add it to app_service_config_files in your homeserver.yaml and restart the homeserver.",
        registration_path.display()
    );
    Ok(())
}
