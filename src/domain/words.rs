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
