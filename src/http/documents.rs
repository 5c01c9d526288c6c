//! Which GraphQL document a request runs, when it names one by hash: automatic persisted
//! queries (Apollo's protocol) by default, or only an operator-approved list of trusted
//! documents.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::error::Code;

/// Documents the automatic cache keeps at most.
const APQ_MAX_ENTRIES: usize = 1000;
/// Bytes of documents the automatic cache keeps at most, so hostile registrations cannot
/// grow memory without bound.
const APQ_MAX_BYTES: usize = 16 * 1024 * 1024;

/// Where documents named by hash come from.
pub enum Documents {
    /// Clients register documents by sending them once with their hash.
    Automatic(Mutex<BoundedCache>),
    /// Only these documents (by lowercase hex SHA-256) run; nothing else does.
    Trusted(HashMap<String, String>),
}

/// Why a request's document cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Neither a document nor a hash.
    Missing,
    /// A hash we do not know: clients following the protocol resend with the document.
    NotFound,
    /// The document's SHA-256 is not the hash sent with it.
    HashMismatch,
    /// Trusted-documents mode, and this document is not on the list.
    NotTrusted,
    /// A persisted-query version other than 1.
    UnsupportedVersion,
}

impl Refusal {
    /// What the client reads. `PersistedQueryNotFound` is the exact text Apollo Client and
    /// urql look for before resending the full document.
    pub fn message(&self) -> &'static str {
        match self {
            Refusal::Missing => "the request has no `query` (and no persisted query hash)",
            Refusal::NotFound => "PersistedQueryNotFound",
            Refusal::HashMismatch => "the persisted query hash is not the SHA-256 of `query`",
            Refusal::NotTrusted => {
                "this server only runs trusted documents, and this document is not one of them"
            }
            Refusal::UnsupportedVersion => "only persistedQuery version 1 is supported",
        }
    }

    /// The `extensions.code` of the error.
    pub fn code(&self) -> Code {
        match self {
            Refusal::Missing | Refusal::UnsupportedVersion => Code::BadRequest,
            Refusal::NotFound => Code::PersistedQueryNotFound,
            Refusal::HashMismatch => Code::PersistedQueryHashMismatch,
            Refusal::NotTrusted => Code::PersistedQueryNotTrusted,
        }
    }
}

impl Default for Documents {
    fn default() -> Self {
        Documents::Automatic(Mutex::default())
    }
}

impl Documents {
    /// Trusted-documents mode over a map of hash -> document. Keys may carry the
    /// `sha256:` prefix some client tooling writes.
    pub fn trusted(documents: HashMap<String, String>) -> Self {
        let documents = documents
            .into_iter()
            .map(|(hash, document)| (normalise_hash(&hash), document))
            .collect();
        Documents::Trusted(documents)
    }

    /// Whether only listed documents may run.
    pub fn is_trusted(&self) -> bool {
        matches!(self, Documents::Trusted(_))
    }

    /// The document to run for a request carrying `query` and/or `hash`.
    pub fn resolve(&self, query: Option<String>, hash: Option<&str>) -> Result<String, Refusal> {
        let hash = hash.map(normalise_hash);
        match (self, query, hash) {
            (_, None, None) => Err(Refusal::Missing),
            (_, Some(query), Some(hash)) if sha256_hex(&query) != hash => {
                Err(Refusal::HashMismatch)
            }
            (Documents::Trusted(documents), query, hash) => {
                let hash =
                    hash.unwrap_or_else(|| query.as_deref().map(sha256_hex).unwrap_or_default());
                documents.get(&hash).cloned().ok_or(Refusal::NotTrusted)
            }
            (Documents::Automatic(_), Some(query), None) => Ok(query),
            (Documents::Automatic(cache), Some(query), Some(hash)) => {
                lock(cache).insert(hash, query.clone());
                Ok(query)
            }
            (Documents::Automatic(cache), None, Some(hash)) => {
                lock(cache).get(&hash).ok_or(Refusal::NotFound)
            }
        }
    }
}

fn lock(cache: &Mutex<BoundedCache>) -> std::sync::MutexGuard<'_, BoundedCache> {
    // The cache holds plain strings; a panic elsewhere cannot leave it half-updated.
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The lowercase hex SHA-256 of `text`, as persisted-query hashes are written.
pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn normalise_hash(hash: &str) -> String {
    hash.strip_prefix("sha256:")
        .unwrap_or(hash)
        .to_ascii_lowercase()
}

/// Documents by hash, forgetting the oldest registrations first once full.
#[derive(Default)]
pub struct BoundedCache {
    documents: HashMap<String, String>,
    order: VecDeque<String>,
    bytes: usize,
}

impl BoundedCache {
    fn get(&self, hash: &str) -> Option<String> {
        self.documents.get(hash).cloned()
    }

    fn insert(&mut self, hash: String, document: String) {
        if self.documents.contains_key(&hash) {
            return;
        }
        self.bytes += document.len();
        self.order.push_back(hash.clone());
        self.documents.insert(hash, document);
        while self.order.len() > APQ_MAX_ENTRIES || self.bytes > APQ_MAX_BYTES {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(evicted) = self.documents.remove(&oldest) {
                self.bytes -= evicted.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str = "{ authors { totalCount } }";

    #[test]
    fn automatic_documents_register_then_hit() {
        let documents = Documents::default();
        let hash = sha256_hex(QUERY);
        assert_eq!(documents.resolve(None, Some(&hash)), Err(Refusal::NotFound));
        assert_eq!(
            documents
                .resolve(Some(QUERY.into()), Some(&hash))
                .as_deref(),
            Ok(QUERY)
        );
        assert_eq!(documents.resolve(None, Some(&hash)).as_deref(), Ok(QUERY));
        assert_eq!(
            documents.resolve(Some("{ x }".into()), Some(&hash)),
            Err(Refusal::HashMismatch)
        );
    }

    #[test]
    fn trusted_documents_run_only_what_is_listed() {
        let hash = sha256_hex(QUERY);
        let documents = Documents::trusted(HashMap::from([(
            format!("sha256:{hash}"),
            QUERY.to_owned(),
        )]));
        assert_eq!(documents.resolve(None, Some(&hash)).as_deref(), Ok(QUERY));
        assert_eq!(
            documents.resolve(Some(QUERY.into()), None).as_deref(),
            Ok(QUERY)
        );
        assert_eq!(
            documents.resolve(Some("{ x }".into()), None),
            Err(Refusal::NotTrusted)
        );
        assert_eq!(
            documents.resolve(None, Some("00")),
            Err(Refusal::NotTrusted)
        );
    }

    #[test]
    fn the_cache_forgets_the_oldest_beyond_its_bound() {
        let mut cache = BoundedCache::default();
        for n in 0..=APQ_MAX_ENTRIES {
            cache.insert(n.to_string(), format!("{{ n{n} }}"));
        }
        assert_eq!(cache.get("0"), None);
        assert_eq!(cache.get("1").as_deref(), Some("{ n1 }"));
        assert_eq!(cache.documents.len(), APQ_MAX_ENTRIES);
    }
}
