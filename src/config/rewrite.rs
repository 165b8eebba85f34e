//! Writes generated tokens back into the config file without losing its comments,
//! as mautrix bridges do with `-g`.

/// Replaces the values of `as_token` and `hs_token` under `appservice:`.
/// Returns `None` if either key is missing there.
pub fn store_tokens(text: &str, as_token: &str, hs_token: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut in_appservice = false;
    let (mut found_as, mut found_hs) = (false, false);
    for line in text.lines() {
        let indented = line.starts_with([' ', '\t']);
        let content = line.trim_start();
        if !indented && !content.is_empty() && !content.starts_with('#') {
            in_appservice = content.starts_with("appservice:");
        }
        let indent = &line[..line.len() - content.len()];
        if in_appservice && indented && content.starts_with("as_token:") && !found_as {
            out.push(format!("{indent}as_token: \"{as_token}\""));
            found_as = true;
        } else if in_appservice && indented && content.starts_with("hs_token:") && !found_hs {
            out.push(format!("{indent}hs_token: \"{hs_token}\""));
            found_hs = true;
        } else {
            out.push(line.to_string());
        }
    }
    (found_as && found_hs).then(|| out.join("\n") + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_appservice_tokens_and_keeps_comments() {
        let text = "# top\nhomeserver:\n  as_token: not-this\nappservice:\n  # the token\n  as_token: generate\n  hs_token: generate # inline\nbridge: {}\n";
        let out = store_tokens(text, "A", "H").unwrap();
        assert_eq!(
            out,
            "# top\nhomeserver:\n  as_token: not-this\nappservice:\n  # the token\n  as_token: \"A\"\n  hs_token: \"H\"\nbridge: {}\n"
        );
        assert!(store_tokens("appservice:\n  as_token: x\n", "A", "H").is_none());
    }
}
