use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use sms_bridge::config::{self, Config, Purpose};
use sms_bridge::registration;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
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
