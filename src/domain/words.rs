//! How p2pd counts things in sentences: "1 device", "3 packages", never
//! "device(s)". Used by every module that writes text for people.

/// "s" unless `n` is 1: `format!("{n} office{}", plural(n))`.
pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `n` and the noun, singular or plural: "1 office", "3 offices".
pub fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", plural(n))
}

/// How long ago `secs` seconds were, roughly, for people: "12 s ago",
/// "5 min ago", "3 h ago", "2 days ago"; "just now" under a second (or for
/// a time ahead of the clock).
pub fn ago(secs: i64) -> String {
    match secs {
        s if s < 1 => "just now".to_string(),
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} ago", count((s / 86_400) as usize, "day")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ago_reads_like_a_person_says_it() {
        assert_eq!(super::ago(-5), "just now");
        assert_eq!(super::ago(12), "12 s ago");
        assert_eq!(super::ago(300), "5 min ago");
        assert_eq!(super::ago(3 * 3600 + 5), "3 h ago");
        assert_eq!(super::ago(86_400), "1 day ago");
        assert_eq!(super::ago(2 * 86_400 + 1), "2 days ago");
    }
}
