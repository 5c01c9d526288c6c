//! Database URLs as messages and logs may show them: without their passwords.

/// `url` with its password, if any, replaced by `***`, fit for messages and logs: the
/// password of the authority and any `password` query parameter. A URL that does not parse
/// might hide a password anywhere, so it is not shown at all.
pub(super) fn without_password(url: &str) -> String {
    if url.starts_with("sqlite:") {
        return url.to_owned();
    }
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(a database URL that does not parse)".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    let is_password = |key: &str| key.eq_ignore_ascii_case("password");
    if parsed.query_pairs().any(|(key, _)| is_password(&key)) {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if is_password(&key) {
                    "***".into()
                } else {
                    value
                };
                (key.into_owned(), value.into_owned())
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            without_password("postgres://app:s3cr%40t:x@db.internal:5432/books?sslmode=require"),
            "postgres://app:***@db.internal:5432/books?sslmode=require"
        );
        assert_eq!(
            without_password("postgres://app@db/books?sslmode=require&password=s3cret"),
            "postgres://app@db/books?sslmode=require&password=***"
        );
        for unparseable in [
            "postgres://app:pa/ss@db/books",
            "host=db user=app password=s3cret",
        ] {
            let shown = without_password(unparseable);
            assert!(
                !shown.contains("ss") && !shown.contains("s3cret"),
                "{shown}"
            );
        }
        assert_eq!(
            without_password("postgres://app@db/books"),
            "postgres://app@db/books"
        );
        assert_eq!(
            without_password("sqlite:data/bookgraph.db"),
            "sqlite:data/bookgraph.db"
        );
    }
}
