//! Client-facing identifiers: `ID` arguments, opaque cursors and `first` limits, each
//! parsed here into what the data layer takes, or refused as `BAD_USER_INPUT`.

use async_graphql::ID;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::config::MAX_PAGE_SIZE;
use crate::db::pages::SortKey;
use crate::error::{Error, Result};

/// The database key an `ID` names. "3" and the literal 3 both name key 3; anything that is
/// not an integer in the one spelling [`to_id`] gives is refused: "+3", "03" and " 3" would
/// otherwise name key 3 too, so one row would have many ids and clients comparing ids (or
/// caching by them) would see distinct rows. A well-formed id that names nothing is the
/// caller's `None`.
pub fn parse_id(argument: &str, id: &ID) -> Result<i64> {
    id.parse()
        .ok()
        .filter(|key: &i64| key.to_string() == id.as_str())
        .ok_or_else(|| Error::bad_input(argument, format!("{:?} is not a valid ID", id.as_str())))
}

/// An `ID` for a database key.
pub fn to_id(key: i64) -> ID {
    ID(key.to_string())
}

/// `first` of a nested list: absent means all of them.
pub fn nested_first(first: Option<i32>) -> Result<Option<i64>> {
    first.map(checked_first).transpose()
}

/// `first` of a connection: an explicit null falls back to the default.
pub fn page_first(first: Option<i32>, default: i32) -> Result<i64> {
    checked_first(first.unwrap_or(default))
}

fn checked_first(first: i32) -> Result<i64> {
    if (0..=MAX_PAGE_SIZE).contains(&first) {
        Ok(i64::from(first))
    } else {
        Err(Error::bad_input(
            "first",
            format!("must be between 0 and {MAX_PAGE_SIZE}, got {first}"),
        ))
    }
}

/// What a cursor carries: the list and ordering it was made for, and the sort key of the
/// row it points at.
#[derive(Serialize, Deserialize)]
struct CursorBody {
    list: String,
    key: SortKey,
}

/// The opaque cursor of a row at `key` in the list named `list`.
pub fn encode_cursor(list: &str, key: &SortKey) -> String {
    let body = CursorBody {
        list: list.to_owned(),
        key: key.clone(),
    };
    let json = serde_json::to_vec(&body).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(json)
}

/// The sort key inside `cursor`, provided it was made for the list named `list`.
pub fn decode_cursor(list: &str, cursor: &str) -> Result<SortKey> {
    let invalid = || Error::bad_input("after", format!("{cursor:?} is not a cursor of this list"));
    let json = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let body: CursorBody = serde_json::from_slice(&json).map_err(|_| invalid())?;
    if body.list == list {
        Ok(body.key)
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::pages::SortValue;

    #[test]
    fn ids_are_integers_in_strings() {
        assert_eq!(parse_id("id", &ID::from("3")).unwrap(), 3);
        assert!(parse_id("id", &ID::from("abc")).is_err());
        assert!(parse_id("id", &ID::from("")).is_err());
    }

    #[test]
    fn an_id_has_one_spelling() {
        assert_eq!(parse_id("id", &to_id(-1)).unwrap(), -1);
        for other in ["+1", "01", " 1", "1 ", "-0", "+0"] {
            assert!(parse_id("id", &ID::from(other)).is_err(), "{other:?}");
        }
    }

    #[test]
    fn a_cursor_round_trips_within_its_list_only() {
        let key = vec![SortValue::Int(4), SortValue::Text("random house".into())];
        let cursor = encode_cursor("publishers/BOOK_COUNT/DESC", &key);
        assert_eq!(
            decode_cursor("publishers/BOOK_COUNT/DESC", &cursor).unwrap(),
            key
        );
        assert!(decode_cursor("publishers/BOOK_COUNT/ASC", &cursor).is_err());
        assert!(decode_cursor("publishers/BOOK_COUNT/DESC", "not a cursor").is_err());
    }

    #[test]
    fn first_is_bounded() {
        assert_eq!(page_first(None, 20).unwrap(), 20);
        assert_eq!(nested_first(None).unwrap(), None);
        assert!(nested_first(Some(101)).is_err());
        assert!(page_first(Some(-1), 20).is_err());
    }
}
