//! Citizen identity number, GB 11643-1999.

use chrono::NaiveDate;
use policies::{Gender, IdNumber, IdNumberError};
use proptest::prelude::*;

/// The worked examples of GB 11643-1999 (annex) and of its common explanations.
const PUBLISHED: [(&str, &str, Gender); 3] = [
    ("11010519491231002X", "1949-12-31", Gender::Female),
    ("440524188001010014", "1880-01-01", Gender::Male),
    ("110105194912310029", "1949-12-31", Gender::Female),
];

#[test]
fn published_examples_are_valid() {
    for (number, birth, gender) in PUBLISHED.iter().take(2) {
        let id = IdNumber::parse(number).unwrap_or_else(|e| panic!("{number}: {e}"));
        assert_eq!(id.as_str(), *number);
        assert_eq!(id.birth_date().to_string(), *birth);
        assert_eq!(id.gender(), *gender);
    }
}

#[test]
fn a_wrong_check_character_is_an_error() {
    let (number, _, _) = PUBLISHED[2];
    assert_eq!(
        IdNumber::parse(number),
        Err(IdNumberError::Checksum {
            expected: 'X',
            found: '9'
        })
    );
}

#[test]
fn lower_case_x_spaces_and_full_width_digits_are_accepted() {
    for input in [
        "11010519491231002x",
        "110105 19491231 002X",
        "１１０１０５１９４９１２３１００２Ｘ",
    ] {
        assert_eq!(
            IdNumber::parse(input).map(|i| i.as_str().to_owned()),
            Ok("11010519491231002X".to_owned()),
            "{input}"
        );
    }
}

#[test]
fn malformed_numbers_get_specific_errors() {
    assert_eq!(IdNumber::parse(""), Err(IdNumberError::Empty));
    // The 15-digit numbers of the 1984 scheme are refused.
    assert_eq!(
        IdNumber::parse("110105491231002"),
        Err(IdNumberError::Length { found: 15 })
    );
    assert_eq!(
        IdNumber::parse("1101051949X231002X"),
        Err(IdNumberError::InvalidCharacter {
            position: 11,
            character: 'X'
        })
    );
    assert_eq!(
        IdNumber::parse("99010519491231002X"),
        Err(IdNumberError::Region { code: "99".into() })
    );
    assert_eq!(
        IdNumber::parse("110105194902300021"),
        Err(IdNumberError::BirthDate {
            digits: "19490230".into()
        })
    );
    let e = IdNumber::parse("110105194902300021").unwrap_err();
    assert!(e.to_string().contains("19490230"), "{e}");
}

#[test]
fn built_numbers_carry_their_parts() {
    let birth = NaiveDate::from_ymd_opt(1990, 2, 28).unwrap();
    let id = IdNumber::from_parts("330106", birth, 37).unwrap();
    assert_eq!(id.address_code(), "330106");
    assert_eq!(id.birth_date(), birth);
    assert_eq!(id.gender(), Gender::Male);
    assert_eq!(&id.as_str()[14..17], "037");
}

fn parts() -> impl Strategy<Value = (String, NaiveDate, u16)> {
    (
        "33[0-9]{4}",
        (0i64..36_500).prop_map(|d| {
            NaiveDate::from_ymd_opt(1930, 1, 1).unwrap() + chrono::Days::new(d as u64)
        }),
        0u16..1000,
    )
}

proptest! {
    #[test]
    fn built_numbers_parse((address, birth, seq) in parts()) {
        let id = IdNumber::from_parts(&address, birth, seq).unwrap();
        prop_assert_eq!(IdNumber::parse(id.as_str()).unwrap(), id.clone());
        prop_assert_eq!(id.birth_date(), birth);
        let expected = if seq % 2 == 1 { Gender::Male } else { Gender::Female };
        prop_assert_eq!(id.gender(), expected);
    }

    // MOD 11-2 with weights coprime to 11 catches every single-digit substitution.
    #[test]
    fn any_single_substitution_is_caught(
        (address, birth, seq) in parts(),
        position in 0usize..18,
        digit in 0u8..10,
    ) {
        let id = IdNumber::from_parts(&address, birth, seq).unwrap();
        let mut bytes = id.as_str().as_bytes().to_vec();
        let replacement = b'0' + digit;
        prop_assume!(bytes[position] != replacement);
        bytes[position] = replacement;
        let mutated = String::from_utf8(bytes).unwrap();
        prop_assert!(IdNumber::parse(&mutated).is_err(), "{} passed", mutated);
    }

    #[test]
    fn arbitrary_input_never_panics(input in "\\PC{0,24}") {
        if let Ok(id) = IdNumber::parse(&input) {
            prop_assert_eq!(id.as_str().len(), 18);
        }
    }
}
