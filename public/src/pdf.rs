//! The credit report as PDF (BRIEF Q5): A4, an embedded subset of a TrueType CJK font
//! (Debian's `fonts-wqy-microhei`, installed by `scripts/setup`), Chinese line breaking
//! ([`crate::layout`]), a QR code of the verification address on the cover, and a
//! watermark naming the requester and the time on every page.
//!
//! krilla writes the PDF; the layout is ours: text is measured with skrifa (the font
//! reader krilla itself uses, same version) so what is measured is what is drawn.

use std::sync::Arc;

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use serde_json::Value;
use skrifa::instance::{LocationRef, Size};
use skrifa::raw::TableProvider;
use skrifa::{FontRef, MetadataProvider};

use crate::layout;

/// Where the setup script's font is, on Debian.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

/// A4 in points.
const PAGE: (f32, f32) = (595.28, 841.89);
const MARGIN: f32 = 56.0;
const TOP: f32 = 72.0;
const BOTTOM: f32 = PAGE.1 - 60.0;

/// Why a PDF could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The font file is missing or unreadable.
    #[error(
        "the report font {path} cannot be read ({reason}): install Debian's fonts-wqy-microhei (scripts/setup does) or set [public] font"
    )]
    Font {
        /// Where it was looked for.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// krilla refused the document.
    #[error("writing the PDF: {0}")]
    Write(String),
}

/// A font face: krilla's handle for drawing, the bytes for measuring.
pub struct Face {
    data: Arc<Vec<u8>>,
    index: u32,
    font: Font,
    units_per_em: f32,
}

impl std::fmt::Debug for Face {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Face").field("index", &self.index).finish()
    }
}

impl Face {
    /// Loads face `index` of a TrueType file or collection.
    pub fn load(path: &str, index: u32) -> Result<Face, PdfError> {
        let fail = |reason: String| PdfError::Font {
            path: path.to_owned(),
            reason,
        };
        let data = Arc::new(std::fs::read(path).map_err(|e| fail(e.to_string()))?);
        let parsed = FontRef::from_index(&data, index).map_err(|e| fail(e.to_string()))?;
        let units_per_em = parsed
            .head()
            .map(|h| f32::from(h.units_per_em()))
            .unwrap_or(1000.0);
        if parsed.charmap().map('信').is_none() {
            return Err(fail("it has no Chinese characters".into()));
        }
        let font = Font::new(data.clone().into(), index)
            .ok_or_else(|| fail(format!("no face {index} in it")))?;
        Ok(Face {
            data,
            index,
            font,
            units_per_em,
        })
    }

    fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        let Ok(font) = FontRef::from_index(&self.data, self.index) else {
            return Vec::new();
        };
        let charmap = font.charmap();
        let metrics = font.glyph_metrics(Size::unscaled(), LocationRef::default());
        text.char_indices()
            .map(|(i, c)| {
                let glyph = charmap.map(c).unwrap_or_default();
                let advance = metrics.advance_width(glyph).unwrap_or(0.0) / self.units_per_em;
                KrillaGlyph::new(
                    GlyphId::new(glyph.to_u32()),
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    i..i + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }

    /// Width in points of `text` at `size`.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        self.glyphs(text).iter().map(|g| g.x_advance * size).sum()
    }
}

/// One thing drawn on a page.
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        text: String,
        grey: u8,
    },
    Band {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
    Rule {
        y: f32,
        width: f32,
    },
    Qr {
        x: f32,
        y: f32,
        module: f32,
        payload: String,
    },
}

/// Pages laid out top to bottom, drawn at the end (the footer needs the page count).
struct Pages<'f> {
    face: &'f Face,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl<'f> Pages<'f> {
    fn new(face: &'f Face) -> Pages<'f> {
        Pages {
            face,
            pages: vec![Vec::new()],
            y: TOP,
        }
    }

    fn page(&mut self) -> &mut Vec<Op> {
        self.pages.last_mut().expect("there is always a page")
    }

    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = TOP;
    }

    /// Room for `height` more points on this page, else a new page.
    fn room(&mut self, height: f32) {
        if self.y + height > BOTTOM {
            self.new_page();
        }
    }

    /// A paragraph at `x` (from the left margin), wrapped to the text width.
    fn para(&mut self, text: &str, size: f32, indent: f32, grey: u8) {
        let width = PAGE.0 - 2.0 * MARGIN - indent;
        let line_height = size * 1.55;
        for line in layout::wrap(text, width, |s| self.face.width(s, size)) {
            self.room(line_height);
            self.y += line_height;
            let y = self.y - size * 0.3;
            self.page().push(Op::Text {
                x: MARGIN + indent,
                y,
                size,
                text: line,
                grey,
            });
        }
    }

    fn gap(&mut self, points: f32) {
        self.y += points;
    }

    fn heading(&mut self, text: &str, size: f32) {
        self.room(size * 3.5);
        self.gap(size * 0.6);
        let y = self.y;
        self.page().push(Op::Band {
            x: MARGIN,
            y,
            w: PAGE.0 - 2.0 * MARGIN,
            h: size * 1.9,
        });
        self.y += size * 1.9;
        let baseline = self.y - size * 0.55;
        self.page().push(Op::Text {
            x: MARGIN + 6.0,
            y: baseline,
            size,
            text: text.to_owned(),
            grey: 0,
        });
        self.gap(size * 0.4);
    }

    /// Label and value, the value wrapped beside the label.
    fn field(&mut self, label: &str, value: &str, size: f32) {
        self.field_at(label, value, size, 118.0);
    }

    /// Label and value with the value at `label_width` from the margin.
    fn field_at(&mut self, label: &str, value: &str, size: f32, label_width: f32) {
        let width = PAGE.0 - 2.0 * MARGIN - label_width;
        let lines = layout::wrap(value, width, |s| self.face.width(s, size));
        let line_height = size * 1.55;
        self.room(line_height * lines.len().min(3) as f32);
        for (i, line) in lines.into_iter().enumerate() {
            self.room(line_height);
            self.y += line_height;
            let y = self.y - size * 0.3;
            if i == 0 {
                self.page().push(Op::Text {
                    x: MARGIN + 4.0,
                    y,
                    size,
                    text: label.to_owned(),
                    grey: 90,
                });
            }
            self.page().push(Op::Text {
                x: MARGIN + label_width,
                y,
                size,
                text: line,
                grey: 0,
            });
        }
    }

    fn rule(&mut self, width: f32) {
        self.gap(4.0);
        let y = self.y;
        self.page().push(Op::Rule { y, width });
        self.gap(4.0);
    }
}

fn fill(grey: u8, opacity: f32) -> Fill {
    Fill {
        paint: rgb::Color::new(grey, grey, grey).into(),
        opacity: NormalizedF32::new(opacity).unwrap_or(NormalizedF32::ONE),
        ..Default::default()
    }
}

fn draw_text(surface: &mut Surface, face: &Face, x: f32, y: f32, size: f32, text: &str) {
    let glyphs = face.glyphs(text);
    surface.draw_glyphs(
        Point::from_xy(x, y),
        &glyphs,
        face.font.clone(),
        text,
        size,
        false,
    );
}

fn draw_rect(surface: &mut Surface, rect: Option<Rect>, grey: u8) {
    let Some(rect) = rect else { return };
    let mut path = PathBuilder::new();
    path.push_rect(rect);
    if let Some(path) = path.finish() {
        surface.set_stroke(None);
        surface.set_fill(Some(fill(grey, 1.0)));
        surface.draw_path(&path);
    }
}

fn draw_qr(surface: &mut Surface, x: f32, y: f32, module: f32, payload: &str) {
    let Ok(code) = qrcode::QrCode::new(payload.as_bytes()) else {
        return;
    };
    let n = code.width();
    let mut path = PathBuilder::new();
    for (i, colour) in code.to_colors().iter().enumerate() {
        if *colour == qrcode::Color::Dark {
            let (col, row) = ((i % n) as f32, (i / n) as f32);
            if let Some(r) = Rect::from_xywh(x + col * module, y + row * module, module, module) {
                path.push_rect(r);
            }
        }
    }
    if let Some(path) = path.finish() {
        surface.set_stroke(None);
        surface.set_fill(Some(fill(0, 1.0)));
        surface.draw_path(&path);
    }
}

/// The watermark: the requester and the time, large, light and diagonal, under the text.
fn draw_watermark(surface: &mut Surface, face: &Face, text: &str) {
    let size = 26.0;
    let (cx, cy) = (PAGE.0 / 2.0, PAGE.1 / 2.0);
    for dy in [-260.0, 0.0, 260.0] {
        surface.push_transform(&Transform::from_rotate_at(-30.0, cx, cy + dy));
        surface.set_fill(Some(fill(150, 0.22)));
        let start = Point::from_xy(cx - face.width(text, size) / 2.0, cy + dy + size * 0.35);
        surface.draw_glyphs(
            start,
            &face.glyphs(text),
            face.font.clone(),
            text,
            size,
            false,
        );
        surface.pop();
    }
}

fn render(
    face: &Face,
    pages: Vec<Vec<Op>>,
    title: &str,
    watermark: &str,
    footer: impl Fn(usize, usize) -> String,
) -> Result<Vec<u8>, PdfError> {
    // Content streams are small and compress little; the font subset is still deflated.
    let mut document = Document::new_with(krilla::SerializeSettings {
        compress_content_streams: false,
        ..krilla::SerializeSettings::default()
    });
    let total = pages.len();
    let settings = || {
        PageSettings::from_wh(PAGE.0, PAGE.1)
            .ok_or_else(|| PdfError::Write("A4 is a valid page size".into()))
    };
    for (n, ops) in pages.into_iter().enumerate() {
        let mut page = document.start_page_with(settings()?);
        let mut surface = page.surface();
        draw_watermark(&mut surface, face, watermark);
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    text,
                    grey,
                } => {
                    surface.set_stroke(None);
                    surface.set_fill(Some(fill(grey, 1.0)));
                    draw_text(&mut surface, face, x, y, size, &text);
                }
                Op::Band { x, y, w, h } => {
                    draw_rect(&mut surface, Rect::from_xywh(x, y, w, h), 232)
                }
                Op::Rule { y, width } => {
                    let mut path = PathBuilder::new();
                    path.move_to(MARGIN, y);
                    path.line_to(PAGE.0 - MARGIN, y);
                    if let Some(path) = path.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(160, 160, 160).into(),
                            width,
                            ..Default::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                    }
                }
                Op::Qr {
                    x,
                    y,
                    module,
                    payload,
                } => draw_qr(&mut surface, x, y, module, &payload),
            }
        }
        surface.set_stroke(None);
        surface.set_fill(Some(fill(90, 1.0)));
        let text = footer(n + 1, total);
        let size = 8.5;
        let x = (PAGE.0 - face.width(&text, size)) / 2.0;
        draw_text(&mut surface, face, x, PAGE.1 - 32.0, size, &text);
        surface.finish();
        page.finish();
    }
    document.set_metadata(
        Metadata::new()
            .title(title.to_owned())
            .language("zh-CN".to_owned())
            .creator("creditpool".to_owned()),
    );
    document
        .finish()
        .map_err(|e| PdfError::Write(format!("{e:?}")))
}

fn shown(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The report (`report::build`) as a PDF, watermarked with `watermark` on every page;
/// the cover's QR code encodes `verify_url`.
pub fn report(
    face: &Face,
    report: &Value,
    watermark: &str,
    verify_url: &str,
) -> Result<Vec<u8>, PdfError> {
    let cover = &report["cover"];
    let text = |v: &Value| shown(v);
    let mut pages = Pages::new(face);

    // Cover.
    let title = text(&cover["report_name"]);
    let size = 22.0;
    pages.gap(80.0);
    let x = (PAGE.0 - face.width(&title, size)) / 2.0;
    let y = pages.y;
    pages.page().push(Op::Text {
        x,
        y,
        size,
        text: title.clone(),
        grey: 0,
    });
    pages.gap(60.0);
    let generated = Value::String(crate::report::display_time(&cover["generated_at"]));
    let code_label = if cover["id_number"].is_string() {
        ("身份证号码", &cover["id_number"])
    } else {
        ("统一社会信用代码", &cover["uscc"])
    };
    let cover_fields = [
        ("报告名称", &cover["report_name"]),
        ("信用主体名称", &cover["subject_name"]),
        code_label,
        ("报告出具单位", &cover["issuer"]),
        ("报告生成时间", &generated),
        ("报告编号", &cover["report_number"]),
        ("验证码", &cover["verification_code"]),
        ("报告版本", &cover["version"]),
    ];
    for (label, value) in cover_fields {
        pages.field(label, &text(value), 12.0);
        pages.rule(0.4);
    }
    pages.gap(24.0);
    let module = 2.6;
    let y = pages.y;
    pages.page().push(Op::Qr {
        x: MARGIN + 4.0 * module,
        y: y + 4.0 * module,
        module,
        payload: verify_url.to_owned(),
    });
    pages.gap(8.0);
    let qr_text = format!("扫描二维码或访问 {verify_url} 验证本报告真伪。");
    let saved = pages.y;
    pages.y = y + 4.0;
    for line in layout::wrap(&qr_text, PAGE.0 - 2.0 * MARGIN - 150.0, |s| {
        face.width(s, 9.5)
    }) {
        pages.y += 15.0;
        let y = pages.y;
        pages.page().push(Op::Text {
            x: MARGIN + 150.0,
            y,
            size: 9.5,
            text: line,
            grey: 60,
        });
    }
    pages.y = saved;

    // Overview and notes.
    pages.new_page();
    pages.heading("报告概览", 14.0);
    if let Some(basic) = report["overview"]["basic"].as_object() {
        for (k, v) in basic {
            let label = crate::report::basic_label(k);
            pages.field(label, &text(v), 10.5);
        }
    }
    pages.gap(6.0);
    for item in report["overview"]["counts"]
        .as_array()
        .into_iter()
        .flatten()
    {
        pages.field_at(
            &text(&item["section"]),
            &format!("{} 条", text(&item["count"])),
            10.5,
            330.0,
        );
    }
    pages.heading("报告说明", 14.0);
    for (key, label) in crate::report::NOTES {
        pages.field(label, &text(&report["notes"][key]), 10.5);
    }

    // The twelve sections.
    for section in report["sections"].as_array().into_iter().flatten() {
        pages.heading(
            &format!(
                "{}（共{}条）",
                text(&section["section"]),
                text(&section["count"])
            ),
            13.0,
        );
        if let Some(statement) = section["statement"].as_str() {
            pages.para(statement, 10.5, 4.0, 60);
            continue;
        }
        for record in section["records"].as_array().into_iter().flatten() {
            if let Some(fields) = record.as_object() {
                for (k, v) in fields {
                    pages.field(&crate::report::field_label(record, k), &text(v), 10.0);
                }
            }
            pages.rule(0.3);
        }
    }
    pages.gap(12.0);
    pages.para("…………  结  束  …………", 10.5, 170.0, 60);

    let number = text(&cover["report_number"]);
    render(face, pages.pages, &title, watermark, |n, total| {
        format!("{title}　报告编号：{number}　第 {n} 页 / 共 {total} 页")
    })
}

/// The feedback letter of a verification (附录B, standard 6.3.5).
#[derive(Clone, Debug)]
pub struct Letter {
    /// The matter (事项名称) the letter answers.
    pub matter: String,
    /// The requesting unit (单位名称).
    pub addressee: String,
    /// The title of the request letter (来函名称).
    pub letter_title: String,
    /// The cut-off time (核查截止时间), as printed.
    pub cut_off: String,
    /// The issuing unit.
    pub issuer: String,
    /// The platform (system) the checks ran on (核查平台（系统）名称).
    pub platform: String,
    /// Contact person and telephone (核查联系人及联系方式).
    pub contact: String,
    /// The letter's number.
    pub number: String,
    /// The date under the seal, as printed.
    pub date: String,
    /// The results, one per listed subject.
    pub findings: Vec<crate::verification::Finding>,
}

/// The feedback letter as a PDF: the letter of 附录B, then the results as its annex;
/// watermarked on every page.
pub fn letter(face: &Face, letter: &Letter, watermark: &str) -> Result<Vec<u8>, PdfError> {
    let mut pages = Pages::new(face);
    let title = format!("关于反馈{}信用记录查询结果的函", letter.matter);
    pages.gap(24.0);
    let size = 17.0;
    for line in layout::wrap(&title, PAGE.0 - 2.0 * MARGIN, |s| face.width(s, size)) {
        pages.y += size * 1.6;
        let x = (PAGE.0 - face.width(&line, size)) / 2.0;
        let y = pages.y;
        pages.page().push(Op::Text {
            x,
            y,
            size,
            text: line,
            grey: 0,
        });
    }
    pages.gap(24.0);
    pages.para(&format!("{}：", letter.addressee), 12.0, 0.0, 0);
    pages.gap(6.0);
    pages.para(
        &format!(
            "《{}》收悉。截止到{}，{}通过{}，对来函中的信用主体进行了查询，查询结果附后。",
            letter.letter_title, letter.cut_off, letter.issuer, letter.platform
        ),
        12.0,
        24.0,
        0,
    );
    pages.para(
        "本查询结果客观反映查询时间点信用主体信用记录状况，供依法依规参考使用。",
        12.0,
        24.0,
        0,
    );
    pages.gap(6.0);
    pages.para(
        &format!("联系人及联系方式：{}", letter.contact),
        12.0,
        24.0,
        0,
    );
    pages.gap(6.0);
    pages.para("附件：信用记录查询结果", 12.0, 24.0, 0);
    pages.gap(36.0);
    pages.para(&format!("{}（盖章）", letter.issuer), 12.0, 260.0, 0);
    pages.para(&letter.date, 12.0, 300.0, 0);

    pages.new_page();
    pages.heading("附件：信用记录查询结果", 13.0);
    pages.para(
        &format!(
            "核查截止时间：{}　核查平台：{}",
            letter.cut_off, letter.platform
        ),
        10.0,
        4.0,
        60,
    );
    for (i, f) in letter.findings.iter().enumerate() {
        pages.gap(4.0);
        pages.field("序号", &(i + 1).to_string(), 10.5);
        pages.field("主体名称", &f.name, 10.5);
        pages.field("代码", &f.code, 10.5);
        pages.field("核查结果", &f.conclusion, 10.5);
        pages.rule(0.3);
    }
    let number = letter.number.clone();
    render(face, pages.pages, &title, watermark, |n, total| {
        format!("信用记录查询结果函　编号：{number}　第 {n} 页 / 共 {total} 页")
    })
}
