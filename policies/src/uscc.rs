//! Unified social credit code (统一社会信用代码), GB 32100-2015.
//!
//! Layout of the 18 characters:
//!
//! | position | meaning |
//! |---|---|
//! | 1 | registration authority (登记管理部门代码) |
//! | 2 | organisation category within that authority (机构类别代码) |
//! | 3–8 | administrative region code of GB/T 2260 (登记管理机关行政区划码) |
//! | 9–17 | organisation code of GB 11714: eight body characters and a check character |
//! | 18 | check character over positions 1–17, modulo 31 |
//!
//! Codes issued in the early pilot period sometimes fail one of the two checks, and
//! they are still in use. A checksum failure is therefore a [`UsccWarning`], not an
//! error: callers that register new data can demand a clean code with
//! [`Uscc::parse_strict`], while search accepts the code and shows the warning.

use std::fmt;

use crate::normalise::compact_identifier;

/// The 31 characters a USCC may contain, in check-value order (I, O, S, V and Z are
/// excluded because they are easily confused with digits or each other).
pub const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of positions 1–17 for the final check character: 3^i mod 31.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Weights of the eight body characters of a GB 11714 organisation code.
const ORG_CODE_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Registration authorities of GB 32100-2015 table 1.
const REGISTRATION_AUTHORITIES: &str = "123456789ANY";

/// A unified social credit code whose format is valid. Its checksums may still
/// carry warnings; see [`Uscc::check`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc(String);

/// The result of checking a code: the normalised code and what is doubtful about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsccCheck {
    /// The code, normalised to 18 upper-case ASCII characters.
    pub uscc: Uscc,
    /// Checksum problems that early pilot codes can have; empty for a clean code.
    pub warnings: Vec<UsccWarning>,
}

/// A doubt about a code whose format is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsccWarning {
    /// The 18th character does not match the GB 32100 check over positions 1–17.
    CheckCharacterMismatch {
        /// The check character the first 17 characters call for.
        expected: char,
        /// The check character the code carries.
        found: char,
    },
    /// The organisation code (positions 9–17) fails its GB 11714 check.
    OrganisationCodeMismatch {
        /// The check character the eight body characters call for.
        expected: char,
        /// The check character at position 17.
        found: char,
    },
}

/// Why a string is not a unified social credit code at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    /// Nothing was given.
    #[error("the unified social credit code (统一社会信用代码) is empty")]
    Empty,
    /// Wrong number of characters after removing spaces and hyphens.
    #[error(
        "a unified social credit code (统一社会信用代码) has 18 characters, this one has {found}"
    )]
    Length {
        /// How many characters were found.
        found: usize,
    },
    /// A character outside the code's alphabet.
    #[error(
        "character {position} of the unified social credit code is '{character}', which is not allowed there ({allowed})"
    )]
    InvalidCharacter {
        /// 1-based position of the character.
        position: usize,
        /// The offending character.
        character: char,
        /// What the position allows, in words.
        allowed: &'static str,
    },
    /// The code is well-formed but a checksum fails and a clean code was required.
    #[error("the unified social credit code {code} fails its check: {warning}")]
    Checksum {
        /// The normalised code.
        code: String,
        /// The failing check.
        warning: UsccWarning,
    },
}

impl fmt::Display for UsccWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CheckCharacterMismatch { expected, found } => write!(
                f,
                "check character (position 18) is '{found}' but should be '{expected}'; early pilot codes can fail this check, otherwise the code is mistyped"
            ),
            Self::OrganisationCodeMismatch { expected, found } => write!(
                f,
                "organisation code check character (position 17) is '{found}' but should be '{expected}'; early pilot codes can fail this check, otherwise the code is mistyped"
            ),
        }
    }
}

impl UsccWarning {
    /// The same, in Chinese (for the web pages).
    pub fn zh(&self) -> String {
        match self {
            Self::CheckCharacterMismatch { expected, found } => format!(
                "这个代码的校验码（第 18 位）是“{found}”，应为“{expected}”：早期试点代码可能通不过校验，否则就是代码输错了。"
            ),
            Self::OrganisationCodeMismatch { expected, found } => format!(
                "这个代码中组织机构代码的校验码（第 17 位）是“{found}”，应为“{expected}”：早期试点代码可能通不过校验，否则就是代码输错了。"
            ),
        }
    }
}

impl Uscc {
    /// Checks `input` and returns the normalised code with any checksum warnings.
    ///
    /// Spaces, hyphens and full-width characters are accepted and normalised; letters
    /// are upper-cased.
    pub fn check(input: &str) -> Result<UsccCheck, UsccError> {
        let code = compact_identifier(input);
        if code.is_empty() {
            return Err(UsccError::Empty);
        }
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 18 {
            return Err(UsccError::Length { found: chars.len() });
        }
        for (i, &c) in chars.iter().enumerate() {
            let (ok, allowed) = match i {
                0 => (
                    REGISTRATION_AUTHORITIES.contains(c),
                    "a registration authority code: 1-9, A, N or Y",
                ),
                1 => (
                    c.is_ascii_digit() && c != '0',
                    "an organisation category digit 1-9",
                ),
                2..=7 => (c.is_ascii_digit(), "a digit of the region code"),
                16 => (
                    c.is_ascii_digit() || c == 'X',
                    "the organisation code check character: a digit or X",
                ),
                _ => (
                    alphabet_value(c).is_some(),
                    "digits and the letters A-Y except I, O, S, V",
                ),
            };
            if !ok {
                return Err(UsccError::InvalidCharacter {
                    position: i + 1,
                    character: c,
                    allowed,
                });
            }
        }

        let mut warnings = Vec::new();
        let org_expected = organisation_check_character(&chars[8..16]);
        if chars[16] != org_expected {
            warnings.push(UsccWarning::OrganisationCodeMismatch {
                expected: org_expected,
                found: chars[16],
            });
        }
        let expected = uscc_check_character(&chars[..17]);
        if chars[17] != expected {
            warnings.push(UsccWarning::CheckCharacterMismatch {
                expected,
                found: chars[17],
            });
        }
        Ok(UsccCheck {
            uscc: Uscc(code),
            warnings,
        })
    }

    /// Parses a code and refuses any checksum failure: for data the platform creates
    /// or registers, where a pilot-era exception is not plausible.
    pub fn parse_strict(input: &str) -> Result<Uscc, UsccError> {
        let checked = Self::check(input)?;
        match checked.warnings.into_iter().next() {
            None => Ok(checked.uscc),
            Some(warning) => Err(UsccError::Checksum {
                code: checked.uscc.0,
                warning,
            }),
        }
    }

    /// The one form in which a code is stored, compared and given to the access rules:
    /// 18 upper-case ASCII characters when its format is valid (spaces, hyphens and
    /// full-width characters removed or narrowed, letters upper-cased), otherwise the
    /// input trimmed, which no valid code equals. Every path that stores or compares a
    /// code goes through this, so `91110000600037341l` and `９１１１…Ｌ` are one code.
    pub fn canonical(input: &str) -> String {
        match Self::check(input) {
            Ok(checked) => checked.uscc.0,
            Err(_) => input.trim().to_owned(),
        }
    }

    /// Builds a clean code from its parts, computing both check characters.
    ///
    /// `authority` and `category` are single characters, `region` is six digits and
    /// `organisation_body` the eight body characters of the organisation code.
    pub fn from_parts(
        authority: char,
        category: char,
        region: &str,
        organisation_body: &str,
    ) -> Result<Uscc, UsccError> {
        let mut code = String::with_capacity(18);
        code.push(authority);
        code.push(category);
        code.push_str(region);
        code.push_str(organisation_body);
        let body: Vec<char> = organisation_body.chars().collect();
        if body.len() == 8 && body.iter().all(|c| alphabet_value(*c).is_some()) {
            code.push(organisation_check_character(&body));
        }
        let head: Vec<char> = code.chars().collect();
        if head.len() == 17 && head.iter().all(|c| alphabet_value(*c).is_some()) {
            code.push(uscc_check_character(&head));
        }
        Self::parse_strict(&code)
    }

    /// The code as 18 ASCII characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Position 1: the registration authority code.
    pub fn registration_authority(&self) -> char {
        self.0.as_bytes()[0] as char
    }

    /// Positions 3–8: the administrative region code of the registering authority.
    pub fn region_code(&self) -> &str {
        &self.0[2..8]
    }

    /// Positions 9–17: the GB 11714 organisation code.
    pub fn organisation_code(&self) -> &str {
        &self.0[8..17]
    }
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Value of a character in the USCC alphabet.
fn alphabet_value(c: char) -> Option<u32> {
    USCC_ALPHABET.find(c).map(|i| i as u32)
}

/// Value of a character in a GB 11714 organisation code body: digits, then A=10 … Z=35.
fn organisation_value(c: char) -> u32 {
    match c {
        '0'..='9' => c as u32 - '0' as u32,
        'A'..='Z' => c as u32 - 'A' as u32 + 10,
        _ => 0,
    }
}

fn organisation_check_character(body: &[char]) -> char {
    let sum: u32 = body
        .iter()
        .zip(ORG_CODE_WEIGHTS)
        .map(|(&c, w)| organisation_value(c) * w)
        .sum();
    match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        v => char::from_digit(v, 10).unwrap_or('0'),
    }
}

fn uscc_check_character(head: &[char]) -> char {
    let sum: u32 = head
        .iter()
        .zip(USCC_WEIGHTS)
        .map(|(&c, w)| alphabet_value(c).unwrap_or(0) * w)
        .sum();
    let value = (31 - sum % 31) % 31;
    USCC_ALPHABET.as_bytes()[value as usize] as char
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1u32;
        for expected in USCC_WEIGHTS {
            assert_eq!(w, expected);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn alphabet_has_31_distinct_characters_without_confusables() {
        assert_eq!(USCC_ALPHABET.len(), 31);
        for c in ['I', 'O', 'S', 'V', 'Z'] {
            assert!(!USCC_ALPHABET.contains(c));
        }
    }
}
