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

#[test]
fn decode_sms_prints_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let hex = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";
    let o = run(dir.path(), &["decode", "sms", hex]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tpdu_type"], "SMS-DELIVER");
    assert_eq!(v["originator"], "+31641600986");
    assert_eq!(v["smsc"], "+31624000000");
    assert_eq!(v["timestamp"], "2002-08-26T19:37:41+00:00");
    assert_eq!((v["encoding"].as_str(), v["text"].as_str()), (Some("gsm7"), Some("How are you?")));
    assert_eq!((v["concat"].is_null(), v["ports"].is_null(), v["udh"].as_array().map(Vec::len)), (true, true, Some(0)));
    // Without the SMSC field.
    let o = run(dir.path(), &["decode", "sms", &hex[16..], "--no-smsc"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["smsc"].is_null(), v["text"].as_str()), (true, Some("How are you?")));
}

#[test]
fn decode_sms_rejects_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["zz", "0791132604", "07911326040000F0040B9113", "123"] {
        for strict in [false, true] {
            let args: &[&str] = if strict { &["decode", "sms", "--strict", bad] } else { &["decode", "sms", bad] };
            let o = run(dir.path(), args);
            assert_eq!(o.status.code(), Some(1), "{bad}");
            assert_eq!(stderr(&o).lines().count(), 1, "{bad}: {}", stderr(&o));
            assert!(stderr(&o).contains("at byte"), "{bad}: {}", stderr(&o));
        }
    }
}

#[test]
fn decode_sms_reads_a_modem_line_with_junk_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let hex = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";
    // As a modem's line might end: a stray quote, then CR LF.
    let o = run(dir.path(), &["decode", "sms", &format!("{hex}\"\r\n")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["text"], "How are you?");
    assert_eq!(v["warnings"], serde_json::json!(["ignored 1 character after the hex, from octet 38: \"\\\"\""]));
    assert!(v.get("truncated").is_none(), "only when true");
    // One digit short: the last septet is lost, and that is said.
    let o = run(dir.path(), &["decode", "sms", &hex[..hex.len() - 1]]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["text"].as_str(), v["truncated"].as_bool()), (Some("How are you"), Some(true)));
    assert_eq!(v["warnings"].as_array().map(Vec::len), Some(2));
    // A clean PDU has neither field.
    let v: serde_json::Value = serde_json::from_slice(&run(dir.path(), &["decode", "sms", hex]).stdout).unwrap();
    assert!(v.get("warnings").is_none() && v.get("truncated").is_none(), "{v}");
}

#[test]
fn decode_sms_strict_refuses_what_the_lenient_reading_overlooks() {
    let dir = tempfile::tempdir().unwrap();
    let hex = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07";
    let o = run(dir.path(), &["decode", "sms", "--strict", &format!("{hex}\",")]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "sms-bridge: decode sms: not hex: \"\\\",\" at byte 38\n");
    let o = run(dir.path(), &["decode", "sms", "--strict", &hex[..hex.len() - 1]]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o), "sms-bridge: decode sms: odd-length hex at byte 37\n");
    let o = run(dir.path(), &["decode", "sms", "--strict", hex]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn encode_sms_prints_parts_that_decode_back() {
    let dir = tempfile::tempdir().unwrap();
    let text = "x".repeat(200) + " €";
    let o = run(
        dir.path(),
        &["encode", "sms", "--to", "+15551234567", "--text", &text, "--status-report", "--validity", "60"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2);
    let mut joined = String::new();
    for line in lines {
        let (len, hex) = line.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), hex.len() / 2 - 1, "AT+CMGS length excludes the empty SMSC field");
        let d = run(dir.path(), &["decode", "sms", hex]);
        let v: serde_json::Value = serde_json::from_slice(&d.stdout).unwrap();
        assert_eq!(v["tpdu_type"], "SMS-SUBMIT");
        assert_eq!(v["destination"], "+15551234567");
        assert_eq!(v["validity"]["relative_minutes"], 60);
        assert_eq!(v["concat"]["total"], 2);
        joined += v["text"].as_str().unwrap();
    }
    assert_eq!(joined, text);
    let o = run(dir.path(), &["encode", "sms", "--to", "not a number", "--text", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("sms-bridge: encode sms: destination: not a phone number"), "{}", stderr(&o));
}
