//! Citizen identity number (公民身份号码), GB 11643-1999.
//!
//! Eighteen characters: a six-digit address code (GB/T 2260), the birth date as
//! `YYYYMMDD`, a three-digit sequence whose parity gives the gender (odd: male), and a
//! check character computed modulo 11 (ISO 7064 MOD 11-2), `X` standing for 10.
//! Unlike the USCC there is no pilot-era exception: a failing check is an error.

use std::fmt;

use chrono::NaiveDate;

use crate::normalise::compact_identifier;

/// Weights of positions 1–17: 2^(17-i) mod 11.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// Check character for each value of the weighted sum modulo 11.
const CHECK_CHARACTERS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Province-level codes of GB/T 2260 (the first two digits of the address code),
/// including Taiwan, Hong Kong and Macao as the standard lists them.
const PROVINCE_CODES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// A valid 18-character citizen identity number.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdNumber(String);

/// Gender encoded by the parity of the sequence code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gender {
    /// Odd sequence code.
    Male,
    /// Even sequence code.
    Female,
}

/// Why a string is not a valid identity number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    /// Nothing was given.
    #[error("the ID number (身份证号码) is empty")]
    Empty,
    /// Wrong number of characters. Fifteen-character numbers of the 1984 scheme are
    /// no longer valid documents and are refused too.
    #[error("an ID number (身份证号码) has 18 characters, this one has {found}")]
    Length {
        /// How many characters were found.
        found: usize,
    },
    /// A character other than a digit (or `X` in the last position).
    #[error(
        "character {position} of the ID number is '{character}'; only digits are allowed, and X only as the last character"
    )]
    InvalidCharacter {
        /// 1-based position.
        position: usize,
        /// The offending character.
        character: char,
    },
    /// The first two digits are not a province-level region code.
    #[error("the ID number starts with {code}, which is not a province-level region code")]
    Region {
        /// The two leading digits.
        code: String,
    },
    /// Positions 7–14 are not a real calendar date.
    #[error("characters 7-14 of the ID number ({digits}) are not a valid birth date")]
    BirthDate {
        /// The eight digits found.
        digits: String,
    },
    /// The check character does not match.
    #[error(
        "the ID number's check character is '{found}' but should be '{expected}'; the number is mistyped"
    )]
    Checksum {
        /// What positions 1–17 call for.
        expected: char,
        /// What the number carries.
        found: char,
    },
}

impl IdNumberError {
    /// The same, in Chinese (for the web pages).
    pub fn zh(&self) -> String {
        match self {
            IdNumberError::Empty => "请填写公民身份号码。".into(),
            IdNumberError::Length { found } => {
                format!("公民身份号码应为 18 位，这里是 {found} 位。")
            }
            IdNumberError::InvalidCharacter {
                position,
                character,
            } => format!(
                "公民身份号码第 {position} 位是“{character}”：只能是数字，X 只能在最后一位。"
            ),
            IdNumberError::Region { code } => {
                format!("公民身份号码以 {code} 开头，这不是省级行政区划代码。")
            }
            IdNumberError::BirthDate { digits } => {
                format!("公民身份号码第 7–14 位（{digits}）不是有效的出生日期。")
            }
            IdNumberError::Checksum { found, expected } => {
                format!("公民身份号码的校验码是“{found}”，应为“{expected}”：号码可能输错了。")
            }
        }
    }
}

impl IdNumber {
    /// Parses and fully validates an identity number. Spaces and full-width digits
    /// are accepted; a lower-case `x` is upper-cased.
    pub fn parse(input: &str) -> Result<IdNumber, IdNumberError> {
        let code = compact_identifier(input);
        if code.is_empty() {
            return Err(IdNumberError::Empty);
        }
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 18 {
            return Err(IdNumberError::Length { found: chars.len() });
        }
        for (i, &c) in chars.iter().enumerate() {
            if !(c.is_ascii_digit() || (i == 17 && c == 'X')) {
                return Err(IdNumberError::InvalidCharacter {
                    position: i + 1,
                    character: c,
                });
            }
        }
        let province: u8 = code[..2].parse().unwrap_or(0);
        if !PROVINCE_CODES.contains(&province) {
            return Err(IdNumberError::Region {
                code: code[..2].to_owned(),
            });
        }
        if NaiveDate::parse_from_str(&code[6..14], "%Y%m%d").is_err() {
            return Err(IdNumberError::BirthDate {
                digits: code[6..14].to_owned(),
            });
        }
        let expected = check_character(&code[..17]);
        if chars[17] != expected {
            return Err(IdNumberError::Checksum {
                expected,
                found: chars[17],
            });
        }
        Ok(IdNumber(code))
    }

    /// Builds a valid number from its parts, computing the check character.
    /// `address` is six digits, `sequence` is 0–999.
    pub fn from_parts(
        address: &str,
        birth_date: NaiveDate,
        sequence: u16,
    ) -> Result<IdNumber, IdNumberError> {
        let head = format!("{address}{}{:03}", birth_date.format("%Y%m%d"), sequence);
        let check = if head.len() == 17 && head.bytes().all(|b| b.is_ascii_digit()) {
            check_character(&head)
        } else {
            '0'
        };
        Self::parse(&format!("{head}{check}"))
    }

    /// The number as 18 ASCII characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Positions 1–6: the address code of the place of first registration.
    pub fn address_code(&self) -> &str {
        &self.0[..6]
    }

    /// Positions 7–14 as a date.
    pub fn birth_date(&self) -> NaiveDate {
        NaiveDate::parse_from_str(&self.0[6..14], "%Y%m%d").unwrap_or_default()
    }

    /// The gender encoded by position 17.
    pub fn gender(&self) -> Gender {
        if (self.0.as_bytes()[16] - b'0') % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }
}

/// The check character for the first 17 digits.
fn check_character(head: &str) -> char {
    let sum: u32 = head
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    CHECK_CHARACTERS[(sum % 11) as usize]
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Debug output never prints the whole number: ID numbers are sensitive, and debug
/// formatting ends up in logs.
impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({}********{})", &self.0[..6], &self.0[14..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_powers_of_two_mod_11() {
        for (i, w) in WEIGHTS.iter().enumerate() {
            assert_eq!(*w, 2u32.pow(17 - i as u32) % 11);
        }
    }

    #[test]
    fn debug_masks_the_birth_date() {
        let id = IdNumber::parse("11010519491231002X").unwrap();
        assert_eq!(format!("{id:?}"), "IdNumber(110105********002X)");
    }
}
