//! Wildcard matching as IAM does it: `*` matches any run of characters, `?` exactly one.
//!
//! Patterns are compiled once into tokens so evaluation does no parsing; a literal `*` or `?`
//! produced by the policy variables `${*}` and `${?}` is a [`Tok::Lit`] and matches only itself.

/// One token of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A literal character.
    Lit(char),
    /// `*`: zero or more characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Compile a pattern with no policy variables into tokens.
#[must_use]
pub fn compile(pattern: &str) -> Vec<Tok> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Tok::Star,
            '?' => Tok::One,
            c => Tok::Lit(c),
        })
        .collect()
}

fn eq(a: char, b: char, fold: bool) -> bool {
    a == b || (fold && a.eq_ignore_ascii_case(&b))
}

/// Match `text` against `pat`, optionally ASCII-case-insensitively.
///
/// Linear-time greedy algorithm with a single backtrack point (no exponential blow-up).
#[must_use]
pub fn matches(pat: &[Tok], text: &str, fold: bool) -> bool {
    // Fast path: all-literal patterns compare directly.
    let text: Vec<char> = if text.is_ascii() {
        return matches_ascii(pat, text.as_bytes(), fold);
    } else {
        text.chars().collect()
    };
    let (mut p, mut t) = (0usize, 0usize);
    let (mut star_p, mut star_t) = (usize::MAX, 0usize);
    while t < text.len() {
        match pat.get(p) {
            Some(Tok::Star) => {
                star_p = p;
                star_t = t;
                p += 1;
                continue;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
                continue;
            }
            Some(Tok::Lit(c)) if eq(*c, text[t], fold) => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        if star_p == usize::MAX {
            return false;
        }
        p = star_p + 1;
        star_t += 1;
        t = star_t;
    }
    pat[p..].iter().all(|t| *t == Tok::Star)
}

fn matches_ascii(pat: &[Tok], text: &[u8], fold: bool) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let (mut star_p, mut star_t) = (usize::MAX, 0usize);
    while t < text.len() {
        match pat.get(p) {
            Some(Tok::Star) => {
                star_p = p;
                star_t = t;
                p += 1;
                continue;
            }
            Some(Tok::One) => {
                p += 1;
                t += 1;
                continue;
            }
            Some(Tok::Lit(c)) if eq(*c, char::from(text[t]), fold) => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        if star_p == usize::MAX {
            return false;
        }
        p = star_p + 1;
        star_t += 1;
        t = star_t;
    }
    pat[p..].iter().all(|t| *t == Tok::Star)
}

/// Split token stream at the first five `:` literals: the six ARN segments.
fn arn_segments(pat: &[Tok]) -> Option<[&[Tok]; 6]> {
    let mut out: [&[Tok]; 6] = [&[]; 6];
    let mut start = 0usize;
    let mut seg = 0usize;
    for (i, t) in pat.iter().enumerate() {
        if seg == 5 {
            break;
        }
        if *t == Tok::Lit(':') {
            out[seg] = &pat[start..i];
            seg += 1;
            start = i + 1;
        }
    }
    if seg < 5 {
        return None;
    }
    out[5] = &pat[start..];
    Some(out)
}

/// Match an ARN against an ARN pattern segment by segment (wildcards in the first five segments
/// never cross a `:`; the resource segment may contain `:`). Case-sensitive, as AWS is for ARNs.
/// A pattern that is not ARN-shaped (`*`) is matched as a whole.
#[must_use]
pub fn matches_arn(pat: &[Tok], arn: &str) -> bool {
    if let [Tok::Star] = pat {
        return true;
    }
    let Some(psegs) = arn_segments(pat) else {
        // A pattern with fewer than six segments can only match a value that is not an ARN.
        return arn.matches(':').count() < 5 && matches(pat, arn, false);
    };
    let mut tsegs = arn.splitn(6, ':');
    for p in psegs {
        let Some(t) = tsegs.next() else {
            return false;
        };
        if !matches(p, t, false) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question() {
        assert!(matches(&compile("s3:Get*"), "s3:GetObject", false));
        assert!(matches(&compile("s3:get*"), "S3:GETOBJECT", true));
        assert!(!matches(&compile("s3:get*"), "s3:GetObject", false));
        assert!(matches(&compile("a?c"), "abc", false));
        assert!(!matches(&compile("a?c"), "ac", false));
        assert!(matches(&compile("*"), "", false));
        assert!(matches(&compile("a*b*c"), "aXXbYYc", false));
        assert!(!matches(&compile("a*b*c"), "aXXbYY", false));
        assert!(matches(&compile("é?"), "éx", false));
        assert!(matches(&compile("?"), "é", false));
    }

    #[test]
    fn literal_star_from_variable() {
        let pat = vec![Tok::Lit('a'), Tok::Lit('*')];
        assert!(matches(&pat, "a*", false));
        assert!(!matches(&pat, "ab", false));
    }

    #[test]
    fn arn_segments_do_not_cross_colons() {
        let p = compile("arn:aws:s3:::bucket/*");
        assert!(matches_arn(&p, "arn:aws:s3:::bucket/a/b:c"));
        assert!(!matches_arn(&p, "arn:aws:s3:::bucket2/a"));
        let p = compile("arn:aws:iam::*:role/x");
        assert!(matches_arn(&p, "arn:aws:iam::123456789012:role/x"));
        // `*` in the region segment must not swallow the account segment.
        let p = compile("arn:aws:ec2:*:role/x");
        assert!(!matches_arn(
            &p,
            "arn:aws:ec2:us-east-1:123456789012:role/x"
        ));
        assert!(matches_arn(&compile("*"), "anything"));
        assert!(!matches_arn(&compile("arn:aws:s3:::b"), "arn:aws:s3:::B"));
    }
}
