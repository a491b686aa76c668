//! Unified social credit code, GB 32100-2015.

use policies::{USCC_ALPHABET, Uscc, UsccError, UsccWarning};
use proptest::prelude::*;

fn published_codes() -> Vec<&'static str> {
    include_str!("../data/uscc_published.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

#[test]
fn published_codes_pass_the_check_character() {
    let codes = published_codes();
    assert!(codes.len() >= 40, "test data went missing: {}", codes.len());
    for code in codes {
        let checked = Uscc::check(code).unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(checked.uscc.as_str(), code);
        assert!(
            !checked
                .warnings
                .iter()
                .any(|w| matches!(w, UsccWarning::CheckCharacterMismatch { .. })),
            "{code}: {:?}",
            checked.warnings
        );
    }
}

#[test]
fn published_codes_pass_the_inner_organisation_code_check() {
    for code in published_codes() {
        let checked = Uscc::check(code).expect("format is valid");
        assert_eq!(checked.warnings, vec![], "{code}");
        assert_eq!(Uscc::parse_strict(code).expect("clean").as_str(), code);
    }
}

#[test]
fn separators_full_width_and_lower_case_are_normalised() {
    for input in [
        "91 110000 600037341L",
        "91110000-600037341-l",
        "９１１１００００６０００３７３４１Ｌ",
        "\u{3000}91110000600037341L\t",
    ] {
        let checked = Uscc::check(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(checked.uscc.as_str(), "91110000600037341L", "{input}");
        assert!(checked.warnings.is_empty());
    }
}

#[test]
fn parts_are_exposed() {
    let uscc = Uscc::parse_strict("913304007429141869").expect("valid");
    assert_eq!(uscc.registration_authority(), '9');
    assert_eq!(uscc.region_code(), "330400");
    assert_eq!(uscc.organisation_code(), "742914186");
}

#[test]
fn wrong_length_is_an_error_naming_the_length() {
    assert_eq!(Uscc::check("12345"), Err(UsccError::Length { found: 5 }));
    assert_eq!(Uscc::check(""), Err(UsccError::Empty));
    assert_eq!(Uscc::check("  "), Err(UsccError::Empty));
    let e = Uscc::check("91110000600037341L1").unwrap_err();
    assert!(
        e.to_string().contains("18 characters, this one has 19"),
        "{e}"
    );
}

#[test]
fn confusable_letters_are_an_error_naming_the_position() {
    let e = Uscc::check("9111000060003IOZSV").unwrap_err();
    assert_eq!(
        e,
        UsccError::InvalidCharacter {
            position: 14,
            character: 'I',
            allowed: "digits and the letters A-Y except I, O, S, V",
        }
    );
    assert!(e.to_string().contains("character 14"), "{e}");
}

#[test]
fn structural_positions_are_checked() {
    // Unknown registration authority.
    assert!(matches!(
        Uscc::check("B1110000600037341L"),
        Err(UsccError::InvalidCharacter { position: 1, .. })
    ));
    // Category zero.
    assert!(matches!(
        Uscc::check("90110000600037341L"),
        Err(UsccError::InvalidCharacter { position: 2, .. })
    ));
    // Letter in the region code.
    assert!(matches!(
        Uscc::check("9111A000600037341L"),
        Err(UsccError::InvalidCharacter { position: 5, .. })
    ));
    // Organisation check character must be a digit or X.
    assert!(matches!(
        Uscc::check("9111000060003734AL"),
        Err(UsccError::InvalidCharacter { position: 17, .. })
    ));
    // Non-ASCII.
    assert!(matches!(
        Uscc::check("91110000600037341中"),
        Err(UsccError::InvalidCharacter {
            position: 18,
            character: '中',
            ..
        })
    ));
}

#[test]
fn checksum_failure_is_a_warning_not_an_error() {
    // python-stdnum's example of a bad check character.
    let checked = Uscc::check("91110000600037341N").expect("pilot codes are accepted");
    assert_eq!(
        checked.warnings,
        vec![UsccWarning::CheckCharacterMismatch {
            expected: 'L',
            found: 'N'
        }]
    );
    let message = checked.warnings[0].to_string();
    assert!(message.contains("should be 'L'"), "{message}");
    assert!(message.contains("pilot"), "{message}");
}

#[test]
fn strict_parsing_refuses_checksum_failures() {
    let e = Uscc::parse_strict("91110000600037341N").unwrap_err();
    assert!(matches!(e, UsccError::Checksum { .. }), "{e:?}");
    assert!(e.to_string().contains("91110000600037341N"), "{e}");
}

#[test]
fn organisation_code_failure_is_reported_separately() {
    // Change the inner check digit (position 17) and repair the outer one, so only
    // the GB 11714 check fails.
    let mut code: Vec<char> = "91110000600037341L".chars().collect();
    code[16] = '2';
    let head: String = code[..17].iter().collect();
    let repaired = (0..31)
        .map(|i| format!("{head}{}", &USCC_ALPHABET[i..i + 1]))
        .find(|c| {
            Uscc::check(c)
                .map(|k| k.warnings.len() == 1)
                .unwrap_or(false)
        })
        .expect("some check character repairs the outer check");
    let checked = Uscc::check(&repaired).expect("format valid");
    assert_eq!(
        checked.warnings,
        vec![UsccWarning::OrganisationCodeMismatch {
            expected: '1',
            found: '2'
        }]
    );
}

fn body_strategy() -> impl Strategy<Value = (char, char, String, String)> {
    let alphabet: Vec<char> = USCC_ALPHABET.chars().collect();
    (
        prop::sample::select(vec!['1', '5', '9', 'Y']),
        prop::sample::select(vec!['1', '2', '3', '9']),
        "33[0-9]{4}",
        prop::collection::vec(prop::sample::select(alphabet), 8)
            .prop_map(|cs| cs.into_iter().collect::<String>()),
    )
}

proptest! {
    // Every code built from valid parts checks clean, whatever the parts.
    #[test]
    fn built_codes_check_clean((a, c, region, body) in body_strategy()) {
        let uscc = Uscc::from_parts(a, c, &region, &body).unwrap();
        let checked = Uscc::check(uscc.as_str()).unwrap();
        prop_assert!(checked.warnings.is_empty());
        prop_assert_eq!(checked.uscc.region_code(), region.as_str());
    }

    // The mod-31 check with weights coprime to 31 catches every single-character
    // substitution, so a mistyped code never passes clean.
    #[test]
    fn any_single_substitution_is_caught(
        (a, c, region, body) in body_strategy(),
        position in 0usize..18,
        replacement in prop::sample::select(USCC_ALPHABET.chars().collect::<Vec<_>>()),
    ) {
        let uscc = Uscc::from_parts(a, c, &region, &body).unwrap();
        let mut chars: Vec<char> = uscc.as_str().chars().collect();
        prop_assume!(chars[position] != replacement);
        chars[position] = replacement;
        let mutated: String = chars.into_iter().collect();
        match Uscc::check(&mutated) {
            Err(_) => {}
            Ok(checked) => prop_assert!(!checked.warnings.is_empty(), "{} passed clean", mutated),
        }
    }

    // Arbitrary input never panics, and anything accepted is 18 characters.
    #[test]
    fn arbitrary_input_never_panics(input in "\\PC{0,24}") {
        if let Ok(checked) = Uscc::check(&input) {
            prop_assert_eq!(checked.uscc.as_str().len(), 18);
        }
    }
}

#[test]
fn every_way_of_typing_a_code_has_one_canonical_form() {
    // Issue 15: the form stored, compared and given to the access rules.
    for typed in [
        "91110000600037341L",
        "91110000600037341l",
        " 9111 0000 6000 3734 1L ",
        "911100-006000-37341L",
        "９１１１００００６０００３７３４１Ｌ",
    ] {
        assert_eq!(Uscc::canonical(typed), "91110000600037341L", "{typed}");
    }
    // Not a code: kept as typed (trimmed), equal to no valid code.
    assert_eq!(Uscc::canonical(" 12345 "), "12345");
}
