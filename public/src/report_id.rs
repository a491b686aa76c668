//! The identity of an issued credit report (BRIEF Q5): its number — the generation time
//! `yyyyMMddHHmmss` followed by four random digits, retried by the caller on a collision
//! — and its verification code: an HMAC-SHA256 under the platform's key over the number,
//! the subject and the SHA-256 of the report's content, truncated to 16 characters of
//! Crockford base-32 (no I, L, O, U) in groups of four, so that a person can type it.
//! Anyone holding a report can have it verified; a report whose content differs by one
//! byte does not verify.

use chrono::{DateTime, FixedOffset};

/// Characters of the code: digits and upper-case letters without I, L, O, U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of a verification code (groups of four, without the dashes).
pub const CODE_CHARS: usize = 16;

/// A report number for a report generated at `at` (Beijing time), with `random` (0–9999)
/// as its last four digits.
pub fn report_number(at: DateTime<FixedOffset>, random: u16) -> String {
    format!("{}{:04}", at.format("%Y%m%d%H%M%S"), random % 10_000)
}

/// Four random digits from the operating system.
pub fn random_suffix() -> u16 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 2];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the operating system's random number generator works");
    u16::from_le_bytes(bytes) % 10_000
}

/// SHA-256 of a report's content, hex.
pub fn content_hash(content: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, content)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The verification code of a report: `XXXX-XXXX-XXXX-XXXX`.
pub fn verification_code(key: &[u8], number: &str, subject: &str, content: &[u8]) -> String {
    code_for_hash(key, number, subject, &content_hash(content))
}

/// The verification code of a report whose content has SHA-256 `hash` (hex), as kept in
/// the archive.
pub fn code_for_hash(key: &[u8], number: &str, subject: &str, hash: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let message = format!("{number}\n{subject}\n{hash}");
    let tag = ring::hmac::sign(&key, message.as_bytes());
    // 16 characters of 5 bits: the first 80 bits of the tag.
    let bits = tag.as_ref();
    let mut out = String::new();
    for i in 0..CODE_CHARS {
        let bit = i * 5;
        let (byte, shift) = (bit / 8, bit % 8);
        let window = (u16::from(bits[byte]) << 8) | u16::from(bits[byte + 1]);
        let value = (window >> (11 - shift)) & 0x1f;
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(ALPHABET[value as usize] as char);
    }
    out
}

/// Normalises a code as typed (spaces, dashes, lower case, and the letters people
/// confuse with digits: I and L → 1, O → 0).
pub fn normalise_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        })
        .collect()
}

/// Whether `typed` is the verification code of this report (compared in constant time).
pub fn verify(key: &[u8], number: &str, subject: &str, content: &[u8], typed: &str) -> bool {
    verify_hash(key, number, subject, &content_hash(content), typed)
}

/// Whether `typed` is the verification code of the archived report with content hash
/// `hash` (compared in constant time).
pub fn verify_hash(key: &[u8], number: &str, subject: &str, hash: &str, typed: &str) -> bool {
    let expected = normalise_code(&code_for_hash(key, number, subject, hash));
    let typed = normalise_code(typed);
    // Every byte compared whatever the first difference, so timing says nothing.
    expected.len() == typed.len()
        && expected
            .bytes()
            .zip(typed.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"a key of the platform, 32 bytes!";

    #[test]
    fn numbers_are_the_generation_time_and_four_digits() {
        let at = DateTime::parse_from_rfc3339("2026-11-22T09:05:07+08:00").expect("time");
        assert_eq!(report_number(at, 42), "202611220905070042");
        assert_eq!(report_number(at, 9_999), "202611220905079999");
        assert_eq!(report_number(at, 12_345), "202611220905072345");
        assert!(random_suffix() < 10_000);
    }

    #[test]
    fn a_code_verifies_its_report_and_nothing_else() {
        let content = b"%PDF-1.7 the report's bytes".to_vec();
        let code = verification_code(KEY, "202611220905070042", "91330106MA2B1C3D4E", &content);
        assert_eq!(code.len(), CODE_CHARS + 3);
        assert!(
            code.chars()
                .all(|c| c == '-' || ALPHABET.contains(&(c as u8)))
        );
        assert!(verify(
            KEY,
            "202611220905070042",
            "91330106MA2B1C3D4E",
            &content,
            &code
        ));
        // As people type it.
        assert!(verify(
            KEY,
            "202611220905070042",
            "91330106MA2B1C3D4E",
            &content,
            &code.to_lowercase().replace('-', " ")
        ));
        // Any byte of the content changed: refused.
        for i in 0..content.len() {
            let mut changed = content.clone();
            changed[i] ^= 1;
            assert!(
                !verify(
                    KEY,
                    "202611220905070042",
                    "91330106MA2B1C3D4E",
                    &changed,
                    &code
                ),
                "byte {i}"
            );
        }
        // Another number, subject or key: refused.
        assert!(!verify(
            KEY,
            "202611220905070043",
            "91330106MA2B1C3D4E",
            &content,
            &code
        ));
        assert!(!verify(
            KEY,
            "202611220905070042",
            "91330106MA2B1C3D4F",
            &content,
            &code
        ));
        assert!(!verify(
            b"another key",
            "202611220905070042",
            "91330106MA2B1C3D4E",
            &content,
            &code
        ));
        assert!(!verify(
            KEY,
            "202611220905070042",
            "91330106MA2B1C3D4E",
            &content,
            ""
        ));
    }

    #[test]
    fn typed_codes_fold_the_letters_people_confuse() {
        assert_eq!(normalise_code("abcd-efgh ijkl-mnop"), "ABCDEFGH1JK1MN0P");
    }
}
