//! Validation of `xn--` labels (IDNA A-labels) at load: the part after `xn--` must decode as
//! Punycode (RFC 3492, section 6.2) to a label with at least one non-ASCII character. Any other
//! `xn--` label is the encoding of no internationalized name: no IDNA encoder produces it, no
//! registry issues it, and the URL Standard's host parser (UTS #46 processing) refuses a host
//! holding it. (Chromium 156 does not run IDNA on ASCII hosts: `new URL("http://xn--f.example")`
//! keeps the label.) Listing one is a typo or a wrong conversion.
//!
//! Only the decoder's checks are run: nothing is allocated, the output is only counted.

const BASE: u32 = 36;
const T_MIN: u32 = 1;
const T_MAX: u32 = 26;
const SKEW: u32 = 38;
const DAMP: u32 = 700;
const INITIAL_BIAS: u32 = 72;
const INITIAL_N: u32 = 0x80;

/// Why an `xn--` label is not a valid A-label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PunycodeError {
    /// The label is `xn--` alone.
    Empty,
    /// Not a Punycode encoding: a bad digit, a truncated number, an overflow, or a decoded value
    /// that is an ASCII character or not a Unicode scalar value.
    Invalid,
    /// It decodes, but to ASCII only: an IDNA encoder writes such a label as itself.
    AsciiOnly,
}

/// Checks one label; labels without the `xn--` prefix (any case) pass.
pub(crate) fn check_label(label: &str) -> Result<(), PunycodeError> {
    let Some(encoded) = label.get(..4).filter(|p| p.eq_ignore_ascii_case("xn--")).map(|_| &label[4..]) else {
        return Ok(());
    };
    if encoded.is_empty() {
        return Err(PunycodeError::Empty);
    }
    let bytes = encoded.as_bytes();
    // Basic code points are everything before the last delimiter; with no delimiter, none.
    let (basic, digits) = match bytes.iter().rposition(|&b| b == b'-') {
        Some(d) if d > 0 => (bytes.get(..d).unwrap_or_default(), bytes.get(d + 1..).unwrap_or_default()),
        _ => (&b""[..], bytes),
    };
    let basic_len = basic.len();
    if !basic.is_ascii() {
        return Err(PunycodeError::Invalid);
    }
    if digits.is_empty() {
        // Only basic code points (`xn--abc-` is `abc`).
        return Err(PunycodeError::AsciiOnly);
    }
    decode_count(basic_len, digits).map(|_| ()).ok_or(PunycodeError::Invalid)
}

/// RFC 3492 6.2 decoding of the generalized variable-length integers in `digits`, with every
/// failure check, counting the output instead of building it. `None` on failure.
fn decode_count(basic_len: usize, digits: &[u8]) -> Option<u32> {
    let mut out_len = u32::try_from(basic_len).ok()?;
    let mut n = INITIAL_N;
    let mut i: u32 = 0;
    let mut bias = INITIAL_BIAS;
    let mut pos = 0;
    while pos < digits.len() {
        let old_i = i;
        let mut w: u32 = 1;
        let mut k = BASE;
        loop {
            let digit = digit_value(*digits.get(pos)?)?;
            pos += 1;
            i = i.checked_add(digit.checked_mul(w)?)?;
            let t = if k <= bias {
                T_MIN
            } else if k >= bias + T_MAX {
                T_MAX
            } else {
                k - bias
            };
            if digit < t {
                break;
            }
            w = w.checked_mul(BASE - t)?;
            k = k.checked_add(BASE)?;
        }
        out_len += 1;
        bias = adapt(i - old_i, out_len, old_i == 0);
        n = n.checked_add(i / out_len)?;
        i %= out_len;
        // The value must be a Unicode scalar (n starts at 0x80 and only grows, so it is never
        // a basic code point, which RFC 3492 also requires).
        char::from_u32(n)?;
        i += 1;
    }
    Some(out_len)
}

fn adapt(delta: u32, num_points: u32, first_time: bool) -> u32 {
    let mut delta = if first_time { delta / DAMP } else { delta / 2 };
    delta += delta / num_points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + SKEW)
}

/// `a`-`z` (or `A`-`Z`) are 0-25, `0`-`9` are 26-35.
fn digit_value(b: u8) -> Option<u32> {
    match b {
        b'a'..=b'z' => Some(u32::from(b - b'a')),
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 26),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    #[test]
    fn valid_a_labels_pass() {
        for label in [
            "xn--bcher-kva",  // bücher
            "xn--80ak6aa92e", // аррӏе (the homograph of apple)
            "xn--mnchen-3ya", // münchen
            "xn--p1ai",       // рф
            "xn--fiqs8s",     // 中国
            "xn--ls8h",       // 💩 (astral plane)
            "xn--wgv71a119e", // 日本語
            "xn--n3h",        // ☃
            "xn--ngbrx",      // عربي
            "xn--d1acpjx3f.xn--p1ai",
            "XN--BCHER-KVA", // case-insensitive prefix and digits
            "example",       // not an A-label at all
            "xn-",
            "x-n--",
        ] {
            for part in label.split('.') {
                assert_eq!(check_label(part), Ok(()), "{part}");
            }
        }
        // RFC 3492 7.1 samples: (A) Arabic, (B) simplified Chinese, (L) Japanese with ASCII.
        for sample in ["egbpdaj6bu4bxfgehfvwxn", "ihqwcrb4cv8a8dqg056pqjye", "3B-ww4c5e180e575a65lsy2b"] {
            assert_eq!(check_label(&format!("xn--{sample}")), Ok(()), "{sample}");
        }
    }

    #[test]
    fn invalid_a_labels_fail_with_the_reason() {
        // RFC 3492 only: `xn--a` decodes (to U+0080), although UTS #46 then disallows it; the
        // Unicode tables that check is made with are not in the module.
        assert_eq!(check_label("xn--a"), Ok(()));
        for (label, why) in [
            ("xn--", PunycodeError::Empty),
            ("xn--abc-", PunycodeError::AsciiOnly),
            ("xn--a-", PunycodeError::AsciiOnly),
            ("xn--f", PunycodeError::Invalid), // a truncated number
            ("xn--zz", PunycodeError::Invalid),
            ("xn--bcher-", PunycodeError::AsciiOnly),
            ("xn--bcher-kv", PunycodeError::Invalid),    // truncated
            ("xn--bcher-k_a", PunycodeError::Invalid),   // not a digit
            ("xn---", PunycodeError::Invalid),           // the delimiter alone: `-` is not a digit
            ("xn--99999999999", PunycodeError::Invalid), // overflow
            ("xn--zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", PunycodeError::Invalid),
        ] {
            assert_eq!(check_label(label), Err(why), "{label}");
        }
    }

    #[test]
    fn only_unicode_scalar_values_decode() {
        // Surrogates and values beyond U+10FFFF, encoded with the encoder's own arithmetic.
        for cp in [0xD800, 0xDFFF, 0x11_0000, 0x7FFF_FFFF] {
            let encoded = encode_single(cp);
            assert_eq!(check_label(&format!("xn--{encoded}")), Err(PunycodeError::Invalid), "U+{cp:X}");
        }
        for cp in [0x80, 0xFFFD, 0x1_F4A9, 0x10_FFFF] {
            assert_eq!(check_label(&format!("xn--{}", encode_single(cp))), Ok(()), "U+{cp:X}");
        }
        let encoded = encode_single(0xE9);
        assert_eq!(encoded, "9ca", "é encodes as in every Punycode implementation");
        assert_eq!(check_label(&format!("xn--{encoded}")), Ok(()));
    }

    /// RFC 3492 6.3 encoder for a one-code-point label, to build inputs the decoder must refuse.
    fn encode_single(cp: u32) -> String {
        let mut out = String::new();
        let mut q = cp - INITIAL_N;
        let mut k = BASE;
        loop {
            let t = if k <= INITIAL_BIAS {
                T_MIN
            } else if k >= INITIAL_BIAS + T_MAX {
                T_MAX
            } else {
                k - INITIAL_BIAS
            };
            if q < t {
                break;
            }
            let d = t + (q - t) % (BASE - t);
            out.push(encode_digit(d));
            q = (q - t) / (BASE - t);
            k += BASE;
        }
        out.push(encode_digit(q));
        out
    }

    fn encode_digit(d: u32) -> char {
        if d < 26 {
            char::from(b'a' + d as u8)
        } else {
            char::from(b'0' + (d - 26) as u8)
        }
    }
}
