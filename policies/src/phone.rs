//! Telephone numbers as people in China write them.

use crate::normalise::to_half_width;

/// Whether `phone` is a mainland mobile number (11 digits starting 1[3-9], in groups
/// separated by spaces or '-' if the writer likes) or a landline with area code (0 + 2–3
/// digits, then 7–8 digits, optionally separated by '-', with an optional extension
/// "-1234"); spaces and full-width digits are accepted. The one rule of every form
/// (applications, products, objections, tickets).
pub fn is_phone(phone: &str) -> bool {
    let p: String = to_half_width(phone).chars().filter(|c| *c != ' ').collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let p = p.strip_prefix("+86").unwrap_or(&p);
    let compact = p.replace('-', "");
    if compact.len() == 11
        && digits(&compact)
        && compact.starts_with('1')
        && (b'3'..=b'9').contains(&compact.as_bytes()[1])
    {
        return true;
    }
    // A landline written in groups ("0571-8765-4321"): area code and number, 10 to 12
    // digits in all.
    if compact.starts_with('0')
        && (10..=12).contains(&compact.len())
        && digits(&compact)
        && p.split('-').all(|group| !group.is_empty())
    {
        return true;
    }
    let mut parts = p.split('-');
    let (Some(first), second, third, None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (area, number, extension) = match (second, third) {
        (Some(n), ext) => (first.to_owned(), n.to_owned(), ext),
        (None, None) if first.starts_with('0') && (10..=12).contains(&first.len()) => {
            // Without a separator the area code is 3 or 4 digits; accept either split.
            (first[..3].to_owned(), first[3..].to_owned(), None)
        }
        _ => return false,
    };
    let area_ok = area.starts_with('0') && (3..=4).contains(&area.len()) && digits(&area);
    let number_ok = (7..=9).contains(&number.len()) && digits(&number);
    let extension_ok = extension.is_none_or(|e| (1..=6).contains(&e.len()) && digits(e));
    area_ok && number_ok && extension_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_as_people_write_them() {
        for ok in [
            "13812345678",
            "+86 138 1234 5678",
            "0571-87654321",
            "010-12345678",
            "057187654321",
            "0571-87654321-123",
            "１３８１２３４５６７８",
            "138-1234-5678",
            "0571-8765-4321",
        ] {
            assert!(is_phone(ok), "{ok}");
        }
        for bad in [
            "",
            "12345678901",
            "1381234567",
            "571-87654321",
            "0571-123",
            "phone",
            "0571-87654321-",
            "138123456789",
        ] {
            assert!(!is_phone(bad), "{bad}");
        }
    }
}
