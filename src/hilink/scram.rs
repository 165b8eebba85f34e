//! The challenge login of newer firmwares (B525s-65a, B610h, B618, B818 and others): a
//! SCRAM-SHA-256 exchange over `POST /api/user/challenge_login` and
//! `POST /api/user/authentication_login`, computed the way the routers' own web UI does it
//! (Huawei's `scram.js` on CryptoJS).
//!
//! 1. The client sends `<username>`, `<firstnonce>` (64 hex digits: 32 random bytes) and
//!    `<mode>1</mode>` (the web UI's `RSA_LOGIN_MODE`), in that order.
//! 2. The router answers `<salt>` (hex), `<iterations>` (100 on the routers seen),
//!    `<servernonce>` (the first nonce with 32 characters of its own appended) and
//!    `<modeselected>`.
//! 3. The client sends `<clientproof>` (64 hex digits) and `<finalnonce>` (the server nonce).
//! 4. The router answers `<serversignature>`, `<rsapubkeysignature>`, `<rsan>` and `<rsae>`
//!    (its RSA key for the web UI's encrypted requests), or `<error>` 108006 for a wrong
//!    password.
//!
//! The formulas are RFC 5802's, with a twist: `CryptoJS.HmacSHA256` takes (message, key)
//! and `scram.js` hands it (key, message) in the RFC's order, so the key and the message of
//! HMAC are swapped everywhere but in the RSA key's signature:
//!
//! ```text
//! SaltedPassword     = PBKDF2-HMAC-SHA256(UTF-8 password, salt bytes, iterations, 32 bytes)
//! ClientKey          = HMAC-SHA256(key "Client Key", SaltedPassword)
//! StoredKey          = SHA-256(ClientKey)
//! AuthMessage        = firstnonce "," servernonce "," servernonce
//! ClientSignature    = HMAC-SHA256(key AuthMessage, StoredKey)
//! ClientProof        = ClientKey XOR ClientSignature
//! ServerKey          = HMAC-SHA256(key "Server Key", SaltedPassword)
//! ServerSignature    = HMAC-SHA256(key AuthMessage, ServerKey)
//! RsaPubKeySignature = HMAC-SHA256(key ServerKey, the bytes of the hex rsan)
//! ```
//!
//! Every binary value travels as lowercase hex. Checked against Huawei's `scram.js` and the
//! web UI's login as copied in adron-s/e3372h_my_webroot (`WebApp/common/lib/scram.js`),
//! jinxo13/HuaweiB525Router (`huawei_lte/crypto.py`, `huawei_lte/router.py`),
//! mkorz/b618reboot (`reboot_router.py`) and jareddantis/hilink-api (`api/HwScramAuth.ts`).
//!
//! Pure but for [`new_nonce`]; nothing here panics on any input, and a router's answer
//! cannot ask for more than [`MAX_ITERATIONS`] rounds of PBKDF2.

use std::num::NonZeroU32;

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hmac, pbkdf2};

use super::errors::{Error, Result};
use super::xml::{Element, Field, answer_body, parse, request, response};

/// `<mode>`: 1, the web UI's `RSA_LOGIN_MODE` (the router then sends its RSA key).
pub const MODE: i64 = 1;

/// The most PBKDF2 rounds an answer may ask for. Routers ask for 100; a hostile or broken
/// answer asking for billions would stall the link for minutes.
pub const MAX_ITERATIONS: u32 = 100_000;

/// Length of the salted password, the keys, the signatures and the proof, in bytes.
pub const KEY_LEN: usize = 32;

/// A client nonce as the web UI makes it: 32 random bytes in hex.
pub fn new_nonce() -> Result<String> {
    let mut bytes = [0u8; KEY_LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Request("the system gave no random bytes for the nonce".into()))?;
    Ok(hex(&bytes))
}

/// A server nonce as a router makes it: the client's nonce, then one letter or digit for
/// each random byte (32 on the routers seen).
pub fn server_nonce(firstnonce: &str, random: &[u8]) -> String {
    const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut nonce = String::from(firstnonce);
    nonce.extend(random.iter().map(|&b| ALNUM[usize::from(b) % ALNUM.len()] as char));
    nonce
}

/// The body of `POST /api/user/challenge_login`.
pub fn challenge_request(username: &str, firstnonce: &str) -> String {
    request(&[Field::text("username", username), Field::text("firstnonce", firstnonce), Field::text("mode", MODE)])
}

/// The body of `POST /api/user/authentication_login`: the proof and the server nonce.
pub fn authentication_request(clientproof: &str, finalnonce: &str) -> String {
    request(&[Field::text("clientproof", clientproof), Field::text("finalnonce", finalnonce)])
}

/// The answer to `challenge_login`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub salt: Vec<u8>,
    /// At most [`MAX_ITERATIONS`].
    pub iterations: NonZeroU32,
    /// Exactly as sent: it goes back as `<finalnonce>` and into the AuthMessage.
    pub servernonce: String,
    pub mode_selected: Option<i64>,
    /// `<newType>1</newType>`: the router would like the password re-salted in this login
    /// (`<newSalt>`, `<newIterations>`); not done here, the login goes on as usual.
    pub upgrade_requested: bool,
}

impl Challenge {
    pub fn parse(answer: &Element) -> Result<Challenge> {
        let salt_text = required(answer, "salt")?;
        let salt = unhex(salt_text.trim()).ok_or_else(|| bad("salt", salt_text, "not hex bytes"))?;
        if salt.is_empty() {
            return Err(bad("salt", salt_text, "empty"));
        }
        let iterations = iterations(required(answer, "iterations")?)?;
        let servernonce = non_empty(answer, "servernonce")?;
        let mode_selected = optional_number(answer, "modeselected")?;
        Ok(Challenge {
            salt,
            iterations,
            servernonce: servernonce.to_string(),
            mode_selected,
            upgrade_requested: answer.text_of("newType").map(str::trim) == Some("1"),
        })
    }

    /// Whether the server nonce extends the client's, as SCRAM has it and the routers do.
    /// The web UI does not check it; a link may, to catch a confused session.
    pub fn extends(&self, firstnonce: &str) -> bool {
        self.servernonce.len() > firstnonce.len() && self.servernonce.starts_with(firstnonce)
    }

    /// The keys for this salt and iteration count.
    pub fn keys(&self, password: &str) -> Keys {
        Keys::derive(password, &self.salt, self.iterations)
    }
}

/// Reads the answer to `challenge_login` (an `<error>` becomes [`Error::Router`]).
pub fn parse_challenge(bytes: &[u8]) -> Result<Challenge> {
    Challenge::parse(&response(bytes)?)
}

/// The answer to `authentication_login`, hex decoded and checked for form; whether the
/// signatures are right is for [`Keys::verify_authentication`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub server_signature: [u8; KEY_LEN],
    pub rsa: Option<RsaKey>,
}

/// The router's RSA public key with its signature, present in mode 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    pub signature: [u8; KEY_LEN],
    /// The modulus in hex, as sent.
    pub n: String,
    /// The public exponent in hex, as sent (mostly `010001`).
    pub e: String,
}

impl Authentication {
    pub fn parse(answer: &Element) -> Result<Authentication> {
        let server_signature = signature(answer, "serversignature")?;
        let rsa = match answer.child("rsan") {
            None => None,
            Some(_) => {
                let n = hex_text(answer, "rsan")?;
                let e = hex_text(answer, "rsae")?;
                Some(RsaKey { signature: signature(answer, "rsapubkeysignature")?, n, e })
            }
        };
        Ok(Authentication { server_signature, rsa })
    }
}

/// Reads the answer to `authentication_login` (an `<error>`, 108006 for a wrong password,
/// becomes [`Error::Router`]).
pub fn parse_authentication(bytes: &[u8]) -> Result<Authentication> {
    Authentication::parse(&response(bytes)?)
}

/// What the password yields for one salt and iteration count: everything either side
/// computes. Secret: its `Debug` shows nothing.
#[derive(Clone)]
pub struct Keys {
    salted_password: [u8; KEY_LEN],
    client_key: [u8; KEY_LEN],
    stored_key: [u8; KEY_LEN],
    server_key: [u8; KEY_LEN],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(…)")
    }
}

impl Keys {
    /// Runs PBKDF2 `iterations` times: callers with a router's numbers go through
    /// [`Challenge::keys`], which caps them.
    pub fn derive(password: &str, salt: &[u8], iterations: NonZeroU32) -> Keys {
        let mut salted_password = [0u8; KEY_LEN];
        pbkdf2::derive(pbkdf2::PBKDF2_HMAC_SHA256, iterations, salt, password.as_bytes(), &mut salted_password);
        let client_key = mac(b"Client Key", &salted_password);
        let mut stored_key = [0u8; KEY_LEN];
        stored_key.copy_from_slice(digest(&SHA256, &client_key).as_ref());
        let server_key = mac(b"Server Key", &salted_password);
        Keys { salted_password, client_key, stored_key, server_key }
    }

    /// `<clientproof>` for this exchange, in hex.
    pub fn client_proof(&self, firstnonce: &str, servernonce: &str) -> String {
        let signature = mac(auth_message(firstnonce, servernonce).as_bytes(), &self.stored_key);
        hex(&xor(&self.client_key, &signature))
    }

    /// `<serversignature>` for this exchange, in hex.
    pub fn server_signature(&self, firstnonce: &str, servernonce: &str) -> String {
        hex(&mac(auth_message(firstnonce, servernonce).as_bytes(), &self.server_key))
    }

    /// `<rsapubkeysignature>` for the modulus `rsan` (its bytes, not its hex), in hex.
    pub fn rsa_pubkey_signature(&self, rsan: &[u8]) -> String {
        hex(&mac(&self.server_key, rsan))
    }

    /// The router's check: does the proof come from this password? Hex in either case.
    pub fn verify_client_proof(&self, firstnonce: &str, servernonce: &str, clientproof: &str) -> bool {
        let Some(proof) = unhex(clientproof).and_then(|p| <[u8; KEY_LEN]>::try_from(p).ok()) else {
            return false;
        };
        let signature = mac(auth_message(firstnonce, servernonce).as_bytes(), &self.stored_key);
        // The proof minus the signature is a ClientKey; right if it is this password's.
        let client_key = xor(&proof, &signature);
        hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, b"Client Key"), &self.salted_password, &client_key).is_ok()
    }

    /// The client's check: does the router know this password? Hex in either case.
    pub fn verify_server_signature(&self, firstnonce: &str, servernonce: &str, serversignature: &str) -> bool {
        unhex(serversignature).is_some_and(|s| self.signed_by_server(firstnonce, servernonce, &s))
    }

    fn signed_by_server(&self, firstnonce: &str, servernonce: &str, signature: &[u8]) -> bool {
        let key = hmac::Key::new(hmac::HMAC_SHA256, auth_message(firstnonce, servernonce).as_bytes());
        hmac::verify(&key, &self.server_key, signature).is_ok()
    }

    /// The web UI's checks of the answer to `authentication_login`: the server signature,
    /// then the RSA key's signature when there is a key.
    pub fn verify_authentication(&self, firstnonce: &str, servernonce: &str, answer: &Authentication) -> Result<()> {
        if !self.signed_by_server(firstnonce, servernonce, &answer.server_signature) {
            return Err(Error::Bad {
                element: "serversignature",
                value: hex(&answer.server_signature),
                why: "not this password's signature: the router does not know the password",
            });
        }
        if let Some(rsa) = &answer.rsa {
            let n = unhex(&rsa.n).unwrap_or_default();
            let key = hmac::Key::new(hmac::HMAC_SHA256, &self.server_key);
            if hmac::verify(&key, &n, &rsa.signature).is_err() {
                return Err(Error::Bad {
                    element: "rsapubkeysignature",
                    value: hex(&rsa.signature),
                    why: "does not sign <rsan> with this password's server key",
                });
            }
        }
        Ok(())
    }
}

/// `client_proof` without keeping the keys: PBKDF2 runs on each call.
pub fn client_proof(
    password: &str,
    salt: &[u8],
    iterations: NonZeroU32,
    firstnonce: &str,
    servernonce: &str,
) -> String {
    Keys::derive(password, salt, iterations).client_proof(firstnonce, servernonce)
}

/// `server_signature` without keeping the keys: PBKDF2 runs on each call.
pub fn server_signature(
    password: &str,
    salt: &[u8],
    iterations: NonZeroU32,
    firstnonce: &str,
    servernonce: &str,
) -> String {
    Keys::derive(password, salt, iterations).server_signature(firstnonce, servernonce)
}

/// The client's check of `<serversignature>`, without keeping the keys.
pub fn verify_server_signature(
    password: &str,
    salt: &[u8],
    iterations: NonZeroU32,
    firstnonce: &str,
    servernonce: &str,
    serversignature: &str,
) -> bool {
    Keys::derive(password, salt, iterations).verify_server_signature(firstnonce, servernonce, serversignature)
}

/// The router's check of `<clientproof>`, without keeping the keys.
pub fn verify_client_proof(
    password: &str,
    salt: &[u8],
    iterations: NonZeroU32,
    firstnonce: &str,
    servernonce: &str,
    clientproof: &str,
) -> bool {
    Keys::derive(password, salt, iterations).verify_client_proof(firstnonce, servernonce, clientproof)
}

/// A `challenge_login` body as a router reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeRequest {
    pub username: String,
    pub firstnonce: String,
    pub mode: Option<i64>,
}

impl ChallengeRequest {
    pub fn parse(bytes: &[u8]) -> Result<ChallengeRequest> {
        let r = request_root(bytes)?;
        let firstnonce = non_empty(&r, "firstnonce")?;
        let mode = optional_number(&r, "mode")?;
        Ok(ChallengeRequest {
            username: required(&r, "username")?.to_string(),
            firstnonce: firstnonce.to_string(),
            mode,
        })
    }
}

/// An `authentication_login` body as a router reads it. The router checks that
/// `finalnonce` is the server nonce it gave, then the proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationRequest {
    pub clientproof: String,
    pub finalnonce: String,
}

impl AuthenticationRequest {
    pub fn parse(bytes: &[u8]) -> Result<AuthenticationRequest> {
        let r = request_root(bytes)?;
        Ok(AuthenticationRequest {
            clientproof: required(&r, "clientproof")?.to_string(),
            finalnonce: required(&r, "finalnonce")?.to_string(),
        })
    }
}

/// A router's answer to `challenge_login`.
pub fn challenge_answer(salt: &[u8], iterations: NonZeroU32, servernonce: &str) -> String {
    answer_body(&[
        Field::text("salt", hex(salt)),
        Field::text("iterations", iterations),
        Field::text("servernonce", servernonce),
        Field::text("modeselected", MODE),
    ])
}

/// A router's answer to a right `authentication_login`: its signature and its RSA key
/// (modulus and exponent as bytes) signed with the server key.
pub fn authentication_answer(keys: &Keys, firstnonce: &str, servernonce: &str, rsan: &[u8], rsae: &[u8]) -> String {
    answer_body(&[
        Field::text("serversignature", keys.server_signature(firstnonce, servernonce)),
        Field::text("rsapubkeysignature", keys.rsa_pubkey_signature(rsan)),
        Field::text("rsan", hex(rsan)),
        Field::text("rsae", hex(rsae)),
    ])
}

fn auth_message(firstnonce: &str, servernonce: &str) -> String {
    format!("{firstnonce},{servernonce},{servernonce}")
}

fn mac(key: &[u8], data: &[u8]) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    out.copy_from_slice(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data).as_ref());
    out
}

fn xor(a: &[u8; KEY_LEN], b: &[u8; KEY_LEN]) -> [u8; KEY_LEN] {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// Lowercase hex, as CryptoJS writes it.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex of either case, an even number of digits; `None` for anything else.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from((high << 4) | low).ok()
        })
        .collect()
}

fn request_root(bytes: &[u8]) -> Result<Element> {
    let root = parse(bytes)?;
    if root.name == "request" { Ok(root) } else { Err(Error::Root { expected: "request", got: root.name }) }
}

fn required<'a>(parent: &'a Element, element: &'static str) -> Result<&'a str> {
    parent.text_of(element).ok_or_else(|| Error::Missing { element, parent: parent.name.clone() })
}

fn non_empty<'a>(parent: &'a Element, element: &'static str) -> Result<&'a str> {
    let v = required(parent, element)?;
    if v.is_empty() { Err(bad(element, v, "empty")) } else { Ok(v) }
}

/// A number that may be absent or blank.
fn optional_number<T: std::str::FromStr>(parent: &Element, element: &'static str) -> Result<Option<T>> {
    match parent.text_of(element).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| bad(element, v, "not a number")),
    }
}

/// A value for an error message: a hostile answer's megabyte stays out of the logs.
fn bad(element: &'static str, value: &str, why: &'static str) -> Error {
    const SHOWN: usize = 80;
    let value = match value.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_string(),
    };
    Error::Bad { element, value, why }
}

fn iterations(text: &str) -> Result<NonZeroU32> {
    let digits = text.trim();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("iterations", text, "not a number"));
    }
    match digits.parse::<u32>().ok().and_then(NonZeroU32::new) {
        None if digits.bytes().all(|b| b == b'0') => Err(bad("iterations", text, "zero: PBKDF2 needs at least one")),
        Some(n) if n.get() <= MAX_ITERATIONS => Ok(n),
        _ => Err(bad("iterations", text, "more than 100000, refused (routers ask for 100)")),
    }
}

fn signature(parent: &Element, element: &'static str) -> Result<[u8; KEY_LEN]> {
    let text = required(parent, element)?;
    unhex(text.trim())
        .and_then(|s| <[u8; KEY_LEN]>::try_from(s).ok())
        .ok_or_else(|| bad(element, text, "not 64 hex digits"))
}

fn hex_text(parent: &Element, element: &'static str) -> Result<String> {
    let text = required(parent, element)?.trim();
    match unhex(text) {
        Some(bytes) if !bytes.is_empty() => Ok(text.to_string()),
        _ => Err(bad(element, text, "not hex bytes")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hilink::errors::ErrorClass;

    // Known answers derived once with Python, HMAC's key and message as scram.js has them:
    //
    //   def H(key, msg): return hmac.new(key, msg, hashlib.sha256).digest()
    //   salted = hashlib.pbkdf2_hmac('sha256', password.encode(), bytes.fromhex(salt), iters, 32)
    //   auth = (first + ',' + server + ',' + server).encode()
    //   ck = H(b'Client Key', salted); sk = hashlib.sha256(ck).digest()
    //   proof = bytes(a ^ b for a, b in zip(ck, H(auth, sk))).hex()
    //   srvk = H(b'Server Key', salted); serversig = H(auth, srvk).hex()
    //   rsasig = H(srvk, bytes.fromhex(rsan)).hex()
    const FIRST: &str = "ed3f54707975f7d825d934b6322b3efb68c7e1bb93a970c593dc67d8df9e24c2";
    const SALT: &str = "735933444f7161574d4449615554486c5a5944686b414b30316f347734324c00";

    fn server() -> String {
        format!("{FIRST}JHYnpz21wSdGl8tekXLO06JDzX0FkqVa")
    }

    fn n(i: u32) -> NonZeroU32 {
        NonZeroU32::new(i).unwrap()
    }

    #[test]
    fn known_answers() {
        // password 'pässwörd€', the salt above, 100 iterations, rsan 'e114cc6295f232d5435668c56de580cf'
        let salt = unhex(SALT).unwrap();
        let keys = Keys::derive("pässwörd€", &salt, n(100));
        assert_eq!(
            keys.client_proof(FIRST, &server()),
            "27ceb047ee38c88cbb24df2d2785eb7233e4b806728a549eb333573721406687"
        );
        assert_eq!(
            keys.server_signature(FIRST, &server()),
            "13e4c1d2823092548c6e41aed30946e9f9b923a6e66556403b3ad62c9fe2ef64"
        );
        assert_eq!(
            keys.rsa_pubkey_signature(&unhex("e114cc6295f232d5435668c56de580cf").unwrap()),
            "6aebea7ff284ffae0c88ae046779efe0b8064c2a891fd90ddb6f4ba7347cc751"
        );
        // password 'admin', salt '00ff', 1 iteration, nonces 'aa' and 'aabb', rsan '010001'
        let (salt, first, server) = ([0x00, 0xff], "aa", "aabb");
        assert_eq!(
            client_proof("admin", &salt, n(1), first, server),
            "24a648deb5bb8c7489403ea4ef6048a30fccc477c47903f5fce449c257ad33e1"
        );
        assert_eq!(
            server_signature("admin", &salt, n(1), first, server),
            "e28e9738465c29b48863d694cae1149541a185e6e888710e93d07adb888303db"
        );
        assert_eq!(
            Keys::derive("admin", &salt, n(1)).rsa_pubkey_signature(&[1, 0, 1]),
            "e9e1791452507c38e24a18f779f889e6ce023438fa4150c7fa200ffca8741216"
        );
    }

    #[test]
    fn request_bodies_in_order() {
        assert_eq!(
            challenge_request("admin", FIRST),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><username>admin</username>\
                 <firstnonce>{FIRST}</firstnonce><mode>1</mode></request>"
            )
        );
        assert!(challenge_request("a<b", "x").contains("<username>a&lt;b</username>"));
        assert_eq!(
            challenge_answer(&[0, 0xab], n(100), "xy"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<response>\r\n<salt>00ab</salt>\r\n<iterations>100</iterations>\r\n\
             <servernonce>xy</servernonce>\r\n<modeselected>1</modeselected>\r\n</response>\r\n"
        );
        assert_eq!(
            authentication_request("00ff", "nonce"),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><request><clientproof>00ff</clientproof>\
             <finalnonce>nonce</finalnonce></request>"
        );
    }

    #[test]
    fn a_whole_login_against_a_fake_router() {
        let password = "hunter2 & <friends>";
        let salt = [7u8; 32];
        // Client: the challenge.
        let first = new_nonce().unwrap();
        let body = challenge_request("admin", &first);
        // Router: reads it and answers.
        let asked = ChallengeRequest::parse(body.as_bytes()).unwrap();
        assert_eq!(asked, ChallengeRequest { username: "admin".into(), firstnonce: first.clone(), mode: Some(1) });
        let servernonce = server_nonce(&asked.firstnonce, &[0, 61, 62, 255]);
        assert_eq!(servernonce, format!("{first}A9AH"));
        let body = challenge_answer(&salt, n(100), &servernonce);
        // Client: the proof.
        let challenge = parse_challenge(body.as_bytes()).unwrap();
        assert_eq!(challenge.salt, salt);
        assert_eq!(challenge.iterations, n(100));
        assert_eq!(challenge.mode_selected, Some(1));
        assert!(challenge.extends(&first) && !challenge.extends("other") && !challenge.upgrade_requested);
        let keys = challenge.keys(password);
        let body = authentication_request(&keys.client_proof(&first, &challenge.servernonce), &challenge.servernonce);
        // Router: checks the nonce and the proof, and answers.
        let told = AuthenticationRequest::parse(body.as_bytes()).unwrap();
        assert_eq!(told.finalnonce, servernonce);
        let router_keys = Keys::derive(password, &salt, n(100));
        assert!(router_keys.verify_client_proof(&asked.firstnonce, &servernonce, &told.clientproof));
        assert!(router_keys.verify_client_proof(&asked.firstnonce, &servernonce, &told.clientproof.to_uppercase()));
        let (rsan, rsae) = ([0xe1u8, 0x14, 0xcc, 0x62], [1u8, 0, 1]);
        let body = authentication_answer(&router_keys, &asked.firstnonce, &servernonce, &rsan, &rsae);
        // Client: the router knows the password and signed its RSA key.
        let done = parse_authentication(body.as_bytes()).unwrap();
        let rsa = done.rsa.as_ref().unwrap();
        assert_eq!((rsa.n.as_str(), rsa.e.as_str()), ("e114cc62", "010001"));
        assert_eq!(keys.verify_authentication(&first, &servernonce, &done), Ok(()));
        assert!(keys.verify_server_signature(&first, &servernonce, &hex(&done.server_signature)));
        assert!(verify_server_signature(password, &salt, n(100), &first, &servernonce, &hex(&done.server_signature)));
        assert!(verify_client_proof(password, &salt, n(100), &first, &servernonce, &told.clientproof));
    }

    #[test]
    fn a_wrong_password_fails_either_check() {
        let salt = unhex(SALT).unwrap();
        let right = Keys::derive("right", &salt, n(100));
        let wrong = Keys::derive("wrong", &salt, n(100));
        let proof = wrong.client_proof(FIRST, &server());
        assert!(!right.verify_client_proof(FIRST, &server(), &proof));
        assert!(right.verify_client_proof(FIRST, &server(), &right.client_proof(FIRST, &server())));
        // The proof is bound to the nonces, the salt and the iteration count.
        let good = right.client_proof(FIRST, &server());
        assert!(!right.verify_client_proof(FIRST, &format!("{}x", server()), &good));
        assert!(!Keys::derive("right", &salt[1..], n(100)).verify_client_proof(FIRST, &server(), &good));
        assert!(!Keys::derive("right", &salt, n(101)).verify_client_proof(FIRST, &server(), &good));
        for junk in ["", "zz", &good[..62], &format!("{good}00"), "é"] {
            assert!(!right.verify_client_proof(FIRST, &server(), junk), "{junk:?}");
            assert!(!right.verify_server_signature(FIRST, &server(), junk), "{junk:?}");
        }

        // A router that does not know the password, or swapped the RSA key.
        let body = authentication_answer(&wrong, FIRST, &server(), &[0xab; 8], &[1, 0, 1]);
        let answer = parse_authentication(body.as_bytes()).unwrap();
        let e = right.verify_authentication(FIRST, &server(), &answer).unwrap_err();
        assert!(matches!(e, Error::Bad { element: "serversignature", .. }), "{e}");
        assert!(e.to_string().contains("does not know the password"));
        let body = authentication_answer(&right, FIRST, &server(), &[0xab; 8], &[1, 0, 1]);
        let mut answer = parse_authentication(body.as_bytes()).unwrap();
        assert_eq!(right.verify_authentication(FIRST, &server(), &answer), Ok(()));
        answer.rsa.as_mut().unwrap().n = "cd".repeat(8);
        let e = right.verify_authentication(FIRST, &server(), &answer).unwrap_err();
        assert!(matches!(e, Error::Bad { element: "rsapubkeysignature", .. }), "{e}");
    }

    #[test]
    fn a_router_answer_as_published() {
        // The shape of a B618's answer, pretty-printed.
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n\
                    <salt>735933444f7161574d4449615554486c5a5944686b414b30316f347734324c00</salt>\n\
                    <iterations>100</iterations>\n\
                    <servernonce>20d5164d1d538b0192c7da5df2fa36d699c9bc864f1a3894f5e2717f6bf3535cO69aaO0QwVPoWHYCemCAG6f31yqoe6E9</servernonce>\n\
                    <modeselected>1</modeselected>\n</response>\n";
        let c = parse_challenge(body.as_bytes()).unwrap();
        assert_eq!(c.salt.len(), 32);
        assert_eq!(c.iterations.get(), 100);
        assert!(c.servernonce.ends_with("6E9"));
        assert!(c.extends("20d5164d1d538b0192c7da5df2fa36d699c9bc864f1a3894f5e2717f6bf3535c"));
        // An answer without the RSA key (not mode 1) is still an answer.
        let sig = "ab".repeat(32);
        let a =
            parse_authentication(format!("<response><serversignature>{sig}</serversignature></response>").as_bytes())
                .unwrap();
        assert_eq!((a.server_signature, a.rsa), ([0xab; 32], None));
        let c = parse_challenge(b"<response><salt>00</salt><iterations>1</iterations><servernonce>x</servernonce><newType>1</newType></response>").unwrap();
        assert!(c.upgrade_requested);
        assert_eq!(c.mode_selected, None);
    }

    fn challenge_error(salt: &str, iterations: &str, nonce: &str) -> String {
        let body = format!(
            "<response><salt>{salt}</salt><iterations>{iterations}</iterations><servernonce>{nonce}</servernonce></response>"
        );
        parse_challenge(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn hostile_challenges_are_clear_errors() {
        assert_eq!(challenge_error("zz", "100", "n"), "<salt> holds \"zz\": not hex bytes");
        assert_eq!(challenge_error("abc", "100", "n"), "<salt> holds \"abc\": not hex bytes");
        assert_eq!(challenge_error("", "100", "n"), "<salt> holds \"\": empty");
        assert_eq!(challenge_error("00", "0", "n"), "<iterations> holds \"0\": zero: PBKDF2 needs at least one");
        assert_eq!(challenge_error("00", "000", "n"), "<iterations> holds \"000\": zero: PBKDF2 needs at least one");
        for huge in ["100001", "4294967295", "4294967296", "99999999999999999999999999"] {
            assert_eq!(
                challenge_error("00", huge, "n"),
                format!("<iterations> holds \"{huge}\": more than 100000, refused (routers ask for 100)")
            );
        }
        assert!(challenge_error("00", "100000", "").ends_with("<servernonce> holds \"\": empty"));
        for junk in ["-1", "1e3", "", " ", "ten", "0x10", "١٠٠"] {
            assert_eq!(challenge_error("00", junk, "n"), format!("<iterations> holds {junk:?}: not a number"));
        }
        let e = parse_challenge(b"<response><salt>00</salt><iterations>5</iterations></response>").unwrap_err();
        assert_eq!(e.to_string(), "<servernonce> is missing in <response>");
        let e = parse_challenge(b"<response><iterations>5</iterations></response>").unwrap_err();
        assert_eq!(e.to_string(), "<salt> is missing in <response>");
        let e = parse_challenge(b"<response><salt>00</salt><servernonce>x</servernonce></response>").unwrap_err();
        assert_eq!(e.to_string(), "<iterations> is missing in <response>");
        let e = parse_challenge(b"<response><salt>00</salt><iterations>5</iterations><servernonce>x</servernonce><modeselected>rsa</modeselected></response>").unwrap_err();
        assert_eq!(e.to_string(), "<modeselected> holds \"rsa\": not a number");
        // A long value is cut short in the message.
        let e = challenge_error(&"g".repeat(10_000), "1", "n");
        assert!(e.len() < 200 && e.contains("…"), "{e}");
        // The router's own refusals stay router errors.
        for (code, class) in [(108006, ErrorClass::BadCredentials), (108007, ErrorClass::LockedOut)] {
            let body = format!("<error><code>{code}</code><message></message></error>");
            match parse_challenge(body.as_bytes()) {
                Err(Error::Router(e)) => assert_eq!(e.class(), class),
                other => panic!("{other:?}"),
            }
            assert!(matches!(parse_authentication(body.as_bytes()), Err(Error::Router(_))));
        }
        assert!(matches!(parse_challenge(b"<html/>"), Err(Error::Root { .. })));
    }

    #[test]
    fn hostile_authentications_are_clear_errors() {
        let sig = "ab".repeat(32);
        let e = parse_authentication(b"<response><rsan>00</rsan></response>").unwrap_err();
        assert_eq!(e.to_string(), "<serversignature> is missing in <response>");
        let e = parse_authentication(b"<response><serversignature>abcd</serversignature></response>").unwrap_err();
        assert_eq!(e.to_string(), "<serversignature> holds \"abcd\": not 64 hex digits");
        let e = parse_authentication(format!("<response><serversignature>{sig}</serversignature><rsan>xy</rsan><rsae>010001</rsae><rsapubkeysignature>{sig}</rsapubkeysignature></response>").as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), "<rsan> holds \"xy\": not hex bytes");
        let e = parse_authentication(
            format!("<response><serversignature>{sig}</serversignature><rsan>00</rsan><rsae>010001</rsae></response>")
                .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "<rsapubkeysignature> is missing in <response>");
        let e = parse_authentication(format!("<response><serversignature>{sig}</serversignature><rsan>00</rsan><rsapubkeysignature>{sig}</rsapubkeysignature></response>").as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), "<rsae> is missing in <response>");
    }

    #[test]
    fn hostile_requests_are_clear_errors() {
        let e = ChallengeRequest::parse(b"<response/>").unwrap_err();
        assert_eq!(e.to_string(), "expected <request> as the answer, got <response>");
        let e = ChallengeRequest::parse(b"<request><username>a</username></request>").unwrap_err();
        assert_eq!(e.to_string(), "<firstnonce> is missing in <request>");
        let e = ChallengeRequest::parse(b"<request><firstnonce>x</firstnonce></request>").unwrap_err();
        assert_eq!(e.to_string(), "<username> is missing in <request>");
        let e = AuthenticationRequest::parse(b"<request><clientproof>00</clientproof></request>").unwrap_err();
        assert_eq!(e.to_string(), "<finalnonce> is missing in <request>");
        let r = ChallengeRequest::parse(b"<request><username/><firstnonce>x</firstnonce></request>").unwrap();
        assert_eq!((r.username.as_str(), r.mode), ("", None));
    }

    #[test]
    fn hex_both_ways() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex("00ABff"), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex(""), Some(vec![]));
        for bad in ["0", "0g", "+1", " 1", "é0", "\u{0}0"] {
            assert_eq!(unhex(bad), None, "{bad:?}");
        }
        let nonce = new_nonce().unwrap();
        assert_eq!(unhex(&nonce).map(|b| b.len()), Some(KEY_LEN));
        assert_ne!(nonce, new_nonce().unwrap());
        assert_eq!(format!("{:?}", Keys::derive("p", b"s", n(1))), "Keys(…)");
    }
}
