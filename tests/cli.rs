//! The command line as a user meets it: version, help, first run, bad configs, `-g`.

use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sms-bridge")).current_dir(dir).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_and_help() {
    let dir = tempfile::tempdir().unwrap();
    let v = run(dir.path(), &["--version"]);
    assert!(v.status.success());
    assert_eq!(String::from_utf8_lossy(&v.stdout).trim(), format!("sms-bridge {}", env!("CARGO_PKG_VERSION")));
    let h = run(dir.path(), &["--help"]);
    let text = String::from_utf8_lossy(&h.stdout);
    assert!(h.status.success());
    for flag in ["--config", "--generate-registration", "--registration"] {
        assert!(text.contains(flag), "{flag} missing from help:\n{text}");
    }
}

#[test]
fn first_run_writes_the_example_config_and_exits_nonzero() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["-c", "config.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("config.yaml: not found"), "{}", stderr(&o));
    let written = std::fs::read_to_string(dir.path().join("config.yaml")).unwrap();
    assert_eq!(written, std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.yaml")).unwrap());
    // The example itself is valid once tokens exist.
    let o = run(dir.path(), &["-c", "config.yaml"]);
    assert_eq!(stderr(&o).lines().count(), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains("appservice.as_token: not set"));
}

#[test]
fn invalid_config_gives_one_line_per_problem() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.yaml")).unwrap();
    let bad = example
        .replace("address: http://localhost:8008", "address: localhost:8008")
        .replace("number: \"+15550001111\"", "number: \"555 000 1111\"")
        .replace("default_region: US", "default_region: XX");
    std::fs::write(dir.path().join("config.yaml"), bad).unwrap();
    let o = run(dir.path(), &["-c", "config.yaml"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains(r#"sms-bridge: homeserver.address: not a URL: "localhost:8008""#), "{err}");
    assert!(err.contains("sms-bridge: backends[0].number: "), "{err}");
    assert!(err.contains("sms-bridge: bridge.default_region: unknown region \"XX\""), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    std::fs::write(dir.path().join("config.yaml"), "homeserver: [1, 2\n").unwrap();
    let err = stderr(&run(dir.path(), &["-c", "config.yaml"]));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("sms-bridge: "), "{err}");
}

#[test]
fn generate_writes_registration_and_stores_tokens() {
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), &["-c", "config.yaml"]);
    let o = run(dir.path(), &["-g", "-c", "config.yaml", "-r", "registration.yaml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let reg: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(dir.path().join("registration.yaml")).unwrap()).unwrap();
    let (as_token, hs_token) = (reg["as_token"].as_str().unwrap(), reg["hs_token"].as_str().unwrap());
    assert_eq!((as_token.len(), hs_token.len()), (64, 64));
    assert_eq!(reg["rate_limited"], false);
    assert_eq!(reg["receive_ephemeral"], true);
    assert_eq!(reg["namespaces"]["users"][0]["exclusive"], true);
    let config = std::fs::read_to_string(dir.path().join("config.yaml")).unwrap();
    assert!(config.contains(&format!("as_token: \"{as_token}\"")));
    assert!(config.contains("# Tokens shared with the homeserver"), "comments are kept");
    // Running -g again keeps the tokens the homeserver already knows.
    assert!(run(dir.path(), &["-g", "-c", "config.yaml", "-r", "again.yaml"]).status.success());
    let again: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(dir.path().join("again.yaml")).unwrap()).unwrap();
    assert_eq!(again["as_token"], as_token);
}
