//! The credit report as a printable HTML page (BRIEF Q5): one self-contained document
//! (inline style, the QR code as inline SVG, no script), the watermark fixed on the
//! screen and repeated on every printed page, A4 print layout. Every value is escaped.

use serde_json::Value;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The QR code of `payload` as an SVG of unit squares.
pub fn qr_svg(payload: &str, size_px: u32) -> String {
    let Some(code) = crate::qr::encode(payload) else {
        return String::new();
    };
    let n = code.width;
    let quiet = 4;
    let total = n + 2 * quiet;
    let mut path = String::new();
    for (col, row) in code.dark_modules() {
        path.push_str(&format!("M{} {}h1v1h-1z", col + quiet, row + quiet));
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {total} {total}\" width=\"{size_px}\" height=\"{size_px}\" role=\"img\" aria-label=\"验证二维码\" shape-rendering=\"crispEdges\"><rect width=\"{total}\" height=\"{total}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}

fn text(value: &Value) -> String {
    escape(&match value {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

const STYLE: &str = r#"
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; color: #1a1a1a; background: #f2f2f2; line-height: 1.6; }
main { max-width: 210mm; margin: 1.5rem auto; background: #fff; padding: 20mm 18mm; box-shadow: 0 1px 4px rgba(0,0,0,.15); position: relative; }
h1 { text-align: center; font-size: 1.7rem; letter-spacing: .1em; margin: 2.5rem 0 2rem; }
h2 { font-size: 1.1rem; background: #e8e8e8; padding: .3rem .5rem; margin: 1.6rem 0 .6rem; break-after: avoid; }
table { width: 100%; border-collapse: collapse; margin: .4rem 0 .8rem; break-inside: avoid; }
th, td { text-align: left; vertical-align: top; padding: .25rem .5rem; border-bottom: 1px solid #ccc; word-break: break-all; line-break: strict; }
th { width: 9.5em; color: #555; font-weight: normal; white-space: nowrap; }
.cover { break-after: page; }
.qr { display: flex; gap: 1rem; align-items: center; margin-top: 2rem; color: #444; font-size: .9rem; }
.empty { color: #555; }
.mark { color: #b00020; font-weight: bold; }
.end { text-align: center; color: #666; margin-top: 2rem; }
.watermark { position: fixed; inset: 0; pointer-events: none; overflow: hidden; z-index: 10; }
.watermark span { position: absolute; left: 50%; transform: translate(-50%, -50%) rotate(-30deg); white-space: nowrap; font-size: 26px; color: rgba(120,120,120,.18); user-select: none; }
@page { size: A4; margin: 16mm 14mm; }
@media print {
  body { background: #fff; }
  main { box-shadow: none; margin: 0; padding: 0; max-width: none; }
}
"#;

/// The report (`report::build`) as a printable page, watermarked with `watermark`; the
/// QR code encodes `verify_url`.
pub fn report(report: &Value, watermark: &str, verify_url: &str) -> String {
    let cover = &report["cover"];
    let mut out = String::new();
    let title = text(&cover["report_name"]);
    out.push_str(&format!(
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} {}</title><style>{STYLE}</style></head><body>",
        text(&cover["report_number"])
    ));
    out.push_str(&format!(
        "<div class=\"watermark\" aria-hidden=\"true\"><span style=\"top:22%\">{w}</span><span style=\"top:50%\">{w}</span><span style=\"top:78%\">{w}</span></div>",
        w = escape(watermark)
    ));
    out.push_str("<main><section class=\"cover\">");
    out.push_str(&format!("<h1>{title}</h1><table>"));
    let generated = Value::String(crate::report::display_time(&cover["generated_at"]));
    let code_row = if cover["id_number"].is_string() {
        ("身份证号码", &cover["id_number"])
    } else {
        ("统一社会信用代码", &cover["uscc"])
    };
    for (label, value) in [
        ("报告名称", &cover["report_name"]),
        ("信用主体名称", &cover["subject_name"]),
        code_row,
        ("报告出具单位", &cover["issuer"]),
        ("报告生成时间", &generated),
        ("报告编号", &cover["report_number"]),
        ("验证码", &cover["verification_code"]),
        ("报告版本", &cover["version"]),
    ] {
        out.push_str(&format!(
            "<tr><th>{label}</th><td>{}</td></tr>",
            text(value)
        ));
    }
    out.push_str("</table>");
    out.push_str(&format!(
        "<div class=\"qr\">{}<p>扫描二维码或访问<br><a href=\"{u}\">{u}</a><br>验证本报告真伪。</p></div></section>",
        qr_svg(verify_url, 140),
        u = escape(verify_url)
    ));
    out.push_str("<h2>报告概览</h2><table>");
    if let Some(basic) = report["overview"]["basic"].as_object() {
        for (k, v) in basic {
            let label = crate::report::basic_label(k);
            out.push_str(&format!(
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(label),
                text(v)
            ));
        }
    }
    for item in report["overview"]["counts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{} 条</td></tr>",
            text(&item["section"]),
            text(&item["count"])
        ));
    }
    out.push_str("</table><h2>报告说明</h2><table>");
    for (key, label) in crate::report::NOTES {
        out.push_str(&format!(
            "<tr><th>{label}</th><td>{}</td></tr>",
            text(&report["notes"][key])
        ));
    }
    out.push_str("</table>");
    for section in report["sections"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "<h2>{}（共{}条）</h2>",
            text(&section["section"]),
            text(&section["count"])
        ));
        if let Some(statement) = section["statement"].as_str() {
            out.push_str(&format!("<p class=\"empty\">{}</p>", escape(statement)));
            continue;
        }
        for record in section["records"].as_array().into_iter().flatten() {
            out.push_str("<table>");
            for (label, value) in crate::report::readable_fields(record) {
                let class = if label == crate::report::field_label(record, "mark") {
                    " class=\"mark\""
                } else {
                    ""
                };
                out.push_str(&format!(
                    "<tr><th>{}</th><td{class}>{}</td></tr>",
                    escape(&label),
                    escape(&value)
                ));
            }
            out.push_str("</table>");
        }
    }
    out.push_str("<p class=\"end\">…………  结  束  …………</p></main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
        let report = serde_json::json!({
            "cover": { "report_name": "报告", "subject_name": "<img src=x onerror=alert(1)>" },
            "sections": [{ "section": "一", "count": 1, "records": [{ "name": "</td><script>" }] }],
        });
        let page = super::report(&report, "<b>张三</b>", "https://x/verify?a=1&b=2");
        assert!(!page.contains("<img"));
        assert!(!page.contains("<script>"));
        assert!(!page.contains("<b>张三"));
        assert!(page.contains("a=1&amp;b=2"));
    }

    #[test]
    fn the_qr_code_is_an_svg_with_a_quiet_zone() {
        let svg = qr_svg("https://example.org/verify?number=1&code=2", 120);
        assert!(svg.starts_with("<svg"));
        assert!(
            svg.contains("M4 4h1v1h-1z"),
            "the finder pattern starts after the quiet zone"
        );
    }
}
