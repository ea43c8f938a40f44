//! Finds where a key path such as `endpoint.service-time.values[2]` is written in a TOML file,
//! so that errors found after parsing can still point at a line.

use toml::de::{DeTable, DeValue};

/// 1-based (line, column) of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, col)
}

/// Splits `a.b[2].c` into segments `a`, `b`, `[2]`, `c`.
fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            out.push(Segment::Key(name));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let Some(end) = stripped.find(']') else { break };
            if let Ok(i) = stripped[..end].parse() {
                out.push(Segment::Index(i));
            }
            rest = &stripped[end + 1..];
        }
    }
    out
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// The (line, column) where the deepest existing prefix of `path` is written: the key itself
/// when it exists, else its closest parent. `None` if the file does not parse.
pub fn locate(src: &str, path: &str) -> Option<(usize, usize)> {
    let doc = DeTable::parse(src).ok()?;
    let mut table: Option<&DeTable<'_>> = Some(doc.get_ref());
    let mut value: Option<&DeValue<'_>> = None;
    let mut best: Option<usize> = None;
    for seg in segments(path) {
        match seg {
            Segment::Key(k) => {
                let Some(t) = table else { break };
                let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == k) else {
                    break;
                };
                best = Some(key.span().start);
                value = Some(v.get_ref());
            }
            Segment::Index(i) => {
                let Some(DeValue::Array(items)) = value else {
                    break;
                };
                let Some(item) = items.get(i) else { break };
                best = Some(item.span().start);
                value = Some(item.get_ref());
            }
        }
        table = match value {
            Some(DeValue::Table(t)) => Some(t),
            _ => None,
        };
    }
    best.map(|offset| line_col(src, offset))
}

/// The (line, column) where the key chain `keys` is written, each entry one literal key (so a
/// quoted key such as `"classes[0].share"` is one entry), or where its deepest existing prefix is.
pub fn locate_keys(src: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let doc = DeTable::parse(src).ok()?;
    let mut table: Option<&DeTable<'_>> = Some(doc.get_ref());
    let mut best: Option<usize> = None;
    for k in keys {
        let Some(t) = table else { break };
        let Some((key, v)) = t.iter().find(|(key, _)| key.get_ref().as_ref() == *k) else {
            break;
        };
        best = Some(key.span().start);
        table = match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => None,
        };
    }
    best.map(|offset| line_col(src, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "name = \"x\"\n\n[endpoint]\nservers = 4\nservice-time = { kind = \"empirical\", values = [\"1s\",\n  \"2s\"] }\n";

    #[test]
    fn finds_keys_in_tables_and_inline_tables() {
        assert_eq!(locate(SRC, "name"), Some((1, 1)));
        assert_eq!(locate(SRC, "endpoint.servers"), Some((4, 1)));
        assert_eq!(locate(SRC, "endpoint.service-time.kind"), Some((5, 18)));
        assert_eq!(locate(SRC, "endpoint.service-time.values[1]"), Some((6, 3)));
    }

    #[test]
    fn falls_back_to_the_closest_parent() {
        assert_eq!(locate(SRC, "endpoint.queue-timeout"), Some((3, 2)));
        assert_eq!(locate(SRC, "nothing.here"), None);
    }

    #[test]
    fn literal_key_chains_find_quoted_keys_with_dots_and_brackets() {
        let src =
            "[sweep]\nmode = \"zip\"\n\"classes[0].share\" = [0.1]\n\"classes[1]\".share = [0.2]\n";
        assert_eq!(
            locate_keys(src, &["sweep", "classes[0].share"]),
            Some((3, 1))
        );
        assert_eq!(
            locate_keys(src, &["sweep", "classes[1]", "share"]),
            Some((4, 14))
        );
        assert_eq!(locate_keys(src, &["sweep", "nothing"]), Some((1, 2)));
    }
}
