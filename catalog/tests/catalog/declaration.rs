//! The built-in declaration and the checks on declarations (P1 data supply list, Q3).

use catalog::{ColumnType, InfoClass, Manifest, Sensitivity};

#[test]
fn every_body_section_of_appendix_a_with_data_has_a_table() {
    let m = Manifest::builtin();
    // Sections 11 (improvement advice) and 12 (local supplement) are written by the
    // report, not stored.
    for section in 1..=10u8 {
        assert!(
            m.tables.iter().any(|t| t.section == section),
            "no table for 附录A section {section}"
        );
    }
    assert_eq!(m.tables.len(), 15);
}

#[test]
fn every_table_carries_the_common_record_columns_first() {
    let common = [
        "record_id",
        "subject_id",
        "subject_type",
        "info_class",
        "decision_date",
        "source_unit",
        "status",
        "withdrawn_date",
    ];
    for t in &Manifest::builtin().tables {
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(&names[..common.len()], &common, "{}", t.id);
        assert!(!t.name_zh.is_empty() && !t.name_en.is_empty() && !t.source_unit.is_empty());
    }
}

#[test]
fn personal_columns_are_masked_or_secret() {
    // Q3: ID characters 7-14 and mobile digits 4-7 masked; home address and birth date hidden.
    let persons = Manifest::builtin().table("persons").expect("persons");
    let sensitivity = |c: &str| persons.column(c).expect(c).sensitivity;
    assert_eq!(sensitivity("id_number"), Sensitivity::Masked);
    assert_eq!(sensitivity("mobile"), Sensitivity::Masked);
    assert_eq!(sensitivity("birth_date"), Sensitivity::Secret);
    assert_eq!(sensitivity("address"), Sensitivity::Secret);
    assert_eq!(sensitivity("name"), Sensitivity::Public);
}

#[test]
fn the_issue_columns_are_declared() {
    let m = Manifest::builtin();
    let expect = |table: &str, columns: &[&str]| {
        let t = m.table(table).unwrap_or_else(|| panic!("{table} missing"));
        for c in columns {
            assert!(t.column(c).is_some(), "{table}.{c} missing");
        }
    };
    expect(
        "enterprises",
        &[
            "uscc",
            "name",
            "legal_representative",
            "org_type",
            "establishment_date",
            "address",
            "registered_capital",
            "industry_code",
            "region_code",
            "registration_status",
        ],
    );
    expect(
        "persons",
        &["id_number", "name", "mobile", "address", "birth_date"],
    );
    expect("officers", &["person_id", "role"]);
    expect("admin_penalties", &["severity", "amount"]);
    expect("admin_actions", &["action_kind", "result"]);
    expect("dishonesty_list", &["removed_date", "reason"]);
    expect("credit_commitments", &["fulfilled"]);
    expect("credit_evaluations", &["grade"]);
    expect("judicial_records", &["case_kind", "fulfilled"]);
    for t in [
        "admin_licences",
        "honours",
        "red_list",
        "abnormal_operations",
        "qualifications",
        "other_information",
    ] {
        expect(t, &["record_id"]);
    }
    let amount = m
        .table("admin_penalties")
        .and_then(|t| t.column("amount"))
        .expect("amount");
    assert_eq!(
        amount.column_type,
        ColumnType::Decimal {
            precision: 18,
            scale: 2
        }
    );
    assert_eq!(
        m.table("admin_actions").map(|t| t.info_class),
        Some(InfoClass::Mixed)
    );
}

const MINIMAL: &str = r#"
version = 1
[[tables]]
id = "t"
name_zh = "表"
name_en = "Table"
source_unit = "单位"
info_class = "other"
section = 10
description = "d"
columns = [{ name = "a", type = "utf8", name_zh = "甲", description = "a" }]
"#;

fn declaration_error(text: &str) -> String {
    Manifest::parse(text)
        .expect_err("should be refused")
        .to_string()
}

#[test]
fn a_minimal_declaration_parses() {
    let m = Manifest::parse(MINIMAL).expect("valid");
    assert_eq!(m.tables[0].columns.len(), 1);
}

#[test]
fn malformed_declarations_are_refused_naming_the_fault() {
    let e = declaration_error(&MINIMAL.replace("section = 10", "section = 13"));
    assert!(e.contains("table 't'") && e.contains("section 13"), "{e}");

    let e = declaration_error(&MINIMAL.replace("id = \"t\"", "id = \"Bad-Name\""));
    assert!(e.contains("lower-case"), "{e}");

    let twice = format!(
        "{MINIMAL}{}",
        &MINIMAL[MINIMAL.find("[[tables]]").expect("tables")..]
    );
    let e = declaration_error(&twice);
    assert!(e.contains("declared twice"), "{e}");

    let e = declaration_error(&MINIMAL.replace("type = \"utf8\"", "type = \"varchar\""));
    assert!(e.contains("varchar"), "{e}");

    let e = declaration_error(&MINIMAL.replace("section = 10", "section = 10\ncolour = \"red\""));
    assert!(e.contains("colour"), "{e}");

    let e = declaration_error(&MINIMAL.replace("version = 1", "version = 2"));
    assert!(e.contains("version 2"), "{e}");

    let e = declaration_error(&MINIMAL.replace("description = \"a\"", "description = \" \""));
    assert!(e.contains("column 'a'"), "{e}");

    let e = declaration_error(&MINIMAL.replace(
        "columns = [{",
        "columns = [{ name = \"a\", type = \"int32\", name_zh = \"乙\", description = \"b\" }, {",
    ));
    assert!(e.contains("column 'a' declared twice"), "{e}");
}
