//! Request bytes in a log line or a denial: quoted, at most 256 bytes, anything but printable
//! ASCII escaped, so a hostile header can neither forge log lines nor flood them.

use std::fmt;

/// Request bytes, displayed safely.
pub(crate) struct Logged<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Logged<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for &b in self.0.iter().take(256) {
            write!(f, "{}", std::ascii::escape_default(b))?;
        }
        f.write_str(if self.0.len() > 256 { "\"..." } else { "\"" })
    }
}
