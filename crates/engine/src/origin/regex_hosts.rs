//! Which origins an `allow_origin_regexes` entry can match, read from the regex itself: its
//! scheme (the literal it starts with) and its host's fixed domain (the literal it ends with,
//! before an optional port). The credential rules need both, and regex-lite has no syntax tree
//! to ask, so the pattern is read here token by token: only what can be read for certain counts
//! as fixed, anything else as "any text".

/// What one top-level alternative of a regex fixes about the origins it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegexOrigins {
    /// The scheme its literal start spells (`https`, `http`); `None` when it starts otherwise.
    pub(crate) scheme: Option<String>,
    /// How far its host is fixed.
    pub(crate) host: FixedHost,
}

/// How far a regex fixes the host of the origins it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FixedHost {
    /// Every match has exactly this host.
    Exact(String),
    /// Every match's host is a subdomain of this domain (the literal after a `\.`).
    Under(String),
    /// Nothing: the host can be anything (`.*`), or ends in text not at a label boundary.
    Unpinned,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    /// One character matched literally (lowercased: origins are).
    Literal(char),
    /// `(`, `(?:`, `(?P<name>`.
    Open,
    /// `)`.
    Close,
    /// `(?i)` and other flag groups, `^` and `$`: match no text (the regex is anchored anyway).
    Flags,
    /// `|`.
    Alternation,
    /// `?`, `*`, `+`, `{m,n}`.
    Repeat,
    /// A class or escape of digits only (`[0-9]`, `\d`): what a port can hold.
    Digits,
    /// Anything else: `.`, classes, `\w`, anchors.
    Other,
}

/// The origins each top-level alternative of `regex` (as written, before anchoring) can match.
pub(crate) fn regex_origins(regex: &str) -> Vec<RegexOrigins> {
    let tokens = tokenize(regex);
    let mut alternatives = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, t) in tokens.iter().enumerate() {
        match t {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            Token::Alternation if depth == 0 => {
                alternatives.push(alternative_origins(tokens.get(start..i).unwrap_or_default()));
                start = i + 1;
            }
            _ => {}
        }
    }
    alternatives.push(alternative_origins(tokens.get(start..).unwrap_or_default()));
    alternatives
}

fn alternative_origins(tokens: &[Token]) -> RegexOrigins {
    // Flag groups and anchors at the ends match no text.
    let start = tokens.iter().position(|t| *t != Token::Flags).unwrap_or(tokens.len());
    let end = tokens.iter().rposition(|t| *t != Token::Flags).map_or(start, |i| i + 1);
    let tokens = tokens.get(start..end.max(start)).unwrap_or_default();
    let literal_start: String = tokens.iter().map_while(literal_char).collect();
    let scheme = ["https://", "http://"]
        .into_iter()
        .find(|s| literal_start.starts_with(s))
        .map(|s| s.trim_end_matches("://").to_owned());
    // The host starts after the first literal `://`, whatever the scheme part before it is.
    let separator = [Token::Literal(':'), Token::Literal('/'), Token::Literal('/')];
    let Some(scheme_len) = tokens.windows(3).position(|w| w == separator).map(|i| i + 3) else {
        return RegexOrigins { scheme, host: FixedHost::Unpinned };
    };
    let rest = tokens.get(scheme_len..).unwrap_or_default();
    let host_end = port_start(rest).unwrap_or(rest.len());
    let host = rest.get(..host_end).unwrap_or_default();
    RegexOrigins { scheme, host: fixed_host(host) }
}

/// Where a trailing port part starts: a `:` (or a group opening on one) after which only
/// digits, repeats and groups follow. `None` when there is none.
fn port_start(tokens: &[Token]) -> Option<usize> {
    let colon = tokens.iter().rposition(|t| *t == Token::Literal(':'))?;
    let port_like = |t: &Token| {
        matches!(t, Token::Digits | Token::Repeat | Token::Open | Token::Close)
            || matches!(t, Token::Literal(c) if c.is_ascii_digit())
    };
    if !tokens.get(colon + 1..)?.iter().all(port_like) {
        return None;
    }
    // `(:[0-9]+)?`: the group opens just before the colon.
    let start = if colon > 0 && tokens.get(colon - 1) == Some(&Token::Open) { colon - 1 } else { colon };
    Some(start)
}

fn fixed_host(tokens: &[Token]) -> FixedHost {
    let literal_len = tokens.iter().rev().take_while(|t| matches!(t, Token::Literal(_))).count();
    let split = tokens.len() - literal_len;
    let literal: String = tokens.get(split..).unwrap_or_default().iter().filter_map(literal_char).collect();
    if split == 0 {
        return if literal.is_empty() { FixedHost::Unpinned } else { FixedHost::Exact(literal) };
    }
    if let Some(domain) = literal.strip_prefix('.') {
        return under(domain);
    }
    // `([a-z]+\.)?example\.com`: the text before is a group that ends in a literal dot.
    let before = tokens.get(..split).unwrap_or_default();
    let group_end = match before {
        [.., Token::Close, Token::Repeat] => before.len() - 2,
        [.., Token::Close] => before.len() - 1,
        _ => return FixedHost::Unpinned,
    };
    match group_end.checked_sub(1).and_then(|i| before.get(i)) {
        Some(Token::Literal('.')) => under(&literal),
        _ => FixedHost::Unpinned,
    }
}

fn under(domain: &str) -> FixedHost {
    if domain.is_empty() || domain.starts_with('.') {
        FixedHost::Unpinned
    } else {
        FixedHost::Under(domain.to_owned())
    }
}

fn literal_char(t: &Token) -> Option<char> {
    match t {
        Token::Literal(c) => Some(*c),
        _ => None,
    }
}

/// regex-lite's syntax, as far as the host rules need it. Unknown constructs are `Other`
/// (never literal), so a misread can only make a regex look less fixed than it is.
fn tokenize(regex: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = regex.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            '\\' => match chars.next() {
                Some('d') => Token::Digits,
                Some(e) if e.is_ascii_punctuation() => Token::Literal(e),
                _ => Token::Other,
            },
            '[' => class(&mut chars),
            '(' if chars.peek() == Some(&'?') => {
                chars.next();
                if matches!(chars.peek(), Some('P' | '<')) {
                    // A named group: `(?P<name>` or `(?<name>`.
                    for g in chars.by_ref() {
                        if g == '>' {
                            break;
                        }
                    }
                    Token::Open
                } else {
                    // Flags: `(?i)` sets them, `(?i:` opens a group with them.
                    let mut end = None;
                    for g in chars.by_ref() {
                        if g == ')' || g == ':' {
                            end = Some(g);
                            break;
                        }
                    }
                    if end == Some(')') {
                        Token::Flags
                    } else {
                        Token::Open
                    }
                }
            }
            '(' => Token::Open,
            ')' => Token::Close,
            '|' => Token::Alternation,
            '?' | '*' | '+' => Token::Repeat,
            '{' => {
                for g in chars.by_ref() {
                    if g == '}' {
                        break;
                    }
                }
                Token::Repeat
            }
            '^' | '$' => Token::Flags,
            '.' => Token::Other,
            c if c.is_ascii_alphanumeric() || c == '-' || c == ':' || c == '/' => {
                Token::Literal(c.to_ascii_lowercase())
            }
            _ => Token::Other,
        };
        tokens.push(token);
    }
    tokens
}

/// A bracketed class, read to its end: `Digits` when it holds only digits and ranges of them.
fn class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Token {
    let mut depth = 1;
    let mut digits_only = true;
    let mut first = true;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                digits_only &= chars.next() == Some('d');
            }
            '[' => {
                depth += 1;
                digits_only = false;
            }
            ']' if !first => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            '0'..='9' | '-' => {}
            _ => digits_only = false,
        }
        first = false;
    }
    if digits_only {
        Token::Digits
    } else {
        Token::Other
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn one(regex: &str) -> (Option<&'static str>, FixedHost) {
        let mut all = regex_origins(regex);
        assert_eq!(all.len(), 1, "{regex}");
        let o = all.remove(0);
        let scheme = match o.scheme.as_deref() {
            Some("https") => Some("https"),
            Some("http") => Some("http"),
            _ => None,
        };
        (scheme, o.host)
    }

    fn under(d: &str) -> FixedHost {
        FixedHost::Under(d.into())
    }

    #[test]
    fn fixed_domains_are_read() {
        let cases: &[(&str, Option<&str>, FixedHost)] = &[
            (r"https://[a-z0-9-]+\.example\.com", Some("https"), under("example.com")),
            (r"https://pr-[0-9]+\.preview\.example\.com", Some("https"), under("preview.example.com")),
            (r"^https://[a-z]+\.Example\.com$", Some("https"), under("example.com")),
            (r"(?i)https://[a-z]+\.example\.com", Some("https"), under("example.com")),
            (r"https://([a-z0-9-]+\.)*example\.com", Some("https"), under("example.com")),
            (r"https://([a-z0-9-]+\.)?example\.com", Some("https"), under("example.com")),
            (r"https://(?:a|b)\.example\.com:8443", Some("https"), under("example.com")),
            (r"https://[a-z]+\.example\.com(:[0-9]+)?", Some("https"), under("example.com")),
            (r"https://[a-z]+\.example\.com(?::\d{2,5})?", Some("https"), under("example.com")),
            (r"https://app\.example\.com", Some("https"), FixedHost::Exact("app.example.com".into())),
            (r"http://localhost:[0-9]+", Some("http"), FixedHost::Exact("localhost".into())),
            (r"https://[a-z0-9-]+\.github\.io", Some("https"), under("github.io")),
        ];
        for (regex, scheme, host) in cases {
            assert_eq!(one(regex), (*scheme, host.clone()), "{regex}");
        }
    }

    #[test]
    fn unpinned_hosts_and_schemes() {
        let cases: &[(&str, Option<&str>)] = &[
            (".*", None),
            (r"https://.*", Some("https")),
            (r"https://.*example\.com", Some("https")),
            (r"https://[a-z]+example\.com", Some("https")),
            (r"https://[a-z]+\.example\.com.*", Some("https")),
            (r"https://[a-z]+\.example\.com(:[0-9]+|\.evil\.net)?", Some("https")),
            (r"https://[a-z]+\.example\.[a-z]+", Some("https")),
            (r"https://[a-z]+\.example\.com\w", Some("https")),
            (r"https://(a\.)?[a-z.]+", Some("https")),
        ];
        for (regex, scheme) in cases {
            let got = one(regex);
            assert_eq!(got.1, FixedHost::Unpinned, "{regex}");
            assert_eq!(got.0, *scheme, "{regex}");
        }
    }

    #[test]
    fn schemes_that_are_not_literal() {
        assert_eq!(one(r"https?://[a-z]+\.example\.com"), (None, under("example.com")));
        assert_eq!(one(r"(https|http)://[a-z]+\.example\.com"), (None, under("example.com")));
    }

    #[test]
    fn each_alternative_is_read() {
        let all = regex_origins(r"https://a\.example\.com|https://.*");
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].host, FixedHost::Unpinned);
        // Alternation inside a group is part of one alternative.
        assert_eq!(regex_origins(r"https://(a|b)\.example\.com").len(), 1);
        assert_eq!(regex_origins(r"https://(?P<n>a|b)\.example\.com").len(), 1);
        assert_eq!(regex_origins(r"https://(?P<n>a)\.example\.com|.*").len(), 2);
    }
}
