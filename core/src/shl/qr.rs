//! QR codes for SMART Health Links: PNG, SVG and terminal renderings.
//!
//! Design choices and trade-offs:
//!
//! - **Error correction M**, the one technical recommendation of the SHL spec: it survives
//!   some damage and glare while keeping the code small (the spec's 278-character example
//!   link is version 12, 65 × 65 modules).
//! - **Pure byte mode.** The whole link goes into a single byte segment, and the smallest
//!   version that holds it at level M is chosen. Base64url is mixed-case, so alphanumeric
//!   mode never applies; an optimiser could still split out numeric runs, which scanners
//!   read the same but which makes sizes differ from the published tables. One segment keeps
//!   the output predictable and identical to other byte-mode encoders.
//! - **Quiet zone of 4 modules** on every rendering, as ISO/IEC 18004 requires; phone cameras
//!   fail most often on codes drawn flush against other content.
//! - **PNG size is the caller's choice** through pixels per module (whole pixels keep edges
//!   crisp); it is capped at [`MAX_MODULE_PX`] so a mistaken argument cannot allocate
//!   gigabytes. SVG is resolution-independent (`shape-rendering="crispEdges"`).
//! - **Terminal output forces its colours.** Half blocks (`▀ ▄ █`) pack two module rows per
//!   text line; the output sets black ink on a bright white background with ANSI SGR codes,
//!   so the code is dark on light (what scanners expect) whatever the terminal's theme.

use image::{ImageEncoder, Luma};
use qrcode::bits::Bits;
use qrcode::{Color, EcLevel, QrCode, Version};

use super::ShlError;

/// Largest accepted pixels-per-module for [`png`].
pub const MAX_MODULE_PX: u32 = 64;
/// Width of the light border around the code, in modules.
pub const QUIET_ZONE: usize = 4;

/// ANSI SGR: black foreground on bright white background; and reset.
const INK_ON_PAPER: &str = "\x1b[30;107m";
const RESET: &str = "\x1b[0m";

/// The QR version (1–40) that [`png`], [`svg`] and [`terminal`] use for `text`.
pub fn version(text: &str) -> Result<u8, ShlError> {
    match encode(text)?.version() {
        Version::Normal(n) | Version::Micro(n) => {
            u8::try_from(n).map_err(|_| ShlError::Qr("unexpected QR version".into()))
        }
    }
}

/// A PNG (8-bit greyscale) of the code for `text`, `module_px` pixels per module
/// (1 to [`MAX_MODULE_PX`]), with a 4-module quiet zone.
pub fn png(text: &str, module_px: u32) -> Result<Vec<u8>, ShlError> {
    if !(1..=MAX_MODULE_PX).contains(&module_px) {
        return Err(ShlError::Qr(format!(
            "module_px must be between 1 and {MAX_MODULE_PX}"
        )));
    }
    let image = encode(text)?
        .render::<Luma<u8>>()
        .quiet_zone(true)
        .module_dimensions(module_px, module_px)
        .build();
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(|e| ShlError::Qr(format!("PNG encoding failed: {e}")))?;
    Ok(out)
}

/// An SVG document of the code for `text` (8 user units per module, quiet zone included).
pub fn svg(text: &str) -> Result<String, ShlError> {
    Ok(encode(text)?
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(8, 8)
        .build())
}

/// The code drawn with Unicode half blocks for a terminal, two module rows per line,
/// quiet zone included, each line wrapped in ANSI colours (black on bright white) and
/// ended by `\n`.
pub fn terminal(text: &str) -> Result<String, ShlError> {
    let code = encode(text)?;
    let width = code.width();
    let colors = code.to_colors();
    let side = width + 2 * QUIET_ZONE;
    let dark = |x: usize, y: usize| {
        let inside = |v: usize| (QUIET_ZONE..QUIET_ZONE + width).contains(&v);
        inside(x)
            && inside(y)
            && colors.get((y - QUIET_ZONE) * width + (x - QUIET_ZONE)) == Some(&Color::Dark)
    };
    let mut out = String::with_capacity(side.div_ceil(2) * (side * 3 + 16));
    for y in (0..side).step_by(2) {
        out.push_str(INK_ON_PAPER);
        for x in 0..side {
            out.push(match (dark(x, y), dark(x, y + 1)) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push_str(RESET);
        out.push('\n');
    }
    Ok(out)
}

/// The smallest QR code at level M holding `text` as one byte-mode segment.
fn encode(text: &str) -> Result<QrCode, ShlError> {
    for n in 1..=40 {
        let mut bits = Bits::new(Version::Normal(n));
        if bits.push_byte_data(text.as_bytes()).is_ok() && bits.push_terminator(EcLevel::M).is_ok()
        {
            return QrCode::with_bits(bits, EcLevel::M).map_err(|e| ShlError::Qr(e.to_string()));
        }
    }
    Err(ShlError::Qr(format!(
        "{} bytes do not fit in a QR code at error correction M",
        text.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "shlink:/eyJ1cmwiOiJodHRwczovL2Voci5leGFtcGxlLm9yZy9xci9ZOXh3a1VkdG1OOXd3b0pvTjNmZkpJaFgyVUd2Q0wxSm5sUFZOTDNrRFdNL20iLCJmbGFnIjoiTFAiLCJrZXkiOiJyeFRnWWxPYUtKUEZ0Y0VkMHFjY2VOOHdFVTRwOTRTcUF3SVdRZTZ1WDdRIiwibGFiZWwiOiJCYWNrLXRvLXNjaG9vbCBpbW11bml6YXRpb25zIGZvciBPbGl2ZXIgQnJvd24ifQ";

    /// Decodes the single QR code in a PNG: (text, version, rqrr's ECC bits: 0 = M, 1 = L).
    fn read_png(png: &[u8]) -> (String, usize, u16) {
        let image = image::load_from_memory(png).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(image);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (meta, text) = grids[0].decode().unwrap();
        (text, meta.version.0, meta.ecc_level)
    }

    #[test]
    fn v1_png_reads_back_at_level_m_version_12() {
        assert_eq!(version(V1).unwrap(), 12);
        let png = png(V1, 4).unwrap();
        let (text, version, ecc) = read_png(&png);
        assert_eq!(text, V1);
        assert_eq!((version, ecc), (12, 0));
        let image = image::load_from_memory(&png).unwrap();
        assert_eq!(image.width(), (65 + 2 * 4) * 4);
    }

    #[test]
    fn sizes_match_the_published_table() {
        let viewer = format!("https://viewer.example.org#{V1}");
        assert_eq!(version(&viewer).unwrap(), 13);
        let worst = format!("shlink:/{}", "A".repeat(430 - 8));
        assert_eq!(version(&worst).unwrap(), 16);
        assert!(matches!(version(&"a".repeat(3000)), Err(ShlError::Qr(_))));
    }

    #[test]
    fn viewer_link_round_trips_through_png() {
        let link = format!("https://viewer.example.org#{V1}");
        assert_eq!(read_png(&png(&link, 3).unwrap()).0, link);
        assert!(matches!(png(V1, 0), Err(ShlError::Qr(_))));
        assert!(matches!(png(V1, MAX_MODULE_PX + 1), Err(ShlError::Qr(_))));
    }

    #[test]
    fn fixture_png_is_readable() {
        let Some(dir) = crate::shl::fixtures() else {
            return;
        };
        let png = std::fs::read(dir.join("IPS_IG-bundle-01-shl.png")).unwrap();
        let link = std::fs::read_to_string(dir.join("IPS_IG-bundle-01-shl.txt")).unwrap();
        let (text, _, ecc) = read_png(&png);
        assert_eq!((text.as_str(), ecc), (link.trim(), 1));
    }

    #[test]
    fn svg_has_quiet_zone_and_paths() {
        let svg = svg(V1).unwrap();
        let side = (65 + 2 * QUIET_ZONE) * 8;
        assert!(
            svg.contains(&format!(r#"viewBox="0 0 {side} {side}""#)),
            "{svg}"
        );
        assert!(svg.contains("<path") && svg.ends_with("</svg>"));
    }

    #[test]
    fn terminal_output_matches_the_modules() {
        let out = terminal(V1).unwrap();
        let code = encode(V1).unwrap();
        let side = code.width() + 2 * QUIET_ZONE;
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), side.div_ceil(2));
        let mut modules = vec![vec![false; side]; lines.len() * 2];
        for (row, line) in lines.iter().enumerate() {
            let body = line
                .strip_prefix(INK_ON_PAPER)
                .unwrap()
                .strip_suffix(RESET)
                .unwrap();
            assert_eq!(body.chars().count(), side);
            for (x, c) in body.chars().enumerate() {
                modules[2 * row][x] = matches!(c, '█' | '▀');
                modules[2 * row + 1][x] = matches!(c, '█' | '▄');
            }
        }
        let colors = code.to_colors();
        for (y, row) in modules.iter().enumerate() {
            for (x, &is_dark) in row.iter().enumerate() {
                let (mx, my) = (x.wrapping_sub(QUIET_ZONE), y.wrapping_sub(QUIET_ZONE));
                let expected = mx < code.width()
                    && my < code.width()
                    && colors[my * code.width() + mx] == Color::Dark;
                assert_eq!(is_dark, expected, "module ({x}, {y})");
            }
        }
    }
}
