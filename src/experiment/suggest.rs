//! Wording for users: the "did you mean" hint for a misspelt key, kind or catalog name, and
//! plain words for the type names serde puts in its messages. A leaf: the catalog reader and
//! every validator use it.

/// The closest of `options` to `word`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(word: &str, options: &[&'a str]) -> Option<&'a str> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut cur = vec![i + 1; b.len() + 1];
            for (j, cb) in b.iter().enumerate() {
                let cost = usize::from(ca != *cb);
                cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            prev = cur;
        }
        prev[b.len()]
    }
    options
        .iter()
        .map(|o| (distance(&word.to_lowercase(), o), *o))
        .filter(|(d, o)| *d <= 2.max(o.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, o)| o)
}

/// The hint for a key `written` that is not one of `options`: the kebab-case spelling when
/// that is all that is wrong, else the closest option when it is close.
pub(crate) fn key_hint(written: &str, options: &[&str]) -> Option<String> {
    let kebab = written.replace('_', "-");
    if written.contains('_') && options.contains(&kebab.as_str()) {
        return Some(format!(
            "keys are kebab-case: write `{kebab}`, not `{written}`"
        ));
    }
    did_you_mean(written, options).map(|s| format!("did you mean `{s}`?"))
}

/// `message` with serde's and Rust's type names replaced by what a user writes in TOML: no
/// message shows an internal name such as "struct ArrivalFile".
pub(crate) fn plain_types(message: &str) -> String {
    let mut out = message
        .replace(
            "data did not match any variant of untagged enum Scalar",
            "expected a number or a quoted value with its unit, such as \"30s\" or \"2/s\"",
        )
        .replace("expected i64", "expected an integer")
        .replace("expected i32", "expected an integer")
        .replace("expected u64", "expected a whole number, 0 or more")
        .replace("expected u32", "expected a whole number, 0 or more")
        .replace("expected u16", "expected a whole number, 0 or more")
        .replace("expected u8", "expected a whole number, 0 or more")
        .replace("expected usize", "expected a whole number, 0 or more")
        .replace("expected f64", "expected a number")
        .replace("expected f32", "expected a number")
        .replace("expected a boolean", "expected true or false")
        .replace("expected a sequence", "expected an array")
        .replace("expected a map", "expected a table");
    // "struct Foo", "enum Foo", "untagged enum Foo": the Rust name means nothing in a TOML file.
    for (word, plain) in [
        (
            "data did not match any variant of untagged enum ",
            "the value has none of the shapes this key accepts",
        ),
        ("internally tagged enum ", "a table with a `kind`"),
        ("struct variant ", "a table"),
        ("tuple variant ", "an array"),
        ("struct ", "a table"),
        ("enum ", "one of the accepted values"),
    ] {
        while let Some(at) = out.find(word) {
            let rest = &out[at + word.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            out.replace_range(at..at + word.len() + end, plain);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_become_the_words_a_toml_user_knows() {
        assert_eq!(
            plain_types("invalid type: string \"poisson\", expected struct ArrivalFile"),
            "invalid type: string \"poisson\", expected a table"
        );
        assert_eq!(
            plain_types("data did not match any variant of untagged enum Scalar"),
            "expected a number or a quoted value with its unit, such as \"30s\" or \"2/s\""
        );
        assert_eq!(
            plain_types("data did not match any variant of untagged enum LatencyTable"),
            "the value has none of the shapes this key accepts"
        );
        assert_eq!(
            plain_types("invalid type: integer `3`, expected a sequence"),
            "invalid type: integer `3`, expected an array"
        );
    }
}
