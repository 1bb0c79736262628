//! Who may create links: the host's accounts, each with its own bearer token.
//!
//! Creating a link and uploading to it cost the host storage and (with a passcode) an Argon2
//! run, so `POST /api/shl` needs `Authorization: Bearer <account token>`. Later calls on the
//! link carry its own management token, which only the creating account received. Accounts
//! are per caller rather than one token per deployment so that a host serving several apps or
//! people can give each its own quota ([`crate::Quotas`]) and withdraw one without touching
//! the others.
//!
//! The accounts live in a text file, one `name token` pair per line (`#` starts a comment);
//! names are 1–64 characters of `A–Z a–z 0–9 . _ -`, tokens at least 32 characters
//! ([`ApiToken`]). `phrkit serve` reads `<data>/accounts`, creating it (mode 0600) with one
//! account `owner` and a random token on first start; the file is read at start, so a change
//! takes effect on the next start. Tokens are compared as SHA-256 digests in
//! constant time, against every account whatever matched, so timing tells nothing about which
//! account, or how much of a token, was right.

use std::path::Path;

use crate::error::ServerError;
use crate::fhir::ApiToken;

/// Name of the accounts file inside the data folder.
pub const ACCOUNTS_FILE: &str = "accounts";

/// Name of the account `phrkit serve` creates on first start.
pub const FIRST_ACCOUNT: &str = "owner";

/// Longest account name, in characters.
const MAX_NAME_CHARS: usize = 64;

/// One caller allowed to create links. `Debug` shows the name, never the token.
#[derive(Debug, Clone)]
pub struct Account {
    name: String,
    token: ApiToken,
}

impl Account {
    /// An account called `name` (1–64 characters of `A–Z a–z 0–9 . _ -`) using `token`.
    pub fn new(name: &str, token: ApiToken) -> Result<Account, ServerError> {
        let valid = !name.is_empty()
            && name.chars().count() <= MAX_NAME_CHARS
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(ServerError::Config(
                "an account name is 1-64 characters of A-Z a-z 0-9 . _ -",
            ));
        }
        Ok(Account {
            name: name.to_owned(),
            token,
        })
    }

    /// An account called `name` with a new random token (for hosts embedded in an app, a
    /// demo or a test, which hand the token to their own sharing code).
    pub fn generate(name: &str) -> Result<Account, ServerError> {
        Account::new(name, ApiToken::generate()?)
    }

    /// The account's name (stored with each link it creates; counts against its quota).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The account's token; keep it out of logs.
    pub fn token(&self) -> &ApiToken {
        &self.token
    }
}

/// The account whose token `presented` is, comparing with every account in constant time.
pub(crate) fn find<'a>(accounts: &'a [Account], presented: &str) -> Option<&'a Account> {
    accounts.iter().fold(None, |found, account| {
        let matches = account.token.matches(presented);
        if matches && found.is_none() {
            Some(account)
        } else {
            found
        }
    })
}

/// Parse an accounts file's text: `name token` per line, blank lines and `#` comments ignored.
/// Errors name the line, never its content (it holds a token).
pub fn parse_accounts(text: &str) -> Result<Vec<Account>, ServerError> {
    let mut accounts: Vec<Account> = Vec::new();
    // A byte-order mark from an editor is not part of the first name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: &'static str| ServerError::Accounts {
            line: index + 1,
            why,
        };
        let mut parts = line.split_whitespace();
        let (Some(name), Some(token), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected `name token`"));
        };
        let token =
            ApiToken::new(token).map_err(|_| bad("the token is shorter than 32 characters"))?;
        let account = Account::new(name, token)
            .map_err(|_| bad("the name must be 1-64 characters of A-Z a-z 0-9 . _ -"))?;
        if accounts.iter().any(|a| a.name == account.name) {
            return Err(bad("this account name appears twice"));
        }
        if accounts.iter().any(|a| a.token == account.token) {
            return Err(bad("this token is already another account's"));
        }
        accounts.push(account);
    }
    Ok(accounts)
}

/// Reads the accounts file at `path`. Blocks. Errors: unreadable, or a malformed line.
pub fn load_accounts(path: &Path) -> Result<Vec<Account>, ServerError> {
    parse_accounts(&std::fs::read_to_string(path)?)
}

/// Reads `<data_dir>/accounts`, or creates it (mode 0600) holding one account `owner` with a
/// new random token. Returns the accounts and whether the file was created now. Blocks.
pub fn load_or_create_accounts(data_dir: &Path) -> Result<(Vec<Account>, bool), ServerError> {
    let path = data_dir.join(ACCOUNTS_FILE);
    if path.exists() {
        return Ok((load_accounts(&path)?, false));
    }
    std::fs::create_dir_all(data_dir)?;
    let account = Account::new(FIRST_ACCOUNT, ApiToken::generate()?)?;
    let text = format!(
        "# Accounts allowed to create SMART Health Links on this host: `name token` per line.\n\
         {} {}\n",
        account.name,
        account.token.expose()
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    file.sync_all()?;
    Ok((vec![account], true))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn accounts_file_lines() {
        // As an editor on Windows may save it: a byte-order mark and CRLF line ends.
        let accounts = parse_accounts(&format!(
            "\u{feff}# hosts\r\n\r\nclinic {A}\r\nfamily-app {B} # mine\r\n"
        ))
        .unwrap();
        let names: Vec<&str> = accounts.iter().map(Account::name).collect();
        assert_eq!(names, ["clinic", "family-app"]);
        assert_eq!(find(&accounts, B).map(Account::name), Some("family-app"));
        assert!(find(&accounts, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").is_none());
        assert!(find(&accounts, "").is_none());
    }

    #[test]
    fn malformed_lines_are_refused_by_number_without_their_content() {
        for (text, line) in [
            (format!("ok {A}\nshort abc\n"), 2),
            ("only-a-name\n".to_string(), 1),
            (format!("a {A} extra\n"), 1),
            (format!("bad/name {A}\n"), 1),
            (format!("x {A}\nx {B}\n"), 2),
            (format!("x {A}\ny {A}\n"), 2),
        ] {
            let error = parse_accounts(&text).err().unwrap();
            assert!(
                matches!(error, ServerError::Accounts { line: l, .. } if l == line),
                "{text:?}: {error}"
            );
            assert!(!error.to_string().contains("aaaa"), "{error}");
        }
    }

    #[test]
    fn first_start_creates_a_private_accounts_file_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let (created, fresh) = load_or_create_accounts(dir.path()).unwrap();
        assert!(fresh);
        assert_eq!(created[0].name(), FIRST_ACCOUNT);
        let (again, fresh) = load_or_create_accounts(dir.path()).unwrap();
        assert!(!fresh);
        assert_eq!(again[0].token(), created[0].token());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(ACCOUNTS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
