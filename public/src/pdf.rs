//! The credit report as PDF (BRIEF Q5): A4, an embedded subset of a TrueType CJK font
//! (Debian's `fonts-wqy-microhei`, installed by `scripts/setup`), Chinese line breaking
//! ([`crate::layout`]), a QR code of the verification address on the cover, and a
//! watermark naming the requester and the time on every page.
//!
//! The PDF is written here with `pdf-writer`, and the layout is ours: text is measured
//! with skrifa from the same tables that are embedded, so what is measured is what is
//! drawn. A document embeds two subsets of the font: one of the words every report and
//! letter uses (labels, headings, notes, digits and punctuation), made and compressed
//! once per process, and one of the rest of its own characters (names, addresses,
//! record texts). Subsetting and compressing glyphs is most of the cost of a document,
//! and most of a document's glyphs are its fixed words.

use std::collections::HashMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Chunk, Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
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
    /// The font could not be subset.
    #[error("writing the PDF: {0}")]
    Write(String),
}

/// A font face: its bytes, its measures, and the subset of the fixed words.
pub struct Face {
    data: Vec<u8>,
    index: u32,
    units_per_em: f32,
    /// Glyph and advance (in ems) of every character of the Basic Multilingual Plane,
    /// read once: laying out a report measures every character, often more than once.
    bmp: Vec<(u32, f32)>,
    /// Advance of the glyph drawn for a missing character, in ems.
    notdef: f32,
    /// PostScript name, ascent, descent and bounding box (in thousandths of an em).
    name: String,
    ascent: f32,
    descent: f32,
    bbox: Rect,
    /// The subset of the words every document uses, and its objects, written once.
    shared: Subset,
    shared_objects: Chunk,
}

impl std::fmt::Debug for Face {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Face")
            .field("index", &self.index)
            .field("name", &self.name)
            .field("shared_glyphs", &self.shared.ids.len())
            .finish()
    }
}

impl Face {
    /// Loads face `index` of a TrueType file or collection, and subsets the words every
    /// document uses.
    pub fn load(path: &str, index: u32) -> Result<Face, PdfError> {
        let fail = |reason: String| PdfError::Font {
            path: path.to_owned(),
            reason,
        };
        let data = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let parsed = FontRef::from_index(&data, index).map_err(|e| fail(e.to_string()))?;
        let head = parsed.head().map_err(|e| fail(e.to_string()))?;
        let units_per_em = f32::from(head.units_per_em());
        if parsed.charmap().map('信').is_none() {
            return Err(fail("it has no Chinese characters".into()));
        }
        let metrics = parsed.glyph_metrics(Size::unscaled(), LocationRef::default());
        let advance = |glyph| metrics.advance_width(glyph).unwrap_or(0.0) / units_per_em;
        let notdef = advance(skrifa::GlyphId::NOTDEF);
        let mut bmp = vec![(0, notdef); 0x1_0000];
        for (c, glyph) in parsed.charmap().mappings() {
            if let Some(slot) = bmp.get_mut(c as usize) {
                *slot = (glyph.to_u32(), advance(glyph));
            }
        }
        let thousandths = |v: f32| v * 1000.0 / units_per_em;
        let (ascent, descent) = match parsed.hhea() {
            Ok(h) => (
                thousandths(f32::from(h.ascender().to_i16())),
                thousandths(f32::from(h.descender().to_i16())),
            ),
            Err(_) => (880.0, -120.0),
        };
        let bbox = Rect::new(
            thousandths(f32::from(head.x_min())),
            thousandths(f32::from(head.y_min())),
            thousandths(f32::from(head.x_max())),
            thousandths(f32::from(head.y_max())),
        );
        let name: String = parsed
            .localized_strings(skrifa::string::StringId::POSTSCRIPT_NAME)
            .english_or_first()
            .map(|n| n.chars().filter(char::is_ascii_alphanumeric).collect())
            .filter(|n: &String| !n.is_empty())
            .unwrap_or_else(|| "CJKFont".into());
        let mut face = Face {
            data,
            index,
            units_per_em,
            bmp,
            notdef,
            name,
            ascent,
            descent,
            bbox,
            shared: Subset::default(),
            shared_objects: Chunk::new(),
        };
        let words = vocabulary();
        face.shared = Subset::new(&face, words.chars(), "S").map_err(|e| fail(e.to_string()))?;
        let mut objects = Chunk::new();
        face.shared.write(&face, &mut objects, SHARED_FONT);
        face.shared_objects = objects;
        Ok(face)
    }

    /// Glyph and advance in ems of `c`.
    fn glyph(&self, c: char) -> (u32, f32) {
        if let Some(known) = self.bmp.get(c as usize) {
            return *known;
        }
        let Ok(font) = FontRef::from_index(&self.data, self.index) else {
            return (0, 0.0);
        };
        let glyph = font.charmap().map(c).unwrap_or_default();
        let metrics = font.glyph_metrics(Size::unscaled(), LocationRef::default());
        let advance = metrics.advance_width(glyph).unwrap_or(0.0) / self.units_per_em;
        (glyph.to_u32(), advance)
    }

    /// Width in points of `text` at `size`.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.glyph(c).1 * size).sum()
    }
}

/// The words every document uses: the report's and the letter's fixed text, every
/// table and column label of the catalog, digits, ASCII and Chinese punctuation.
/// Anything missing here still prints (from the document's own subset), only at the
/// cost of subsetting it each time.
fn vocabulary() -> String {
    let mut words: String = (' '..='~').collect();
    words.push_str(FIXED_WORDS);
    let (entry, issuer) = (
        crate::search::Entry::default(),
        crate::report::Issuer::default(),
    );
    let at = chrono::DateTime::UNIX_EPOCH.fixed_offset();
    // With and without negative records: the advice differs.
    for disclosed in [
        vec![],
        vec![crate::records::Section {
            section: 2,
            table: "admin_penalties".into(),
            name_zh: String::new(),
            source_unit: String::new(),
            count: 1,
            records: Vec::new(),
        }],
    ] {
        let specimen = crate::report::build(
            crate::report::Subject::Organisation(&entry),
            &disclosed,
            &issuer,
            at,
            "",
            b"",
        );
        words.push_str(&specimen.to_string());
    }
    words.push_str(crate::report::PERSON_REPORT_NAME);
    for table in &catalog::Manifest::builtin().tables {
        words.push_str(&table.name_zh);
        for column in &table.columns {
            words.push_str(&column.name_zh);
        }
    }
    words
}

/// The fixed words of this module's pages (cover, footers, the letter of 附录B) and of
/// the watermarks and verification results the gateway writes.
const FIXED_WORDS: &str = "报告名称信用主体名称身份证号码统一社会信用代码报告出具单位报告生成时间报告编号\
    验证码报告版本扫描二维码或访问验证本报告真伪。报告概览条报告说明（共条）…………结束\
    报告编号：第页／/共关于反馈信用记录查询结果的函：《》收悉。截止到，通过对来函中的信用\
    主体进行了查询，查询结果附后。本查询结果客观反映查询时间点信用主体信用记录状况，供依法\
    依规参考使用。联系人及联系方式：附件：信用记录查询结果（盖章）核查截止时间：核查平台：\
    序号主体名称代码核查结果信用记录查询结果函编号：社会公众查询核查年月日\
    未查询到名称与代码一致的信用主体，请核对后重新提交。存在严重失信主体名单信息条、\
    行政处罚信息经营异常名录信息司法判决及执行信息未发现严重失信、行政处罚、经营异常及\
    司法判决执行信息；有守信激励或荣誉信息　，。、；：？！“”‘’（）《》【】—…·\
    ０１２３４５６７８９异议处理中";

/// A subset of the face, embedded as a CID-keyed TrueType font.
#[derive(Default)]
struct Subset {
    /// The resource name pages use for it.
    resource: &'static str,
    /// The subset's glyph id of each of the face's glyphs in it.
    ids: HashMap<u32, u16>,
    /// Advance of each subset glyph, in thousandths of an em (glyph 0 first).
    widths: Vec<f32>,
    /// The character each subset glyph stands for (glyph 0 first: none).
    chars: Vec<Option<char>>,
    /// The font program, compressed.
    program: Vec<u8>,
    /// Its name in the document: a tag of the glyph set, then the face's name.
    base_font: String,
}

impl Subset {
    /// The subset of `face` holding the glyphs of `text`.
    fn new(
        face: &Face,
        text: impl Iterator<Item = char>,
        resource: &'static str,
    ) -> Result<Subset, PdfError> {
        let mut subset = Subset {
            resource,
            widths: vec![face.notdef * 1000.0],
            chars: vec![None],
            ..Subset::default()
        };
        let mut remapper = subsetter::GlyphRemapper::new();
        for c in text {
            let (glyph, advance) = face.glyph(c);
            if glyph == 0 || subset.ids.contains_key(&glyph) {
                continue;
            }
            let Ok(old) = u16::try_from(glyph) else {
                continue;
            };
            let id = remapper.remap(old);
            subset.ids.insert(glyph, id);
            subset.widths.push(advance * 1000.0);
            subset.chars.push(Some(c));
        }
        let program = subsetter::subset(&face.data, face.index, &remapper)
            .map_err(|e| PdfError::Write(format!("subsetting the font: {e}")))?;
        subset.program = deflate(&program);
        // The tag names the glyph set, as PDF readers expect of subsets.
        let glyph_set: String = subset.chars.iter().flatten().collect();
        let digest = ring::digest::digest(&ring::digest::SHA256, glyph_set.as_bytes());
        let tag: String = digest.as_ref()[..6]
            .iter()
            .map(|b| char::from(b'A' + b % 26))
            .collect();
        subset.base_font = format!("{tag}+{}", face.name);
        Ok(subset)
    }

    /// Writes the font's objects, from `first` on (five references), into `chunk`.
    fn write(&self, face: &Face, chunk: &mut Chunk, first: Ref) {
        let [font, cid, descriptor, program, cmap] =
            std::array::from_fn(|i| Ref::new(first.get() + i as i32));
        let system = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        chunk
            .type0_font(font)
            .base_font(Name(self.base_font.as_bytes()))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);
        let mut cid_font = chunk.cid_font(cid);
        cid_font
            .subtype(CidFontType::Type2)
            .base_font(Name(self.base_font.as_bytes()))
            .system_info(system)
            .font_descriptor(descriptor)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid_font
            .widths()
            .consecutive(0, self.widths.iter().copied());
        cid_font.finish();
        chunk
            .font_descriptor(descriptor)
            .name(Name(self.base_font.as_bytes()))
            .flags(FontFlags::SYMBOLIC)
            .bbox(face.bbox)
            .italic_angle(0.0)
            .ascent(face.ascent)
            .descent(face.descent)
            .cap_height(face.ascent)
            .stem_v(80.0)
            .font_file2(program);
        chunk
            .stream(program, &self.program)
            .filter(Filter::FlateDecode);
        let mut unicode = UnicodeCmap::new(Name(b"Custom"), system);
        for (id, c) in self.chars.iter().enumerate() {
            if let (Ok(id), Some(c)) = (u16::try_from(id), c) {
                unicode.pair(id, *c);
            }
        }
        let unicode = unicode.finish();
        chunk
            .cmap(cmap, &unicode)
            .name(Name(b"Custom"))
            .system_info(system);
    }
}

/// Deflates (zlib) `data` for a `FlateDecode` stream.
fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    // Writing to memory cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
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

/// Fixed object numbers: the catalog, the page tree, the document information, the
/// watermark's graphics state, the shared subset (five), the document's own subset
/// (five); pages follow.
const CATALOG: Ref = Ref::new(1);
const PAGE_TREE: Ref = Ref::new(2);
const INFO: Ref = Ref::new(3);
const WATERMARK_STATE: Ref = Ref::new(4);
const SHARED_FONT: Ref = Ref::new(5);
const OWN_FONT: Ref = Ref::new(10);
const FIRST_PAGE: i32 = 15;

/// PDF's y runs up from the bottom of the page; the layout's runs down from the top.
fn up(y: f32) -> f32 {
    PAGE.1 - y
}

fn grey(level: u8) -> f32 {
    f32::from(level) / 255.0
}

/// Shows `text` with its baseline starting at (`x`, `y`) in PDF coordinates, each
/// character from the shared subset when it is there, else the document's own.
fn show(
    content: &mut Content,
    face: &Face,
    own: Option<&Subset>,
    (x, y): (f32, f32),
    size: f32,
    text: &str,
) {
    content.begin_text();
    content.next_line(x, y);
    let mut current: Option<&'static str> = None;
    let mut run: Vec<u8> = Vec::with_capacity(text.len() * 2);
    for c in text.chars() {
        let glyph = face.glyph(c).0;
        // A character in neither subset is drawn as the missing glyph (0).
        let (resource, id) = [Some(&face.shared), own]
            .into_iter()
            .flatten()
            .find_map(|subset| subset.ids.get(&glyph).map(|id| (subset.resource, *id)))
            .unwrap_or((face.shared.resource, 0));
        if current != Some(resource) {
            if !run.is_empty() {
                content.show(Str(&run));
                run.clear();
            }
            content.set_font(Name(resource.as_bytes()), size);
            current = Some(resource);
        }
        run.extend(id.to_be_bytes());
    }
    if !run.is_empty() {
        content.show(Str(&run));
    }
    content.end_text();
}

fn draw_qr(content: &mut Content, x: f32, y: f32, module: f32, payload: &str) {
    let Some(code) = crate::qr::encode(payload) else {
        return;
    };
    content.set_fill_gray(0.0);
    for (col, row) in code.dark_modules() {
        let (col, row) = (col as f32, row as f32);
        content.rect(
            x + col * module,
            up(y + (row + 1.0) * module),
            module,
            module,
        );
    }
    content.fill_nonzero();
}

/// The watermark: the requester and the time, large, light and diagonal, under the text.
fn draw_watermark(content: &mut Content, face: &Face, own: Option<&Subset>, text: &str) {
    let size = 26.0;
    let (cx, cy) = (PAGE.0 / 2.0, PAGE.1 / 2.0);
    let (sin, cos) = 30f32.to_radians().sin_cos();
    let width = face.width(text, size);
    for dy in [-260.0, 0.0, 260.0] {
        // Turned 30° anticlockwise about the centre of its line.
        let (px, py) = (cx, up(cy + dy));
        content.save_state();
        content.set_parameters(Name(b"W"));
        content.set_fill_gray(grey(150));
        content.transform([
            cos,
            sin,
            -sin,
            cos,
            px - px * cos + py * sin,
            py - px * sin - py * cos,
        ]);
        show(
            content,
            face,
            own,
            (cx - width / 2.0, up(cy + dy + size * 0.35)),
            size,
            text,
        );
        content.restore_state();
    }
}

/// The characters of `texts` that the shared subset lacks, each glyph once: what the
/// document's own subset holds.
fn own_characters<'a>(face: &Face, texts: impl Iterator<Item = &'a str>) -> String {
    let mut own = String::new();
    let mut glyphs = std::collections::HashSet::new();
    for c in texts.flat_map(str::chars) {
        let glyph = face.glyph(c).0;
        if glyph != 0 && !face.shared.ids.contains_key(&glyph) && glyphs.insert(glyph) {
            own.push(c);
        }
    }
    own
}

fn render(
    face: &Face,
    pages: Vec<Vec<Op>>,
    title: &str,
    watermark: &str,
    footer: impl Fn(usize, usize) -> String,
) -> Result<Vec<u8>, PdfError> {
    let total = pages.len();
    let footers: Vec<String> = (1..=total).map(|n| footer(n, total)).collect();
    let texts = pages
        .iter()
        .flatten()
        .filter_map(|op| match op {
            Op::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .chain(footers.iter().map(String::as_str))
        .chain([watermark]);
    let own_text = own_characters(face, texts);
    let own = if own_text.is_empty() {
        None
    } else {
        Some(Subset::new(face, own_text.chars(), "D")?)
    };

    let mut pdf = Pdf::new();
    pdf.extend(&face.shared_objects);
    if let Some(own) = &own {
        own.write(face, &mut pdf, OWN_FONT);
    }
    pdf.ext_graphics(WATERMARK_STATE).non_stroking_alpha(0.22);
    let page_refs: Vec<(Ref, Ref)> = (0..total as i32)
        .map(|n| {
            (
                Ref::new(FIRST_PAGE + 2 * n),
                Ref::new(FIRST_PAGE + 2 * n + 1),
            )
        })
        .collect();
    pdf.catalog(CATALOG).pages(PAGE_TREE).lang(TextStr("zh-CN"));
    pdf.document_info(INFO)
        .title(TextStr(title))
        .creator(TextStr("creditpool"));
    pdf.pages(PAGE_TREE)
        .kids(page_refs.iter().map(|(page, _)| *page))
        .count(total as i32);
    for ((ops, footer), (page_ref, content_ref)) in pages.into_iter().zip(&footers).zip(&page_refs)
    {
        let mut content = Content::new();
        draw_watermark(&mut content, face, own.as_ref(), watermark);
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    text,
                    grey: level,
                } => {
                    content.set_fill_gray(grey(level));
                    show(&mut content, face, own.as_ref(), (x, up(y)), size, &text);
                }
                Op::Band { x, y, w, h } => {
                    content.set_fill_gray(grey(232));
                    content.rect(x, up(y + h), w, h);
                    content.fill_nonzero();
                }
                Op::Rule { y, width } => {
                    content.set_stroke_gray(grey(160));
                    content.set_line_width(width);
                    content.move_to(MARGIN, up(y));
                    content.line_to(PAGE.0 - MARGIN, up(y));
                    content.stroke();
                }
                Op::Qr {
                    x,
                    y,
                    module,
                    payload,
                } => draw_qr(&mut content, x, y, module, &payload),
            }
        }
        let size = 8.5;
        let x = (PAGE.0 - face.width(footer, size)) / 2.0;
        content.set_fill_gray(grey(90));
        show(
            &mut content,
            face,
            own.as_ref(),
            (x, up(PAGE.1 - 32.0)),
            size,
            footer,
        );
        pdf.stream(*content_ref, &content.finish());
        let mut page = pdf.page(*page_ref);
        page.media_box(Rect::new(0.0, 0.0, PAGE.0, PAGE.1))
            .parent(PAGE_TREE)
            .contents(*content_ref);
        let mut resources = page.resources();
        let mut fonts = resources.fonts();
        fonts.pair(Name(face.shared.resource.as_bytes()), SHARED_FONT);
        if let Some(own) = &own {
            fonts.pair(Name(own.resource.as_bytes()), OWN_FONT);
        }
        fonts.finish();
        resources.ext_g_states().pair(Name(b"W"), WATERMARK_STATE);
    }
    Ok(pdf.finish())
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
            for (label, value) in crate::report::readable_fields(record) {
                pages.field(&label, &value, 10.0);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_documents_own_subset_holds_only_what_the_shared_one_lacks() {
        let face = Face::load(DEFAULT_FONT, 0).expect("the font scripts/setup installs");
        // Every fixed word is shared: a document of them alone needs no subset of its own.
        assert_eq!(
            own_characters(&face, [vocabulary().as_str()].into_iter()),
            ""
        );
        for word in [
            "报告编号",
            "行政处罚",
            "异议处理中",
            "第 3 页 / 共 4 页",
            "0123 ABC",
        ] {
            assert_eq!(own_characters(&face, [word].into_iter()), "", "{word}");
        }
        // Names are the document's own, each character once.
        assert_eq!(
            own_characters(&face, ["报告：馨蕊馨", "蕊"].into_iter()),
            "馨蕊"
        );
    }
}
