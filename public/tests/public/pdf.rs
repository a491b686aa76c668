//! The printable report (BRIEF Q5) read back: the PDF's text, page by page, as a reader
//! program extracts it (lopdf), and the HTML page.

use chrono::DateTime;
use datafusion::prelude::SessionContext;
use policies::disclosure::Rules;
use public::records::Objected;
use public::report::{self, Issuer, SECTIONS, Subject};

use crate::sample_catalog;

fn issuer() -> Issuer {
    Issuer {
        name: "浙江省公共信用信息平台".into(),
        verify_url: "https://credit.example.gov.cn/api/v1/public/reports/verify".into(),
        objection_contact: "https://credit.example.gov.cn/api/v1/public/objections".into(),
    }
}

fn face() -> public::pdf::Face {
    public::pdf::Face::load(public::pdf::DEFAULT_FONT, 0)
        .expect("the CJK font (scripts/setup installs fonts-wqy-microhei)")
}

/// The text of each page, as a PDF reader extracts it.
pub fn pages_text(pdf: &[u8]) -> Vec<String> {
    let document = lopdf::Document::load_mem(pdf).expect("a PDF lopdf reads");
    document
        .get_pages()
        .keys()
        .map(|n| document.extract_text(&[*n]).expect("page text"))
        .collect()
}

/// A person of the sample register with the most disclosed records, with their raw ID
/// number and mobile (which must never appear).
async fn person_with_records() -> (String, String, String) {
    let ctx = SessionContext::new();
    sample_catalog().register_all(&ctx).await.expect("register");
    let batches = ctx
        .sql(
            "SELECT p.subject_id, p.id_number, p.mobile FROM persons p \
             JOIN qualifications q ON q.subject_id = p.subject_id \
             WHERE p.mobile IS NOT NULL GROUP BY p.subject_id, p.id_number, p.mobile \
             ORDER BY count(*) DESC, p.subject_id LIMIT 1",
        )
        .await
        .expect("sql")
        .collect()
        .await
        .expect("rows");
    use datafusion::arrow::array::AsArray;
    let b = &batches[0];
    let s = |i: usize| {
        datafusion::arrow::compute::cast(b.column(i), &datafusion::arrow::datatypes::DataType::Utf8)
            .expect("cast")
            .as_string::<i32>()
            .value(0)
            .to_owned()
    };
    (s(0), s(1), s(2))
}

/// The person, the time of issue and the disclosed records a report is built from.
fn person_report_inputs(
    subject_id: &str,
) -> (
    public::records::Person,
    DateTime<chrono::FixedOffset>,
    Vec<public::records::Section>,
) {
    let person = crate::sample_records()
        .person_by_subject(subject_id)
        .expect("person");
    let at = DateTime::parse_from_rfc3339("2026-11-20T09:30:00+08:00").expect("time");
    let sections = crate::sample_records()
        .disclosed(
            subject_id,
            at.date_naive(),
            &Rules::default(),
            &Objected::default(),
        )
        .expect("records");
    (person, at, sections)
}

#[tokio::test]
async fn a_pdf_report_read_back_has_the_cover_every_section_the_watermark_and_masked_forms_only() {
    let (subject_id, id_number, mobile) = person_with_records().await;
    let (person, at, sections) = person_report_inputs(&subject_id);
    let number = "202611200930001234";
    let r = report::build(
        Subject::Person(&person),
        &sections,
        &issuer(),
        at,
        number,
        b"key",
    );
    let watermark = "张三 2026-11-20 09:30 查询";
    let pdf = public::pdf::report(
        &face(),
        &r,
        watermark,
        "https://credit.example.gov.cn/v?n=1",
    )
    .expect("pdf");
    assert!(pdf.starts_with(b"%PDF-"));
    // To look at it: CREDITPOOL_PDF_OUT=/tmp/report.pdf cargo test -p public pdf
    if let Some(out) = std::env::var_os("CREDITPOOL_PDF_OUT") {
        std::fs::write(out, &pdf).expect("write the PDF");
    }
    let pages = pages_text(&pdf);
    assert!(
        pages.len() >= 3,
        "cover, overview and sections: {}",
        pages.len()
    );
    let all: String = pages.concat();

    // Q5: every cover field, by label and value.
    let cover = &r["cover"];
    for (label, field) in [
        ("报告名称", "report_name"),
        ("信用主体名称", "subject_name"),
        ("身份证号码", "id_number"),
        ("报告出具单位", "issuer"),
        ("报告生成时间", "generated_at"),
        ("报告编号", "report_number"),
        ("验证码", "verification_code"),
        ("报告版本", "version"),
    ] {
        let value = match field {
            "generated_at" => "2026年11月20日 09:30:00".to_owned(),
            _ => cover[field].as_str().expect(field).to_owned(),
        };
        let value = value.as_str();
        assert!(pages[0].contains(label), "cover label {label}");
        assert!(pages[0].contains(value), "cover value {field} = {value}");
    }
    assert!(pages[0].contains("自然人公共信用信息报告"));
    // The twelve sections, in order.
    let mut from = 0;
    for (title, _) in SECTIONS {
        let at = all[from..]
            .find(title)
            .unwrap_or_else(|| panic!("section {title} missing or out of order"));
        from += at + title.len();
    }
    assert!(all.contains("本部分无记录。"), "empty sections say so");
    // The watermark and the footer on every page.
    let total = pages.len();
    for (i, page) in pages.iter().enumerate() {
        assert!(page.contains(watermark), "watermark on page {}", i + 1);
        assert!(
            page.contains(&format!("第 {} 页 / 共 {total} 页", i + 1)),
            "footer on page {}",
            i + 1
        );
    }
    // Q3: masked forms only.
    assert!(!all.contains(&id_number), "the raw ID number never appears");
    assert!(!all.contains(&mobile), "the raw mobile never appears");
    assert!(
        all.contains(&person.id_number_masked),
        "the masked ID number appears"
    );
    assert!(all.contains(&policies::masking::Mask::Mobile.apply(&mobile)));
    let birth = &id_number[6..14];
    assert!(
        !all.contains(birth),
        "no birth date, not even inside the ID number"
    );
    assert!(!all.contains("出生日期") && !all.contains("家庭住址"));

    // Long values wrap inside the page: no extracted line is cut off (every record's
    // text appears whole once the lines are joined).
    let joined: String = all.split_whitespace().collect();
    for section in r["sections"].as_array().expect("sections") {
        for record in section["records"].as_array().expect("records") {
            for value in record.as_object().expect("record").values() {
                if let Some(text) = value.as_str() {
                    let text: String = text.split_whitespace().collect();
                    assert!(joined.contains(&text), "value {text} not found whole");
                }
            }
        }
    }
}

#[tokio::test]
async fn the_html_report_has_the_same_content_escaped_with_the_watermark() {
    let (subject_id, id_number, _) = person_with_records().await;
    let (person, at, sections) = person_report_inputs(&subject_id);
    let r = report::build(
        Subject::Person(&person),
        &sections,
        &issuer(),
        at,
        "202611200930001234",
        b"key",
    );
    let page = public::html::report(&r, "李四 2026-11-20 09:30 查询", "https://x/v?n=1&c=2");
    for (title, _) in SECTIONS {
        assert!(page.contains(title), "{title}");
    }
    assert!(page.contains("李四 2026-11-20 09:30 查询"));
    assert!(page.contains("<svg"), "QR code");
    assert!(!page.contains(&id_number));
    assert!(page.contains(&person.id_number_masked));
    assert!(!page.contains("<script"));
}
