use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sms_bridge::config::{self, Config, Purpose};
use sms_bridge::registration;
use sms_bridge::sms::time::Validity;
use sms_bridge::sms::tpdu::{self, SubmitOptions};

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
}

#[derive(Subcommand)]
enum Decode {
    /// An SMS TPDU in hex, with the SMSC field in front (as AT+CMGL shows it).
    Sms {
        hex: String,
        /// The hex starts at the TPDU (no SMSC field).
        #[arg(long)]
        no_smsc: bool,
    },
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
        return match run_tool(command) {
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
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    match runtime.block_on(sms_bridge::app::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// The codec tools: no config, no network.
fn run_tool(command: Command) -> Result<(), String> {
    match command {
        Command::Decode { what: Decode::Sms { hex, no_smsc } } => {
            let pdu = tpdu::from_hex(&hex)
                .and_then(|b| tpdu::decode(&b, !no_smsc))
                .map_err(|e| format!("decode sms: {e}"))?;
            println!("{}", sms_bridge::sms::describe::describe(&pdu));
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

/// A concatenation reference that differs between runs.
fn rand_ref() -> u8 {
    use rand::Rng;
    rand::thread_rng().r#gen()
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
