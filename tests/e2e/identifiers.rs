//! Every generated USCC and ID number passes a check written here independently of
//! the `policies` crate, straight from the standards' formulas.

use std::collections::HashSet;

use crate::{query, session};
use datafusion::arrow::array::AsArray;

/// GB 32100-2015 and GB 11714, from the formulas: weights 3^i mod 31 and
/// [3,7,9,10,5,8,4,2]; check values 31 - (sum mod 31) and 11 - (sum mod 11).
fn independent_uscc_ok(code: &str) -> bool {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let b = code.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let value = |c: u8| ALPHABET.iter().position(|&a| a == c);
    let mut sum = 0usize;
    let mut weight = 1usize;
    for &c in &b[..17] {
        let Some(v) = value(c) else { return false };
        sum += v * weight;
        weight = weight * 3 % 31;
    }
    let check = (31 - sum % 31) % 31;
    if ALPHABET[check] != b[17] {
        return false;
    }
    let org_value = |c: u8| {
        if c.is_ascii_digit() {
            (c - b'0') as usize
        } else {
            (c - b'A') as usize + 10
        }
    };
    let org_sum: usize = b[8..16]
        .iter()
        .zip([3, 7, 9, 10, 5, 8, 4, 2])
        .map(|(&c, w)| org_value(c) * w)
        .sum();
    let org_check = match 11 - org_sum % 11 {
        10 => b'X',
        11 => b'0',
        v => b'0' + v as u8,
    };
    org_check == b[16]
}

/// GB 11643-1999 (ISO 7064 MOD 11-2): check = (12 - (Σ aᵢ·2^(18-i) mod 11)) mod 11.
fn independent_id_ok(id: &str) -> bool {
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u64 = b[..17]
        .iter()
        .enumerate()
        .map(|(i, &c)| u64::from(c - b'0') * (1u64 << (17 - i)) % 11)
        .sum();
    let check = (12 - sum % 11) % 11;
    let expected = if check == 10 {
        b'X'
    } else {
        b'0' + check as u8
    };
    expected == b[17]
}

#[test]
fn the_independent_checks_agree_with_published_vectors() {
    assert!(independent_uscc_ok("913304007429141869"));
    assert!(independent_uscc_ok("91110000600037341L"));
    assert!(!independent_uscc_ok("91110000600037341N"));
    assert!(independent_id_ok("11010519491231002X"));
    assert!(independent_id_ok("440524188001010014"));
    assert!(!independent_id_ok("110105194912310029"));
}

#[tokio::test]
async fn every_generated_uscc_is_valid_and_unique() {
    let ctx = session().await;
    let mut seen = HashSet::new();
    let mut n = 0;
    for b in query(&ctx, "SELECT uscc, region_code FROM enterprises").await {
        let codes = b.column(0).as_string::<i32>();
        let regions = b.column(1).as_string::<i32>();
        for i in 0..b.num_rows() {
            let code = codes.value(i);
            assert!(independent_uscc_ok(code), "invalid USCC {code}");
            assert_eq!(
                &code[2..8],
                regions.value(i),
                "{code}: region code mismatch"
            );
            assert!(seen.insert(code.to_owned()), "duplicate USCC {code}");
            n += 1;
        }
    }
    assert_eq!(n, 2000);
}

#[tokio::test]
async fn every_generated_id_number_is_valid_unique_and_consistent() {
    let ctx = session().await;
    let mut seen = HashSet::new();
    let sql = "SELECT id_number, to_char(birth_date, '%Y%m%d'), gender, region_code FROM persons";
    let mut n = 0;
    for b in query(&ctx, sql).await {
        let ids = b.column(0).as_string::<i32>();
        let births = b.column(1).as_string::<i32>();
        let genders = b.column(2).as_string::<i32>();
        let regions = b.column(3).as_string::<i32>();
        for i in 0..b.num_rows() {
            let id = ids.value(i);
            assert!(independent_id_ok(id), "invalid ID number {id}");
            assert_eq!(&id[6..14], births.value(i));
            assert_eq!(&id[..6], regions.value(i));
            let male = (id.as_bytes()[16] - b'0') % 2 == 1;
            assert_eq!(genders.value(i), if male { "男" } else { "女" });
            assert!(seen.insert(id.to_owned()), "duplicate ID number");
            n += 1;
        }
    }
    assert_eq!(n, 1000);
}

#[tokio::test]
async fn mobiles_are_eleven_digits_with_an_operator_prefix() {
    let ctx = session().await;
    for m in crate::strings(&ctx, "SELECT mobile FROM persons").await {
        assert_eq!(m.len(), 11, "{m}");
        assert!(
            m.starts_with('1') && m.bytes().all(|b| b.is_ascii_digit()),
            "{m}"
        );
    }
}

#[tokio::test]
async fn the_uscc_prefix_agrees_with_the_organisation_type() {
    let ctx = session().await;
    let wrong = crate::count(
        &ctx,
        "SELECT COUNT(*) FROM enterprises WHERE \
         (org_type IN ('有限责任公司', '股份有限公司', '个人独资企业', '合伙企业') AND substr(uscc, 1, 2) <> '91') \
         OR (org_type = '个体工商户' AND substr(uscc, 1, 2) <> '92') \
         OR (org_type = '农民专业合作社' AND substr(uscc, 1, 2) <> '93') \
         OR (org_type = '社会服务机构' AND substr(uscc, 1, 2) <> '52') \
         OR (org_type = '社会团体' AND substr(uscc, 1, 2) <> '51')",
    )
    .await;
    assert_eq!(wrong, 0);
}
