//! The QR code of a report's verification address (Q6), for the PDF and the page.
//!
//! Encoded with error correction level M and one fixed mask pattern. A reader finds the
//! mask in the code's format information, so any of the eight reads; the `qrcode`
//! crate's default scores all eight for the one with the fewest look-alike patterns,
//! which costs more than the rest of the encoding and matters for codes printed on
//! difficult surfaces, not for a small code on a white page.

use qrcode::EcLevel;
use qrcode::canvas::{Canvas, MaskPattern};

/// A QR code: `width` × `width` modules, row by row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Qr {
    /// Modules per side (without the quiet zone).
    pub width: usize,
    /// Whether each module is dark, row by row.
    pub dark: Vec<bool>,
}

impl Qr {
    /// The dark modules as (column, row).
    pub fn dark_modules(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.dark
            .iter()
            .enumerate()
            .filter(|(_, dark)| **dark)
            .map(|(i, _)| (i % self.width, i / self.width))
    }
}

/// The QR code of `payload`, or `None` when it is too long for any QR version.
pub fn encode(payload: &str) -> Option<Qr> {
    let level = EcLevel::M;
    let bits = qrcode::bits::encode_auto(payload.as_bytes(), level).ok()?;
    let version = bits.version();
    let (data, ec) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, level).ok()?;
    let mut canvas = Canvas::new(version, level);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(&data, &ec);
    canvas.apply_mask(MaskPattern::Checkerboard);
    Some(Qr {
        width: usize::try_from(version.width()).ok()?,
        dark: canvas
            .into_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `qr` back with an independent decoder, from a bitmap with a quiet zone.
    fn read(qr: &Qr) -> String {
        let (scale, quiet) = (4, 4);
        let side = (qr.width + 2 * quiet) * scale;
        let mut image = rqrr::PreparedImage::prepare_from_bitmap(side, side, |x, y| {
            let (col, row) = (x / scale, y / scale);
            (quiet..quiet + qr.width).contains(&col)
                && (quiet..quiet + qr.width).contains(&row)
                && qr.dark[(row - quiet) * qr.width + col - quiet]
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one code in the image");
        grids[0].decode().expect("decodes").1
    }

    #[test]
    fn a_verification_address_reads_back_exactly() {
        for payload in [
            "https://credit.example.gov.cn/api/v1/public/reports/verify?number=202611221530071234&code=K7Q2M9XR4D",
            "http://127.0.0.1:8080/api/v1/public/reports/verify?number=1&code=A",
            "短",
        ] {
            let qr = encode(payload).expect("encodes");
            assert_eq!(qr.dark.len(), qr.width * qr.width);
            assert_eq!(read(&qr), payload);
        }
    }

    #[test]
    fn a_payload_beyond_the_largest_version_is_refused() {
        assert_eq!(encode(&"x".repeat(5_000)), None);
    }
}
